import { execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type MainMessage, type WorkerMessage } from '../packages/electron-client/src/ipc/protocol.js';
import { LoopbackServer } from '@tufup/testkit';

// The three packages as users get them: packed with `npm pack`, installed with `npm install <tarballs>`
// into a folder outside the workspace (so nothing resolves through the workspace's links), then used:
// the tufup-repo program, every entry point, and the update worker against a repository made there.

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGES = ['@tufup/bundle', '@tufup/repo-tools', '@tufup/electron-client'];

/** What `npm pack --json` says about one tarball. */
interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The children run on the Node running the tests (24), and without the npm_* variables of an outer
// `npm test`, which would point npm at the workspace (the machine's proxy and CA settings stay).
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_'))),
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
};

function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolvePromise({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

/** The Electron process an entry runs in, for the entries that import 'electron'. */
const ELECTRON_PROCESS: Record<string, 'Main' | 'Renderer'> = {
  '@tufup/electron-client': 'Main',
  '@tufup/electron-client/compat': 'Main',
  '@tufup/electron-client/preload': 'Renderer',
};

/**
 * Electron's built-in module as one process type sees it, for loading the entries that import it in
 * plain Node: a user's main and preload get `electron` from Electron itself, which cannot start here,
 * and the `electron` npm package only locates a binary. The stand-in exports exactly the names that
 * Electron's own typings declare for that process (`Electron.Main`, `Electron.Renderer`), each an object
 * that accepts any use, so loading proves that the package's files, its dependencies and its named
 * imports from Electron resolve and that its top-level code runs, not what Electron then does.
 * Returns the file to pass to `node --import`.
 */
async function writeElectronStandIn(dir: string, processType: 'Main' | 'Renderer'): Promise<string> {
  const typings = await readFile(join(ROOT, 'node_modules/electron/electron.d.ts'), 'utf8');
  const start = typings.indexOf(`namespace ${processType} {`);
  const block = typings.slice(start, typings.indexOf('\n  }\n', start));
  const names = [...block.matchAll(/^ {4}(?:const|class|function) (\w+)/gm)].map((m) => m[1]!);
  expect(names).toEqual(expect.arrayContaining(processType === 'Main' ? ['app', 'ipcMain', 'utilityProcess', 'net'] : ['contextBridge', 'ipcRenderer']));
  const stub = join(dir, `electron-${processType}.cjs`);
  await writeFile(
    stub,
    [
      "const any = new Proxy(function () {}, { get: (_, key) => (key === 'then' ? undefined : key === Symbol.toPrimitive ? () => '' : any), apply: () => any, construct: () => any });",
      ...names.map((name) => `exports.${name} = any;`),
    ].join('\n'),
  );
  const hooks = join(dir, `electron-${processType}.mjs`);
  await writeFile(
    hooks,
    `import { registerHooks } from 'node:module';
const url = ${JSON.stringify(pathToFileURL(stub).href)};
registerHooks({
  resolve(specifier, context, next) {
    return specifier === 'electron' ? { url, shortCircuit: true } : next(specifier, context);
  },
});
`,
  );
  return hooks;
}

const LOAD = 'const entry = await import(process.argv[1]); console.log(JSON.stringify(Object.keys(entry).sort()));';

describe('the packed packages, installed into a fresh app folder', () => {
  let tmp: string;
  let app: string;
  let packed: Packed[];
  const server: { current?: LoopbackServer } = {};

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tufup-packages-'));
    const tarballs = join(tmp, 'tarballs');
    await mkdir(tarballs);
    const packArgs = ['pack', ...PACKAGES.flatMap((name) => ['--workspace', name]), '--pack-destination', tarballs, '--json'];
    packed = JSON.parse(await ok('npm', packArgs, ROOT)) as Packed[];
    app = join(tmp, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'an-electron-app', version: '1.0.0', private: true, type: 'module' }));
    // --prefer-offline: the dependencies come from npm's cache when it has them, as after the workspace's install.
    await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((p) => join(tarballs, p.filename))], app);
  });

  afterAll(async () => {
    await server.current?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('each tarball has a README, the MIT LICENSE, no build info, and every source map with its sources', async () => {
    expect(packed.map((p) => p.name).sort()).toEqual([...PACKAGES].sort());
    for (const { name, files } of packed) {
      const paths = new Set(files.map((f) => f.path));
      expect(paths, name).toContain('README.md');
      expect(paths, name).toContain('LICENSE');
      expect([...paths].filter((p) => p.endsWith('.tsbuildinfo')), name).toEqual([]);
      const installed = join(app, 'node_modules', name);
      expect(await readFile(join(installed, 'LICENSE'), 'utf8'), name).toMatch(/^MIT License/);
      expect((JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { license: string }).license, name).toBe('MIT');
      const maps = [...paths].filter((p) => p.endsWith('.map'));
      expect(maps.length, name).toBeGreaterThan(0);
      for (const map of maps) {
        const { sources, sourceRoot = '' } = JSON.parse(await readFile(join(installed, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of sources) expect(paths, `${name}: ${map} -> ${source}`).toContain(posix.join(posix.dirname(map), sourceRoot, source));
      }
    }
  });

  it('npx tufup-repo runs the installed CLI: help, init, two releases with a patch, verify', async () => {
    // Linked by npm, so npx runs it instead of asking the registry for a package of that name.
    expect(existsSync(join(app, 'node_modules/.bin/tufup-repo'))).toBe(true);
    const help = await ok('npx', ['tufup-repo', '--help'], app);
    expect(help).toContain('tufup-repo: create, sign and publish');
    const init = JSON.parse(await ok('npx', ['tufup-repo', 'init', '--repo', 'repo', '--app-name', 'demo', '--keys-dir', 'keys', '--json'], app)) as { keys: unknown[] };
    expect(init.keys).toHaveLength(4);
    expect((await readdir(join(app, 'keys'))).filter((f) => f.endsWith('.pem'))).toHaveLength(4);
    const cli = join(app, 'node_modules/.bin/tufup-repo');
    for (const [version, text] of [
      ['1.0.0', 'one'],
      ['1.1.0', 'two'],
    ] as const) {
      const bundle = join(tmp, `bundle-${version}`);
      await mkdir(join(bundle, 'resources'), { recursive: true });
      await writeFile(join(bundle, 'resources/app.js'), `${'// the app\n'.repeat(2000)}console.log(${JSON.stringify(text)});\n`);
      await ok(cli, ['add', bundle, '--repo', 'repo', '--version', version, '--platform', 'linux', '--arch', 'x64'], app);
    }
    const verified = JSON.parse(await ok(cli, ['verify', '--repo', 'repo', '--json'], app)) as { targets: number; patchesApplied: number; entryListsChecked: number };
    // Two archives, their entry lists, one patch.
    expect(verified).toMatchObject({ targets: 5, patchesApplied: 1, entryListsChecked: 2 });
  });

  it('every entry point of every package loads from the install; only the main, compat and preload entries need Electron', async () => {
    const needElectron: string[] = [];
    for (const name of PACKAGES) {
      const manifest = JSON.parse(await readFile(join(app, 'node_modules', name, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
      for (const key of Object.keys(manifest.exports)) {
        const entry = key === '.' ? name : `${name}/${key.slice(2)}`;
        // The worker is a process of its own (next test), not a module to import.
        if (entry === '@tufup/electron-client/worker') continue;
        let loaded = await run(process.execPath, ['--input-type=module', '-e', LOAD, entry], app);
        // Without Electron, `electron` is either missing or the npm package (which npm installs as the client's
        // peer dependency), whose module only locates a binary and has none of Electron's exports.
        if (loaded.code !== 0 && /Cannot find package 'electron'|The requested module 'electron' does not provide an export|Named export '\w+' not found. The requested module 'electron'/.test(loaded.stderr)) {
          needElectron.push(entry);
          const processType = ELECTRON_PROCESS[entry];
          if (processType === undefined) throw new Error(`${entry} imports electron:\n${loaded.stderr}`);
          loaded = await run(process.execPath, ['--import', await writeElectronStandIn(tmp, processType), '--input-type=module', '-e', LOAD, entry], app);
        }
        expect(loaded.stderr, entry).toBe('');
        expect((JSON.parse(loaded.stdout) as string[]).length, entry).toBeGreaterThan(0);
      }
    }
    expect(needElectron.sort()).toEqual(Object.keys(ELECTRON_PROCESS).sort());
  });

  it('the installed update worker, started as a utility process is, finds the release published with the installed CLI', async () => {
    const repo = join(app, 'repo');
    if (!existsSync(join(repo, 'metadata/timestamp.json'))) throw new Error('needs the repository made by the CLI test above');
    server.current = await new LoopbackServer(repo).start();
    const workerFile = createRequire(join(app, 'package.json')).resolve('@tufup/electron-client/worker');
    expect(workerFile.startsWith(join(app, 'node_modules'))).toBe(true);
    const worker = fork(workerFile, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const answers: WorkerMessage[] = [];
    const exited = new Promise<number | null>((resolveExit) => worker.once('exit', resolveExit));
    const checked = new Promise<WorkerMessage>((resolveAnswer) => {
      worker.on('message', (message: WorkerMessage) => {
        answers.push(message);
        if (message.type !== 'log' && message.type !== 'progress') resolveAnswer(message);
      });
    });
    const check: MainMessage = {
      v: PROTOCOL_VERSION,
      type: 'check',
      id: 1,
      options: {
        appName: 'demo',
        currentVersion: '1.0.0',
        installDir: join(tmp, 'bundle-1.0.0'),
        metadataUrl: `${server.current.url}/metadata/`,
        targetsUrl: `${server.current.url}/targets/`,
        cacheDir: join(tmp, 'cache'),
        trustedRoot: join(repo, 'metadata/1.root.json'),
        platform: 'linux',
        arch: 'x64',
      },
    };
    worker.send(check);
    const answer = await checked;
    expect(answer).toMatchObject({ type: 'checked', id: 1, info: { version: '1.1.0' } });
    worker.send({ v: PROTOCOL_VERSION, type: 'exit' } satisfies MainMessage);
    expect(await exited).toBe(0);
  });
});
