import { execFile, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepository } from '@tufup/repo-tools';
import { LoopbackServer, readTree, waitFor } from '@tufup/testkit';
import { bundleMain, installApp, launchApp, publishApp, readReport, ROOT, stderrOf, trustFileFor, writeApp, type MainBuild } from '@tufup/testkit/electron-app';

// An electron-updater main (test/fixtures/electron-updater-main.ts, type-checked against electron-updater's
// own typings) run on tufup with only its import line changed: here the bundler's alias does the change,
// and a copy with the line changed by hand is type-checked against tufup's types. The app ships
// tufup.json where it shipped app-update.yml. The whole update runs on the Electron stand-in.

const FIXTURE = join(import.meta.dirname, 'fixtures', 'electron-updater-main.ts');
const IDENTITY = { appName: 'legacyapp', productName: 'Legacy App' };
const IMPORT_FROM = "from 'electron-updater';";
const IMPORT_TO = "from '@tufup/electron-client/compat';";

interface LogLine {
  pid: number;
  event: string;
  [key: string]: unknown;
}

async function readLog(file: string): Promise<LogLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

describe('an electron-updater main on @tufup/electron-client/compat, unchanged but for the import line', () => {
  let work: string;
  const running: ChildProcess[] = [];
  const pids: number[] = [];

  beforeAll(async () => {
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    work = await mkdtemp(join(ROOT, '.tmp', 'compat-'));
  });
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await rm(work, { recursive: true, force: true });
  });

  it('type-checks against tufup\'s types with only the import line changed', async () => {
    const original = await readFile(FIXTURE, 'utf8');
    const changed = original.replace(IMPORT_FROM, IMPORT_TO);
    const diff = original.split('\n').filter((line, i) => changed.split('\n')[i] !== line);
    expect(diff).toEqual([expect.stringContaining("from 'electron-updater'") as unknown]);
    const dir = join(work, 'types');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'legacy-app', type: 'module' }));
    await writeFile(join(dir, 'main.ts'), changed);
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', '--types', 'node', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'main.ts'];
    const output = await promisify(execFile)(process.execPath, args, { cwd: dir }).then(
      () => '',
      (error: unknown) => (error as { stdout?: string }).stdout ?? String(error),
    );
    expect(output).toBe('');
  });

  const SCENARIOS: (Omit<MainBuild, 'source'> & { name: string })[] = [
    { name: 'bundled as ESM with the client in', sourceFormat: 'esm', format: 'esm', packageBundled: true },
    { name: 'bundled as CommonJS, the client external (require)', sourceFormat: 'esm', format: 'cjs', packageBundled: false },
  ];

  for (const scenario of SCENARIOS) {
    it(`checks, cancels, downloads, quits and installs, relaunches, and the new version finds nothing newer (${scenario.name})`, async () => {
      const dir = join(work, scenario.format);
      const repoDir = join(dir, 'repo');
      const keysDir = join(dir, 'keys');
      await initRepository({ repoDir, keysDir, appName: IDENTITY.appName });
      const server = await new LoopbackServer(repoDir).start();
      try {
        const trust = await trustFileFor(repoDir, IDENTITY.appName, server.url);
        await mkdir(join(dir, 'build'), { recursive: true });
        const main = await bundleMain({ ...scenario, source: '', entry: FIXTURE, alias: { 'electron-updater': '@tufup/electron-client/compat' } }, join(dir, 'build'));
        for (const version of ['1.0.0', '1.1.0']) {
          await writeApp(join(dir, 'bundles', version), version, IDENTITY, main, trust);
          await publishApp({ repoDir, keysDir }, join(dir, 'bundles', version), version);
        }
        const installDir = join(dir, 'install', IDENTITY.productName);
        await installApp(join(dir, 'bundles', '1.0.0'), installDir);
        const appLog = join(dir, 'app.jsonl');
        const report = join(dir, 'report.jsonl');
        const first = launchApp(installDir, IDENTITY.appName, { report, userData: join(dir, 'config', IDENTITY.productName), home: join(dir, 'home'), extra: { APP_LOG: appLog } });
        running.push(first);

        const lines = await waitFor(
          async () => {
            const all = await readLog(appLog);
            return all.some((l) => l.pid !== first.pid && l.event === 'update-not-available') ? all : undefined;
          },
          'the relaunched version to find no update',
          60_000,
        ).catch(async (error: unknown) => {
          throw new Error(`${String(error)}; the app logged:\n${(await readFile(appLog, 'utf8').catch(() => ''))}\nstderr:\n${stderrOf(first)}`);
        });
        for (const line of await readReport(report)) if (line.type === 'start') pids.push(line.pid);

        const old = lines.filter((l) => l.pid === first.pid && l.event !== 'log');
        const relaunched = lines.filter((l) => l.pid !== first.pid && l.event !== 'log');
        expect(old[0]).toEqual({ pid: first.pid, event: 'started', version: '1.0.0', major: 1, active: true });
        const events = old.map((l) => l.event);
        expect(events.slice(0, 3)).toEqual(['started', 'checking-for-update', 'update-available']);
        expect(old.find((l) => l.event === 'update-available')).toMatchObject({ version: '1.1.0', files: [expect.stringMatching(/\.patch$/) as unknown] });
        // The first download, cancelled: update-cancelled and a CancellationError, no error event.
        expect(old.find((l) => l.event === 'update-cancelled')).toMatchObject({ version: '1.1.0' });
        expect(old.find((l) => l.event === 'first-download')).toMatchObject({ rejected: 'CancellationError', cancelled: true });
        expect(events).not.toContain('error');
        // The second: progress in network bytes and one percent that only grows to 100.
        const progress = old.filter((l) => l.event === 'download-progress');
        expect(progress.length).toBeGreaterThan(0);
        const percents = progress.map((l) => l.percent as number);
        expect(percents).toEqual([...percents].sort((a, b) => a - b));
        expect(percents.at(-1)).toBe(100);
        expect(progress.at(-1)).toMatchObject({ transferred: progress.at(-1)?.total });
        expect(old.find((l) => l.event === 'update-downloaded')).toMatchObject({ version: '1.1.0', downloadedFile: expect.stringContaining('1.1.0') as unknown });

        // quitAndInstall(true, true): the installer swapped 1.1.0 in and started it; its first check
        // confirmed a healthy start (electron-updater apps never call markHealthy), so it was kept.
        expect(relaunched.map((l) => l.event)).toEqual(['started', 'checking-for-update', 'update-not-available']);
        expect(relaunched[0]).toMatchObject({ version: '1.1.0' });
        const cacheDir = join(dir, 'home', '.cache', IDENTITY.productName, 'tufup');
        expect(await waitFor(async () => ((await readFile(join(cacheDir, 'install', 'result'), 'utf8').catch(() => '')) === 'installed 1.1.0\n' ? true : undefined), 'the installer result')).toBe(true);
        expect(await readTree(installDir)).toEqual(await readTree(join(dir, 'bundles', '1.1.0')));
        // The logger got tufup's lines, with electron-updater's one-argument calls.
        expect(lines.some((l) => l.event === 'log' && String(l.message).startsWith('tufup:'))).toBe(true);
      } finally {
        await server.close();
      }
    });
  }
});
