import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepository } from '@tufup/repo-tools';
import { LoopbackServer, readTree, waitFor } from '@tufup/testkit';
import { bundleMain, installApp, launchApp, publishApp, readmeBlock, readReport, ROOT, stderrOf, trustFileFor, writeApp, type MainBuild, type ReportLine } from '@tufup/testkit/electron-app';

// The README's quick start, as an app ships it: its main file bundled by esbuild, Vite or webpack (ESM or CommonJS,
// the client bundled in or kept external), packaged with the repository's tufup.json, run on a stand-in
// Electron (@tufup/testkit's electron-module.ts). The whole update runs for real: check, download by patch
// in the worker the package carries, the click on "Restart to update", quit, the installer swapping the
// folder, the relaunch of the new version through the app's own launcher, its markHealthy and its check.

const IDENTITY = { appName: 'demoapp', productName: 'Demo App' };

interface Scenario extends Omit<MainBuild, 'source'> {
  name: string;
}

const SCENARIOS: Scenario[] = [
  { name: 'ESM main bundled by esbuild as ESM, the client bundled in', sourceFormat: 'esm', format: 'esm', packageBundled: true },
  { name: 'ESM main bundled by esbuild as ESM, the client external', sourceFormat: 'esm', format: 'esm', packageBundled: false },
  { name: 'ESM main bundled by esbuild as CommonJS, the client bundled in', sourceFormat: 'esm', format: 'cjs', packageBundled: true },
  { name: 'CommonJS main bundled by esbuild as CommonJS, the client external (require)', sourceFormat: 'cjs', format: 'cjs', packageBundled: false },
  { name: 'CommonJS main bundled by esbuild as CommonJS, the client bundled in', sourceFormat: 'cjs', format: 'cjs', packageBundled: true },
  { name: 'ESM main built by Vite as CommonJS (Forge Vite template, electron-vite), the client bundled in', sourceFormat: 'esm', format: 'cjs', packageBundled: true, bundler: 'vite' },
  { name: 'ESM main built by Vite as ESM, the client external', sourceFormat: 'esm', format: 'esm', packageBundled: false, bundler: 'vite' },
  { name: 'ESM main built by webpack as CommonJS (Forge webpack template), the client bundled in', sourceFormat: 'esm', format: 'cjs', packageBundled: true, bundler: 'webpack' },
  { name: 'CommonJS main built by webpack as CommonJS, the client external (require)', sourceFormat: 'cjs', format: 'cjs', packageBundled: false, bundler: 'webpack' },
];

