import { cp, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthMarkerPath, installFiles, installResultPath } from '../src/install/installer.js';
import { readFailedVersions } from '../src/install/outcome.js';
import { leftoverPaths } from '../src/install/recovery.js';
import { readTree, waitFor } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';
import { useStandinApps, type InstalledApp } from './helpers/standin-apps.js';

// The launch after an interrupted installer run (a log-off, a crash or a power cut at any step) finishes
// what the run was doing: the health check of a new version that runs, the clean-up beside the install
// folder, the staged update the run had taken, a rollback cut short. The states are the ones the real
// installer leaves (test/crash-recovery.heavy.test.ts kills it at every step and at random moments).

describe('the launch after an interrupted install', () => {
  let fixture: TestRepo;
  const { appProcess, installApp, launch, outcome, healthyRelaunch, freshPath } = useStandinApps(() => fixture, { logger: null });

  /** Writes the installer's result file as a run left it. */
  const journal = async (app: InstalledApp, line: string): Promise<void> => {
    await mkdir(dirname(installResultPath(app.cacheDir)), { recursive: true });
    await writeFile(installResultPath(app.cacheDir), `${line}\n`);
  };

  /** What sits beside the install folder. */
  const beside = async (app: InstalledApp): Promise<string[]> => (await readdir(dirname(app.installDir))).filter((n) => n !== basename(app.installDir));

  const downloads = (): number => fixture.server.requestsFor('1.1.0.patch').length + fixture.server.requestsFor('1.1.0.tar.gz').length;

  /** 1.0.0 installed with 1.1.0 downloaded and staged by the real worker, not installed. */
  const stagedApp = async (): Promise<InstalledApp> => {
    const app = await installApp('1.0.0');
    const { updater } = launch('1.0.0', app, process.pid, { autoInstallOnAppQuit: false });
    await updater.checkForUpdates();
    await updater.downloadUpdate();
    return app;
  };

  /**
   * Launches 1.0.0 with 1.1.0 staged: the launch starts the installer and quits, and the relaunched 1.1.0
   * passes its health check, so the run ends installed.
   */
  const launchInstallsHealthChecked = async (app: InstalledApp): Promise<void> => {
    const running = appProcess();
    const { updater, electron } = launch('1.0.0', app, running.pid!, { relaunchCommand: healthyRelaunch(app.cacheDir, '1.1.0'), healthCheckTimeoutMs: 20_000 });
    expect(await updater.applyPendingUpdate()).toBe(true);
    expect(electron.quitCount).toBe(1);
    running.kill();
    expect(await outcome(app.cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
  };

  /**
   * The state a run leaves when killed during its health check: the real installer swapped 1.1.0 in and
   * relaunched it (a process that never confirms), then it and the relaunched process were SIGKILLed.
   */
  const killedDuringHealthCheck = async (): Promise<InstalledApp> => {
    const app = await stagedApp();
    const running = appProcess();
    const { updater } = launch('1.0.0', app, running.pid!, { relaunchCommand: ['/bin/sleep', '600'], healthCheckTimeoutMs: 60_000 });
    // The launch installs the staged update: a relaunch and a health check.
    expect(await updater.applyPendingUpdate()).toBe(true);
    running.kill();
    const log = installFiles({ cacheDir: app.cacheDir, installDir: app.installDir, version: '1.1.0' }).log;
    await waitFor(async () => ((await readFile(log, 'utf8').catch(() => '')).includes('relaunched') ? true : undefined), 'the relaunch');
    const installer = Number(await readFile(join(app.cacheDir, 'install', 'installer.pid'), 'utf8'));
    process.kill(-installer, 'SIGKILL');
    await waitFor(() => {
      try {
        process.kill(installer, 0);
        return Promise.resolve(undefined);
      } catch {
        return Promise.resolve(true);
      }
    }, 'the installer to be gone');
    return app;
  };

  beforeAll(async () => (fixture = await TestRepo.published(['1.0.0', '1.1.0'])));
  afterAll(() => fixture.cleanup());

  it('the new version, killed during its health check, gets it at its next launch: markHealthy() removes the previous version', async () => {
    const app = await killedDuringHealthCheck();
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    expect(await beside(app)).toEqual(['.tufapp.tufup-backup']);

    const running = appProcess();
    const { updater, electron } = launch('1.1.0', app, running.pid!, { healthCheckTimeoutMs: 20_000 });
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(electron.quitCount).toBe(0);
    expect(updater.lastInstall).toEqual({ status: 'started', version: '1.1.0' });
    // Until it confirms, the previous version waits beside it.
    expect(await beside(app)).toEqual(['.tufapp.tufup-backup']);

    await updater.markHealthy();
    expect(await outcome(app.cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await beside(app)).toEqual([]);
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));

    const next = launch('1.1.0', app, process.pid).updater;
    expect(await next.applyPendingUpdate()).toBe(false);
    expect(next.lastInstall).toEqual({ status: 'installed', version: '1.1.0' });
  });

  it('the new version that exits again without confirming is rolled back, the previous one relaunched, and the version never offered again', async () => {
    const app = await killedDuringHealthCheck();
    const running = appProcess();
    const relaunched = freshPath('relaunched');
    const { updater } = launch('1.1.0', app, running.pid!, { healthCheckTimeoutMs: 20_000, relaunchCommand: ['/bin/sh', '-c', 'touch "$1"', 'sh', relaunched] });
    expect(await updater.applyPendingUpdate()).toBe(false);
    // The new version crashes before it works.
    running.kill('SIGKILL');

    expect(await outcome(app.cacheDir)).toEqual({ status: 'rolled-back', version: '1.1.0', reason: 'exited-before-healthy' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
    expect(await beside(app)).toEqual([]);
    await waitFor(async () => ((await stat(relaunched).then(() => true, () => false)) ? true : undefined), 'the previous version to be relaunched');

    const old = launch('1.0.0', app, process.pid).updater;
    expect(await old.applyPendingUpdate()).toBe(false);
    expect(old.lastInstall).toEqual({ status: 'rolled-back', version: '1.1.0', reason: 'exited-before-healthy' });
    expect(await old.checkForUpdates()).toBeUndefined();
  });

  it('the previous version takes back the staged update a run had moved beside the install, and installs it with a health check, without downloading', async () => {
    const app = await stagedApp();
    // Killed right after moving the staged folder next to the install: what the installer leaves.
    const staged = join(app.cacheDir, 'staged', '1.1.0');
    await rename(staged, leftoverPaths(app.installDir).incoming);
    await journal(app, 'started 1.1.0');
    const before = downloads();

    await launchInstallsHealthChecked(app);
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    expect(await beside(app)).toEqual([]);
    expect(downloads() - before).toBe(0);
    // Health-checked: the relaunched version confirmed its start.
    expect(await stat(healthMarkerPath(app.cacheDir, '1.1.0')).then(() => true, () => false)).toBe(true);
  });

  it('a rollback cut short is finished: the version is recorded rolled back and never installed again', async () => {
    const app = await stagedApp();
    // Killed during a rollback, right after the exchange put 1.0.0 back: the new version sits at the backup name.
    await cp(fixture.bundleDir('1.1.0'), leftoverPaths(app.installDir).backup, { recursive: true, verbatimSymlinks: true });
    await journal(app, 'rolling-back 1.1.0 health-timeout');

    const { updater, electron } = launch('1.0.0', app, process.pid);
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(electron.quitCount).toBe(0);
    expect(updater.lastInstall).toEqual({ status: 'rolled-back', version: '1.1.0', reason: 'health-timeout' });
    expect(await readFailedVersions(app.cacheDir)).toEqual(['1.1.0']);
    expect(await beside(app)).toEqual([]);
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
  });

  it('a failure that does not last (the staged copy was missing) does not keep a good update, staged again, from its health-checked install at launch', async () => {
    const app = await stagedApp();
    await journal(app, 'failed 1.1.0 staged-missing');
    await launchInstallsHealthChecked(app);
  });

  it('a failure that would repeat (the install folder is not writable) waits for the quit instead of looping at every launch', async () => {
    const app = await stagedApp();
    await journal(app, 'failed 1.1.0 install-not-writable');
    const { updater, electron } = launch('1.0.0', app, process.pid);
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(electron.quitCount).toBe(0);
    expect(updater.lastInstall).toEqual({ status: 'failed', version: '1.1.0', reason: 'install-not-writable' });
  });
});
