import type { ChildProcess } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateError } from '../src/core/index.js';
import { installerPidPath } from '../src/install/installer.js';
import { readInstallOutcome } from '../src/install/outcome.js';
import type { UpdaterEventMap } from '../src/ipc/channels.js';
import { TufupUpdater } from '../src/main/updater.js';
import { unyankRelease, yankRelease } from '@tufup/repo-tools';
import { readTree, waitFor } from '@tufup/testkit';
import { APP, TestRepo } from '@tufup/testkit/repo';
import { useStandinApps, type InstalledApp, type Launched } from './helpers/standin-apps.js';
import { StandinElectron } from './standin/electron.js';

describe('the main-process updater, with a stand-in Electron, a real worker and the real installer', () => {
  let fixture: TestRepo;
  const { appProcess, installApp, launch, track, outcome, healthyRelaunch, freshPath } = useStandinApps(() => fixture);

  const record = (updater: TufupUpdater): (keyof UpdaterEventMap)[] => {
    const events: (keyof UpdaterEventMap)[] = [];
    for (const name of ['checking-for-update', 'update-available', 'update-not-available', 'download-progress', 'update-downloaded', 'error'] as const) {
      updater.on(name, () => events.push(name));
    }
    return events;
  };

  /** An app on 1.0.0 that downloaded 1.1.0 and quit to install it without relaunch; the installer waits for `running` to exit. */
  const quitToInstall = async (): Promise<{ app: InstalledApp; running: ChildProcess; cacheDir: string }> => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const cacheDir = app.cacheDir;
    const first = launch('1.0.0', app, running.pid!);
    await first.updater.checkForUpdates();
    await first.updater.downloadUpdate();
    first.updater.quitAndInstall({ relaunch: false });
    return { app, running, cacheDir };
  };

  /**
   * Launches 1.0.0 again with 1.1.0 downloaded but not installed: applyPendingUpdate must start the
   * installer (`meanwhile` checks the launch while the app still runs), which leaves 1.1.0 installed.
   */
  const nextLaunchInstalls = async (
    app: InstalledApp,
    meanwhile: (launched: Launched) => void,
  ): Promise<void> => {
    const running = appProcess();
    const cacheDir = app.cacheDir;
    const launched = launch('1.0.0', app, running.pid!, { relaunchCommand: healthyRelaunch(cacheDir, '1.1.0') });
    expect(await launched.updater.applyPendingUpdate()).toBe(true);
    meanwhile(launched);
    running.kill();

    expect(await outcome(cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
  };

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('1.0.0');
    await fixture.publish('1.1.0', { releaseNotes: 'Faster.' });
  });
  afterAll(() => fixture.cleanup());

  it('finds, downloads and stages an update with electron-updater events in order, then installs it at quitAndInstall', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const { updater, electron } = launch('1.0.0', app, running.pid!);
    const events = record(updater);
    const downloaded = new Promise<UpdaterEventMap['update-downloaded'][0]>((resolve) => updater.once('update-downloaded', resolve));

    const info = await updater.checkForUpdates();
    expect(info?.version).toBe('1.1.0');
    expect(await downloaded).toMatchObject({ version: '1.1.0', releaseNotes: 'Faster.', strategy: 'patch' });

    expect(events.slice(0, 2)).toEqual(['checking-for-update', 'update-available']);
    expect(events.at(-1)).toBe('update-downloaded');
    expect(new Set(events.slice(2, -1))).toEqual(new Set(['download-progress']));
    expect(updater.getStatus()).toMatchObject({ state: 'downloaded', update: { version: '1.1.0' } });

    updater.quitAndInstall({ relaunch: false });
    expect(electron.quitCount).toBe(1);
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
    running.kill();

    expect(await outcome(updater.cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
  });

  it('says so when the app is up to date', async () => {
    const { updater } = launch('1.1.0', await installApp('1.1.0'), process.pid);
    const events = record(updater);
    expect(await updater.checkForUpdates()).toBeUndefined();
    expect(events).toEqual(['checking-for-update', 'update-not-available']);
  });

  it('installs at the normal quit when autoInstallOnAppQuit is on, without relaunching', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const marker = freshPath('relaunched');
    const { updater, electron } = launch('1.0.0', app, running.pid!, { relaunchCommand: ['/bin/sh', '-c', 'touch "$1"', 'sh', marker] });
    await updater.checkForUpdates();
    await updater.downloadUpdate();

    electron.quit();
    running.kill();

    expect(await outcome(updater.cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    await expect(stat(marker)).rejects.toThrow();
  });

  it('relaunches the new version, which confirms a healthy start; the next launch finds the install done', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const cacheDir = app.cacheDir;
    const { updater } = launch('1.0.0', app, running.pid!, { relaunchCommand: healthyRelaunch(cacheDir, '1.1.0'), healthCheckTimeoutMs: 20_000 });
    await updater.checkForUpdates();
    await updater.downloadUpdate();

    updater.quitAndInstall();
    running.kill();
    expect(await outcome(cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });

    const next = launch('1.1.0', app, process.pid).updater;
    expect(await next.applyPendingUpdate()).toBe(false);
    expect(next.lastInstall).toEqual({ status: 'installed', version: '1.1.0' });
  });

  it('installs a download that was not installed at the next launch, before any window', async () => {
    const app = await installApp('1.0.0');
    const first = launch('1.0.0', app, process.pid, { autoInstallOnAppQuit: false });
    await first.updater.checkForUpdates();
    await first.updater.downloadUpdate();
    // The app went away without installing (the system killed the installer, or the app crashed).

    await nextLaunchInstalls(app, ({ electron }) => expect(electron.quitCount).toBe(1));
  });

  it('recovers at the next launch when the system killed the installer before it swapped anything', async () => {
    const { app, running, cacheDir } = await quitToInstall();
    const installer = Number(await readFile(installerPidPath(cacheDir), 'utf8'));
    process.kill(installer, 'SIGKILL');
    await waitFor(async () => {
      try {
        process.kill(installer, 0);
        return undefined;
      } catch {
        return Promise.resolve(true);
      }
    }, 'the installer to be gone');
    running.kill();
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));

    await nextLaunchInstalls(app, ({ updater }) => expect(updater.lastInstall).toEqual({ status: 'started', version: '1.1.0' }));
  });

  it('does not start a second installer when the app is reopened while one is still at work', async () => {
    const { app, running, cacheDir } = await quitToInstall();

    const reopened = launch('1.0.0', app, process.pid);
    expect(await reopened.updater.applyPendingUpdate()).toBe(false);
    expect(reopened.electron.quitCount).toBe(0);

    running.kill();
    expect(await outcome(cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
  });

  it('discards at the next launch a staged update that no longer verifies', async () => {
    const app = await installApp('1.0.0');
    const first = launch('1.0.0', app, process.pid, { autoInstallOnAppQuit: false });
    await first.updater.checkForUpdates();
    const staged = await first.updater.downloadUpdate();
    await writeFile(join(staged.stagedDir, 'version.txt'), 'tampered\n');

    const { updater, electron } = launch('1.0.0', app, process.pid);
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(electron.quitCount).toBe(0);
    await expect(stat(staged.stagedDir)).rejects.toThrow();
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
  });

  it('reports the worker dying as an error event, never a hang, and starts a new worker for the next check', async () => {
    const { updater, electron } = launch('1.0.0', await installApp('1.0.0'), process.pid, { autoDownload: false });
    const errors: UpdateError[] = [];
    updater.on('error', (error) => errors.push(error));
    electron.onFork = (child) => child.kill('SIGKILL');

    await expect(updater.checkForUpdates()).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(errors.map((e) => e.code)).toEqual(['INTERNAL']);
    expect(updater.getStatus()).toMatchObject({ state: 'error', error: { code: 'INTERNAL' } });

    electron.onFork = undefined;
    expect((await updater.checkForUpdates())?.version).toBe('1.1.0');
    expect(electron.workers).toHaveLength(2);
  });

  it('ends the worker once it is idle, since a utility process never exits by itself', async () => {
    const { updater, electron } = launch('1.0.0', await installApp('1.0.0'), process.pid, { autoDownload: false });
    await updater.checkForUpdates();
    const worker = electron.workers[0]!;
    const code = worker.exitCode ?? (await new Promise<number | null>((resolve) => worker.once('exit', resolve)));
    expect(code).toBe(0);
  });

  it('rejects a download without an update or with a cancelled signal, with error codes', async () => {
    const { updater } = launch('1.0.0', await installApp('1.0.0'), process.pid, { autoDownload: false });
    updater.on('error', () => undefined);
    await expect(updater.downloadUpdate()).rejects.toMatchObject({ code: 'NO_UPDATE' });
    await updater.checkForUpdates();
    await expect(updater.downloadUpdate(AbortSignal.abort())).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(() => updater.quitAndInstall()).toThrow(UpdateError);
  });

  it('cancels a download whose signal fires while the app is still getting ready', async () => {
    const { updater, electron } = launch('1.0.0', await installApp('1.0.0'), process.pid, { autoDownload: false });
    updater.on('error', () => undefined);
    const events = record(updater);
    await updater.checkForUpdates();
    const controller = new AbortController();
    // The user cancels while the request waits for app.whenReady().
    electron.whenReady = () => {
      controller.abort();
      return Promise.resolve();
    };
    await expect(updater.downloadUpdate(controller.signal)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(events).not.toContain('update-downloaded');
    expect(() => updater.quitAndInstall()).toThrow(UpdateError);
  });

  it('finds its releases by the trust file\'s name, and says CONFIG naming both names when the app\'s name is another', async () => {
    const app = await installApp('1.0.0');
    // The app's own name (productName) plays no part: the trust file names the app.
    const named = new StandinElectron({ name: 'Other App', version: '1.0.0', userData: app.userData, resourcesPath: app.resources, execPath: join(app.installDir, APP) });
    const updater = new TufupUpdater({ url: fixture.server.url, autoDownload: false }, named);
    track(updater, named);
    expect((await updater.checkForUpdates())?.version).toBe('1.1.0');
    expect(updater.appName).toBe(APP);

    // An appName option that contradicts the trust file.
    const contradicted = launch('1.0.0', app, process.pid, { appName: 'otherapp' }).updater;
    contradicted.on('error', () => undefined);
    await expect(contradicted.checkForUpdates()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/"otherapp".*"tufapp"/) as unknown });

    // A plain root.json with the app's own name, which the repository does not publish: never silence.
    const plain = launch('1.0.0', app, process.pid, { appName: 'otherapp', trustedRoot: fixture.trustedRoot }).updater;
    plain.on('error', () => undefined);
    await expect(plain.checkForUpdates()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/publishes "tufapp" for linux-x64, not "otherapp"/) as unknown });
  });

  it('reports an unreachable repository as a NETWORK error event', async () => {
    const { updater } = launch('1.0.0', await installApp('1.0.0'), process.pid, { url: 'http://127.0.0.1:9/' });
    const codes: string[] = [];
    updater.on('error', (error) => codes.push(error.code));
    await expect(updater.checkForUpdates()).rejects.toBeInstanceOf(UpdateError);
    expect(codes).toEqual(['NETWORK']);
  });

  it('hands the core options the app sets (stall timeout, minimum rate, retries) to the worker, and none of the Electron-only ones', async () => {
    const { updater, electron } = launch('1.0.0', await installApp('1.0.0'), process.pid, { stallTimeoutMs: 4_000, minBytesPerSecond: 4096, retries: 0, channel: undefined });
    await updater.checkForUpdates();
    const check = electron.workerMessages.find((m) => (m as { type?: string }).type === 'check') as { options: Record<string, unknown> } | undefined;
    expect(check?.options).toMatchObject({ stallTimeoutMs: 4_000, minBytesPerSecond: 4096, retries: 0, channel: 'latest' });
    for (const electronOnly of ['url', 'autoDownload', 'autoInstallOnAppQuit', 'healthCheckTimeoutMs', 'relaunchCommand', 'keepFiles', 'allowedOrigins', 'logger', 'workerPath']) {
      expect(check?.options).not.toHaveProperty(electronOnly);
    }
  });

  it('notifies the user once the update is downloaded when asked to', async () => {
    const { updater, electron } = launch('1.0.0', await installApp('1.0.0'), process.pid);
    expect((await updater.checkForUpdatesAndNotify())?.version).toBe('1.1.0');
    expect(electron.notifications).toHaveLength(1);
    expect(electron.notifications[0]?.title).toContain('1.1.0');
  });

  // Late: it publishes 1.2.0.
  it('rolls back a version that does not start, never offers it again, and offers the next one', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const cacheDir = app.cacheDir;
    const { updater } = launch('1.0.0', app, running.pid!, { relaunchCommand: ['/bin/sh', '-c', 'exit 3'], healthCheckTimeoutMs: 20_000 });
    await updater.checkForUpdates();
    await updater.downloadUpdate();
    updater.quitAndInstall();
    running.kill();

    expect(await outcome(cacheDir)).toEqual({ status: 'rolled-back', version: '1.1.0', reason: 'exited-before-healthy' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));

    const next = launch('1.0.0', app, process.pid);
    const events = record(next.updater);
    expect(await next.updater.applyPendingUpdate()).toBe(false);
    expect(next.updater.lastInstall).toEqual({ status: 'rolled-back', version: '1.1.0', reason: 'exited-before-healthy' });
    expect(await next.updater.checkForUpdates()).toBeUndefined();
    expect(events).toEqual(['checking-for-update', 'update-not-available']);
    expect(JSON.parse(await readFile(join(cacheDir, 'failed-versions.json'), 'utf8'))).toEqual(['1.1.0']);

    await fixture.publish('1.2.0');
    const later = launch('1.0.0', app, process.pid, { autoDownload: false });
    expect((await later.updater.checkForUpdates())?.version).toBe('1.2.0');
    await rm(join(cacheDir, 'staged'), { recursive: true, force: true });
  });

  // Last: it publishes 1.3.0 and yanks it.
  it('installs nothing, and says so, when the downloaded update was yanked and removed by a check since', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const cacheDir = app.cacheDir;
    await fixture.publish('1.3.0');
    const first = launch('1.0.0', app, running.pid!, { autoDownload: false });
    expect((await first.updater.checkForUpdates())?.version).toBe('1.3.0');
    const staged = await first.updater.downloadUpdate();
    // A second window's process of the same app holds it too (its download found it staged).
    const second = launch('1.0.0', app, appProcess().pid!, { autoDownload: false });
    await second.updater.checkForUpdates();
    expect((await second.updater.downloadUpdate()).stagedDir).toBe(staged.stagedDir);
    const errors: UpdateError[] = [];
    first.updater.on('error', (e) => errors.push(e));
    const secondErrors: UpdateError[] = [];
    second.updater.on('error', (e) => secondErrors.push(e));

    // The publisher pulls it; another instance of the app, on the same cache, checks and removes the staged copy.
    await yankRelease({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, version: '1.3.0', reason: 'loses settings' });
    const other = launch('1.0.0', app, process.pid, { autoDownload: false });
    expect((await other.updater.checkForUpdates())?.version).not.toBe('1.3.0');
    await expect(stat(staged.stagedDir)).rejects.toMatchObject({ code: 'ENOENT' });

    // This instance has not checked since: quitAndInstall finds the folder gone, quits nothing, starts no installer.
    const refused = (() => {
      try {
        first.updater.quitAndInstall({ relaunch: false });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(UpdateError);
    expect([(refused as UpdateError).code, (refused as UpdateError).message]).toEqual([
      'NO_UPDATE',
      'the downloaded update 1.3.0 is no longer staged (found yanked by a check since, or removed); nothing was installed',
    ]);
    expect(errors.map((e) => e.code)).toEqual(['NO_UPDATE']);
    expect(first.electron.quitCount).toBe(0);
    // Nor does the other process at its normal quit (install at quit): it reports it instead.
    second.electron.quit();
    expect(secondErrors.map((e) => [e.code, e.message])).toEqual([['NO_UPDATE', (refused as UpdateError).message]]);
    await expect(stat(installerPidPath(cacheDir))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readInstallOutcome(cacheDir)).toBeUndefined();
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
  });

  it('drops a downloaded update that its own check since found yanked, and installs nothing at quit', async () => {
    const app = await installApp('1.0.0');
    const running = appProcess();
    const cacheDir = app.cacheDir;
    await unyankRelease({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, version: '1.3.0' });
    const { updater, electron } = launch('1.0.0', app, running.pid!, { autoDownload: false });
    expect((await updater.checkForUpdates())?.version).toBe('1.3.0');
    await updater.downloadUpdate();
    expect(updater.getStatus()).toMatchObject({ state: 'downloaded', update: { version: '1.3.0' } });

    await yankRelease({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, version: '1.3.0', reason: 'loses settings' });
    // The check removes the staged copy; the updater no longer holds it: the newest good release is offered instead.
    const info = await updater.checkForUpdates();
    // 1.2.0 when the test before published it.
    expect(['1.1.0', '1.2.0']).toContain(info?.version);
    expect(updater.getStatus()).toMatchObject({ state: 'available', update: { version: info?.version } });
    expect(() => updater.quitAndInstall({ relaunch: false })).toThrow('there is no downloaded update to install');
    electron.quit();
    expect(electron.quitCount).toBe(1);
    await expect(stat(installerPidPath(cacheDir))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readTree(app.installDir)).toEqual(await readTree(fixture.bundleDir('1.0.0')));
  });
});