describe('the README quick start in an app with a bundled main process', () => {
  let work: string;
  let server: LoopbackServer | undefined;
  const running: ChildProcess[] = [];
  const reports: string[] = [];
  let counter = 0;

  beforeAll(async () => {
    // Inside the project: an app that keeps the client external finds it in the project's node_modules.
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    work = await mkdtemp(join(ROOT, '.tmp', 'bundled-main-'));
  });
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    for (const report of reports) for (const line of await readReport(report)) if (line.type === 'start') killQuietly(line.pid);
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('is the same in ESM and CommonJS but for the imports', async () => {
    const withoutImports = (code: string): string =>
      code
        .split('\n')
        .filter((line) => !/^(import .* from |const .* = require\()/.test(line))
        .join('\n');
    expect(withoutImports(await readmeBlock('main.cjs (CommonJS)'))).toBe(withoutImports(await readmeBlock('main.mjs (ESM)')));
  });

  for (const scenario of SCENARIOS) {
    it(`updates itself: ${scenario.name}`, async () => {
      const dir = join(work, `case-${++counter}`);
      const repoDir = join(dir, 'repo');
      const keysDir = join(dir, 'keys');
      await initRepository({ repoDir, keysDir, appName: IDENTITY.appName });
      const repoServer = new LoopbackServer(repoDir);
      server = repoServer;
      await repoServer.start();
      const trust = await trustFileFor(repoDir, IDENTITY.appName, repoServer.url);

      const source = await readmeBlock(scenario.sourceFormat === 'esm' ? 'main.mjs (ESM)' : 'main.cjs (CommonJS)');
      await mkdir(join(dir, 'build'), { recursive: true });
      const main = await bundleMain({ ...scenario, source }, join(dir, 'build'));
      for (const version of ['1.0.0', '1.1.0']) {
        await writeApp(join(dir, 'bundles', version), version, IDENTITY, main, trust);
        await publishApp({ repoDir, keysDir }, join(dir, 'bundles', version), version);
      }
      const installDir = join(dir, 'install', IDENTITY.productName);
      await installApp(join(dir, 'bundles', '1.0.0'), installDir);

      const report = join(dir, 'report.jsonl');
      reports.push(report);
      const env = { report, userData: join(dir, 'config', IDENTITY.productName), home: join(dir, 'home'), clickInstall: true };
      const first = launchApp(installDir, IDENTITY.appName, env);
      running.push(first);
      let failed: string | undefined;
      first.once('exit', (code) => (failed = code === 0 ? undefined : `the app exited with ${String(code)}`));

      // The relaunched 1.1.0 checks too: finding nothing newer ends the story.
      const lines = await waitFor(
        async () => {
          if (failed !== undefined) throw new Error(failed);
          const all = await readReport(report);
          return all.some((r) => r.pid !== first.pid && r.type === 'event' && r.event === 'update-not-available') ? all : undefined;
        },
        'the relaunched version to find no update',
        60_000,
      ).catch(async (error: unknown) => {
        throw new Error(`${String(error)}; the app reported:\n${(await readReport(report)).map((r) => JSON.stringify(r)).join('\n')}\nand wrote to stderr:\n${stderrOf(first)}`);
      });
      const old = lines.filter((r) => r.pid === first.pid);
      const relaunched = lines.filter((r) => r.pid !== first.pid && r.type !== 'fork');
      const events = (of: ReportLine[]): unknown[] => of.filter((r) => r.type === 'event').map((r) => r.event);

      expect(old[0]).toMatchObject({ type: 'start', version: '1.0.0' });
      expect(old.map((r) => r.type)).toEqual(expect.arrayContaining(['single-instance-lock', 'window', 'load', 'click', 'quit']));
      // The worker the package carries, written to the OS cache folder (not userData) and started from there.
      const fork = lines.find((r) => r.type === 'fork');
      expect(fork?.modulePath).toMatch(new RegExp(`^${join(env.home, '.cache', IDENTITY.productName, 'tufup', 'runtime', 'worker-')}[0-9a-f]{16}\\.cjs$`));
      expect(fork?.options).toMatchObject({ respondToAuthRequestsFromMainProcess: true });
      const oldEvents = events(old);
      expect(oldEvents.slice(0, 2)).toEqual(['checking-for-update', 'update-available']);
      expect(oldEvents).toContain('download-progress');
      expect(oldEvents.at(-1)).toBe('update-downloaded');
      const available = old.find((r) => r.event === 'update-available')?.args as [{ version: string; strategy: string }];
      expect(available[0]).toMatchObject({ version: '1.1.0', strategy: 'patch' });

      expect(relaunched[0]).toMatchObject({ type: 'start', version: '1.1.0' });
      expect(relaunched.find((r) => r.type === 'status')).toMatchObject({ status: { currentVersion: '1.1.0' } });
      expect(events(relaunched)).toEqual(['checking-for-update', 'update-not-available']);
      // The installer kept 1.1.0: the relaunched version confirmed a healthy start.
      const cacheDir = join(env.home, '.cache', IDENTITY.productName, 'tufup');
      expect(await waitFor(async () => ((await readFile(join(cacheDir, 'install', 'result'), 'utf8').catch(() => '')) === 'installed 1.1.0\n' ? true : undefined), 'the installer result')).toBe(true);
      expect(await readTree(installDir)).toEqual(await readTree(join(dir, 'bundles', '1.1.0')));
      await repoServer.close();
    });
  }
});

/** Debian's Node, older than the floor: where it exists, it plays an Electron older than 43. */
const OLD_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path) && /^v(1[89]|2[0-3])\./.test(nodeVersion(path)));

function nodeVersion(path: string): string {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

describe.skipIf(OLD_NODE === undefined)(`a bundled main on a runtime too old for the client (${OLD_NODE ?? 'no older Node found'})`, () => {
  let dir: string;
  beforeAll(async () => {
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    dir = await mkdtemp(join(ROOT, '.tmp', 'old-runtime-'));
    // The `electron` module the main file finds: just enough for the updater to get to its runtime check.
    await mkdir(join(dir, 'node_modules', 'electron'), { recursive: true });
    await writeFile(join(dir, 'node_modules', 'electron', 'index.js'), 'exports.app = {}; exports.ipcMain = {}; exports.Notification = class {}; exports.utilityProcess = {};\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const format of ['esm', 'cjs'] as const) {
    it(`gets UNSUPPORTED_RUNTIME from createUpdater, naming the version, instead of failing at import (${format})`, async () => {
      const source = `import { createUpdater } from '@tufup/electron-client';
try {
  createUpdater();
  console.log('created');
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;
      const main = await bundleMain({ source, sourceFormat: 'esm', format, packageBundled: true }, dir);
      await writeFile(join(dir, main.file), main.text);
      const { stdout } = await promisify(execFile)(OLD_NODE ?? '', [join(dir, main.file)], { cwd: dir });
      const version = nodeVersion(OLD_NODE ?? '').slice(1);
      expect(JSON.parse(stdout)).toEqual({ code: 'UNSUPPORTED_RUNTIME', message: `tufup needs Electron >= 43 (Node >= 24.6.0 or 22.19.0, with zstd dictionaries in node:zlib); this is Node ${version}` });
    });
  }
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
