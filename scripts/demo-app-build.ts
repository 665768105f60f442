/**
 * Builds the demo app into demo-app/out/ (or --out DIR): `main.js`, and `preload.cjs`, the preload script
 * bundled into one CommonJS file, because a sandboxed preload can only `require('electron')` (no ESM, no
 * other files, no packages). The bundler is deliberately tiny: it transpiles each module with the
 * TypeScript compiler API and links them in a module table; it handles static imports and re-exports,
 * which is all the preload code uses.
 *
 *   node_modules/.bin/node scripts/demo-app-build.ts [--out DIR]      # after `npm run build`
 *   node_modules/.bin/node scripts/demo-app-build.ts --preload FILE   # only bundle the preload, into FILE
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The demo app's folder. */
export const DEMO_APP = join(ROOT, 'demo-app');
/** Modules the bundle leaves to the preload's own `require`: the only one a sandboxed preload has. */
const EXTERNAL = new Set(['electron']);

interface Module {
  id: string;
  code: string;
  /** Specifier in this module -> id of the module it names. */
  links: Map<string, string>;
}

/** Bundles `entry` and what it imports (except {@link EXTERNAL}) into one CommonJS script. */
export async function bundleCommonJs(entry: string): Promise<string> {
  const modules = new Map<string, Module>();
  const base = dirname(entry);
  const visit = async (file: string): Promise<string> => {
    const id = relative(base, file).split('\\').join('/');
    if (modules.has(id)) return id;
    const source = await readFile(file, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false, esModuleInterop: false },
    });
    // Source maps point at files the bundle does not ship.
    const code = outputText.replace(/^\/\/# sourceMappingURL=.*$/gm, '');
    const module: Module = { id, code, links: new Map() };
    modules.set(id, module);
    const require = createRequire(file);
    for (const [, specifier = ''] of code.matchAll(/\brequire\("([^"]+)"\)/g)) {
      if (EXTERNAL.has(specifier) || module.links.has(specifier)) continue;
      module.links.set(specifier, await visit(require.resolve(specifier)));
    }
    return id;
  };
  const entryId = await visit(entry);
  const table = [...modules.values()]
    .map((m) => `  ${JSON.stringify(m.id)}: [${JSON.stringify(Object.fromEntries(m.links))}, function (exports, require, module) {\n${m.code}\n  }],`)
    .join('\n');
  return `'use strict';
// Bundled by scripts/demo-app-build.ts from ${relative(ROOT, entry)}; do not edit.
(() => {
const modules = {
${table}
};
const cache = {};
const load = (id) => {
  if (cache[id] !== undefined) return cache[id].exports;
  const [links, factory] = modules[id];
  const module = (cache[id] = { exports: {} });
  factory(module.exports, (specifier) => (specifier in links ? load(links[specifier]) : require(specifier)), module);
  return module.exports;
};
load(${JSON.stringify(entryId)});
})();
`;
}

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

/** Bundles the demo app's preload script into the file `out`. */
export async function bundlePreload(out: string): Promise<void> {
  await writeAtomic(out, await bundleCommonJs(join(DEMO_APP, 'src', 'preload.ts')));
}

/**
 * Emits the demo app's `main.js` and `preload.cjs` into `outDir` (default demo-app/out/, where
 * `electron demo-app` looks). main.ts is only transpiled: `npm run typecheck` type-checks it, and a
 * transpile is fast and writes nothing but the two files.
 */
export async function buildDemoApp(outDir: string = join(DEMO_APP, 'out')): Promise<void> {
  const source = join(DEMO_APP, 'src', 'main.ts');
  const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
    fileName: source,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
  });
  await writeAtomic(join(outDir, 'main.js'), outputText);
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
