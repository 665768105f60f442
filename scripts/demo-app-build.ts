/**
 * Builds the demo app into demo-app/out/ (or --out DIR) the way an Electron app's build does, with
 * esbuild (what Vite and electron-vite use underneath):
 * - `main.js`: src/main.ts and everything it imports, @tufup/electron-client included, in one ES module;
 *   only `electron` stays external. No file is copied next to it: the client carries its worker and
 *   installer scripts inside its JavaScript.
 * - `preload.cjs`: src/preload.ts and the client's preload code in one CommonJS script, because a
 *   sandboxed preload can only `require('electron')` (no ESM, no other files, no packages).
 *
 *   node_modules/.bin/node scripts/demo-app-build.ts [--out DIR]      # after `npm run build`
 *   node_modules/.bin/node scripts/demo-app-build.ts --preload FILE   # only bundle the preload, into FILE
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Format } from 'esbuild';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The demo app's folder. */
export const DEMO_APP = join(ROOT, 'demo-app');

/** Writes `text` to `path` through a temporary file and a rename, so readers never see half a file. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  try {
    await writeFile(partial, text);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
}

/** Bundles `entry` and everything it imports but `electron` into one file of `format`. */
async function bundle(entry: string, format: Format, out: string): Promise<void> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format,
    target: 'node22',
    external: ['electron'],
    banner: { js: `// Bundled by scripts/demo-app-build.ts from ${relative(ROOT, entry)}; do not edit.` },
    logLevel: 'warning',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error(`esbuild wrote nothing for ${entry}`);
  await writeAtomic(out, output.text);
}

/** Bundles the demo app's preload script into the file `out`. */
export async function bundlePreload(out: string): Promise<void> {
  await bundle(join(DEMO_APP, 'src', 'preload.ts'), 'cjs', out);
}

/** Builds the demo app's `main.js` and `preload.cjs` into `outDir` (default demo-app/out/, where `electron demo-app` looks). */
export async function buildDemoApp(outDir: string = join(DEMO_APP, 'out')): Promise<void> {
  await bundle(join(DEMO_APP, 'src', 'main.ts'), 'esm', join(outDir, 'main.js'));
  await bundlePreload(join(outDir, 'preload.cjs'));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const option = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const preload = option('--preload');
  if (preload !== undefined) {
    await bundlePreload(resolve(preload));
    console.log(`bundled the preload into ${preload}`);
  } else {
    const outDir = resolve(option('--out') ?? join(DEMO_APP, 'out'));
    await buildDemoApp(outDir);
    console.log(`built ${relative(process.cwd(), outDir) || '.'}/main.js and preload.cjs`);
  }
}
