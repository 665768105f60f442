import { execFile, spawnSync } from 'node:child_process';
import { cp, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClient, type CoreOptions } from '@tufup/electron-client/core';
import { healthMarkerPath, NSIS_KEEP, readInstallOutcome, type InstallRequest } from '@tufup/electron-client/install';
import { resolveUpdaterOptions } from '../packages/electron-client/src/main/config.js';
import { StandinElectron } from '../packages/electron-client/test/standin/electron.js';
import { readTree } from './helpers/fixture.js';
import { runInstaller } from './helpers/installer.js';
import { appImage, macApp, MAC_HELPERS, NSIS_ADDS, winUnpacked } from './helpers/layouts.js';
import { Repo } from './helpers/fixture.js';

// The install layouts of the platforms this machine cannot run, updated here with the real publisher
// (`tufup-repo add`), the real client core and the real installer (install.sh; install.ps1 does the same
// steps on Windows). What only the real systems add is said in docs/install-layouts.md.

const CLI = fileURLToPath(new URL('../packages/repo-tools/bin/tufup-repo.js', import.meta.url));
const run = promisify(execFile);

async function tufupRepo(repo: Repo, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--repo', repo.repoDir, '--keys-dir', repo.keysDir]);
  return stdout;
}

/** The client core of an install, its options pointing at `repo`. */
function clientOf(repo: Repo, installDir: string, appName: string, platform: string, arch: string, version: string): { client: UpdateClient; options: CoreOptions } {
  const options: CoreOptions = { ...repo.clientOptions(version, installDir), appName, platform, arch };
  return { client: new UpdateClient(options), options };
}

/** Installs `staged` the way the app does at launch: relaunch, health check (the relaunched app confirms at once, unless `broken`). */
async function install(options: CoreOptions, stagedDir: string, version: string, extra: Partial<InstallRequest> = {}, broken = false): Promise<Awaited<ReturnType<typeof runInstaller>>> {
  const request: InstallRequest = {
    pid: spawnSync('true').pid,
    installDir: options.installDir,
    stagedDir,
    version,
    cacheDir: options.cacheDir,
    relaunch: broken ? ['/bin/sh', '-c', 'exit 3'] : ['/bin/sh', '-c', 'touch "$1"', 'sh', healthMarkerPath(options.cacheDir, version)],
    healthTimeoutMs: 20_000,
    waitTimeoutMs: 20_000,
    ...extra,
  };
  return runInstaller(request);
}

describe('install layouts', () => {
  let repo: Repo;
  beforeAll(async () => {
    repo = await Repo.create();
  });
  afterAll(async () => {
    await repo.cleanup();
  });

  describe('macOS: the install folder is the .app', () => {
    it('an update round-trips an Electron-like .app byte for byte: framework symlinks, helper apps, executable bits, _CodeSignature', async () => {
      const builds = await repo.folder('mac-builds');
      const v1 = await macApp(join(builds, '1.0.0', 'dist', 'mac-arm64'), '1.0.0');
      const v2 = await macApp(join(builds, '1.1.0', 'dist', 'mac-arm64'), '1.1.0');
      // Published as electron-builder leaves it: `tufup-repo add "dist/mac-arm64/My App.app"`.
      await tufupRepo(repo, 'add', v1, '--version', '1.0.0', '--platform', 'darwin', '--arch', 'arm64');
      await tufupRepo(repo, 'add', v2, '--version', '1.1.0', '--platform', 'darwin', '--arch', 'arm64');

      // Installed where the user dragged it, its name with a space as usual.
      const applications = await repo.folder('Applications');
      const installDir = join(applications, 'My App.app');
      await cp(v1, installDir, { recursive: true, verbatimSymlinks: true });
      const { client, options } = clientOf(repo, installDir, 'tufapp', 'darwin', 'arm64', '1.0.0');
      const info = await client.checkForUpdates();
      expect(info?.version).toBe('1.1.0');
      const staged = await client.downloadUpdate(info!);
      // The patch applied to the .app itself: no cached tar, the base rebuilt from the installed bundle.
      expect(staged.strategy).toBe('patch');

      expect(await install(options, staged.stagedDir, '1.1.0')).toEqual({ status: 'installed', version: '1.1.0' });
      expect(await readTree(installDir)).toEqual(await readTree(v2));
      expect(await readdir(applications)).toEqual(['My App.app']);
      // What code signing depends on, checked one by one as well.
      const framework = join(installDir, 'Contents', 'Frameworks', 'Electron Framework.framework');
      expect(await readlink(join(framework, 'Versions', 'Current'))).toBe('A');
      expect(await readlink(join(framework, 'Electron Framework'))).toBe('Versions/Current/Electron Framework');
      for (const helper of MAC_HELPERS) {
        expect((await lstat(join(installDir, 'Contents', 'Frameworks', `${helper}.app`, 'Contents', 'MacOS', helper))).mode & 0o777).toBe(0o755);
        expect((await lstat(join(installDir, 'Contents', 'Frameworks', `${helper}.app`, 'Contents', '_CodeSignature', 'CodeResources'))).isFile()).toBe(true);
      }
      expect((await lstat(join(installDir, 'Contents', 'MacOS', 'My App'))).mode & 0o777).toBe(0o755);
    });
  });

  describe('Windows per-user installs (NSIS): files the installer added survive an update', () => {
    it('keeps the uninstaller and what else NSIS wrote, drops what the bundle dropped, and never keeps a file the new bundle replaces', async () => {
      const builds = await repo.folder('win-builds');
      const v1 = await winUnpacked(join(builds, '1.0.0', 'win-unpacked'), '1.0.0');
      const v2 = await winUnpacked(join(builds, '1.1.0', 'win-unpacked'), '1.1.0', { 'resources/elevate.exe': 'MZ elevate.exe of 1.1.0, signed\n' });
      await tufupRepo(repo, 'add', v1, '--version', '1.0.0', '--platform', 'win32', '--arch', 'x64');
      await tufupRepo(repo, 'add', v2, '--version', '1.1.0', '--platform', 'win32', '--arch', 'x64');

      // %LOCALAPPDATA%\Programs\My App as NSIS leaves it: the app, the files NSIS adds, and a log the app wrote.
      const programs = await repo.folder('Programs');
      const installDir = join(programs, 'My App');
      await cp(v1, installDir, { recursive: true, verbatimSymlinks: true });
      for (const [path, content] of Object.entries(NSIS_ADDS)) {
        await mkdir(dirname(join(installDir, path)), { recursive: true });
        await writeFile(join(installDir, path), content);
      }
      await writeFile(join(installDir, 'debug.log'), 'written by the app\n');

      const { client, options } = clientOf(repo, installDir, 'tufapp', 'win32', 'x64', '1.0.0');
      const staged = await client.downloadUpdate((await client.checkForUpdates())!);
      // The default for Windows, as the updater resolves it.
      const keep = resolveUpdaterOptions({ url: 'https://u.example/' }, new StandinElectron({ name: 'tufapp', version: '1.0.0', userData: programs, resourcesPath: programs, execPath: join(installDir, 'My App.exe') }), 'win32').keepFiles;
      expect(keep).toEqual(NSIS_KEEP);
      expect(await install(options, staged.stagedDir, '1.1.0', { keep })).toEqual({ status: 'installed', version: '1.1.0' });

      const expected = await readTree(v2);
      const installed = await readTree(installDir);
      // The bundle exactly, plus the uninstaller, its icon and the package-type marker, byte for byte.
      const carried = Object.keys(installed).filter((p) => !(p in expected)).sort();
      expect(carried).toEqual(['Uninstall My App.exe', 'resources/package-type', 'uninstallerIcon.ico']);
      for (const path of Object.keys(expected)) expect(installed[path]).toEqual(expected[path]);
      for (const path of carried) expect(await readFile(join(installDir, path), 'utf8')).toBe(NSIS_ADDS[path]);
      // The new bundle's elevate.exe replaced the installer's; the dropped locale and the app's log are gone.
      expect(await readFile(join(installDir, 'resources', 'elevate.exe'), 'utf8')).toBe('MZ elevate.exe of 1.1.0, signed\n');
      expect(installed['locales/fr.pak']).toBeUndefined();
      expect(installed['debug.log']).toBeUndefined();
      const log = await readFile(join(options.cacheDir, 'install', 'install.log'), 'utf8');
      expect(log).toContain('not carrying over resources/elevate.exe: the new version has it');
      expect(await readdir(programs)).toEqual(['My App']);

      // A later update that fails its health check rolls back to 1.1.0 with the uninstaller still there.
      const before = await readTree(installDir);
      const v3 = await winUnpacked(join(builds, '1.2.0', 'win-unpacked'), '1.2.0');
      await tufupRepo(repo, 'add', v3, '--version', '1.2.0', '--platform', 'win32', '--arch', 'x64');
      const next = clientOf(repo, installDir, 'tufapp', 'win32', 'x64', '1.1.0');
      const staged3 = await next.client.downloadUpdate((await next.client.checkForUpdates())!);
      expect(await install(next.options, staged3.stagedDir, '1.2.0', { keep }, true)).toEqual({ status: 'rolled-back', version: '1.2.0', reason: 'exited-before-healthy' });
      expect(await readTree(installDir)).toEqual(before);
      expect(await readInstallOutcome(next.options.cacheDir)).toMatchObject({ status: 'rolled-back' });
    });
  });

  describe('AppImage: one file, swapped in its folder', () => {
    it('publishes an AppImage as a one-file bundle, patches against the running file, swaps it in place, relaunches and health-checks it; a broken one rolls back', async () => {
      const dist = await repo.folder('appimage-dist');
      const v1 = await appImage(join(dist, 'My-App-1.0.0.AppImage'), '1.0.0');
      const v2 = await appImage(join(dist, 'My-App-1.1.0.AppImage'), '1.1.0');
      await tufupRepo(repo, 'add', v1, '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64');
      const added = await tufupRepo(repo, 'add', v2, '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64');
      expect(added).toContain('patch');

      // The user keeps it under a name of their own; the AppImage runtime sets $APPIMAGE to it, and the
      // updater takes it as the install folder and the relaunch command (the executable is in a mount).
      const home = await repo.folder('Applications');
      const running = join(home, 'my-app.AppImage');
      await cp(v1, running);
      const mounted = new StandinElectron({
        name: 'tufapp',
        version: '1.0.0',
        userData: home,
        resourcesPath: '/tmp/.mount_myapp/resources',
        execPath: '/tmp/.mount_myapp/my-app',
        argv: ['/tmp/.mount_myapp/my-app', '--flag'],
        env: { APPIMAGE: running },
      });
      expect(resolveUpdaterOptions({ url: 'https://u.example/' }, mounted, 'linux')).toMatchObject({ installDir: running, relaunchCommand: [running, '--flag'] });
      const { client, options } = clientOf(repo, running, 'tufapp', 'linux', 'x64', '1.0.0');
      const staged = await client.downloadUpdate((await client.checkForUpdates())!);
      expect(staged.strategy).toBe('patch');
      expect(await readdir(staged.stagedDir)).toEqual(['app.AppImage']);

      // Relaunched as the app would be: $APPIMAGE again, which must now be 1.1.0, and confirms.
      const said = join(home, '..', 'relaunched-appimage.txt');
      const relaunch = ['/bin/sh', '-c', '"$1" > "$2" && touch "$3"', 'sh', running, said, healthMarkerPath(options.cacheDir, '1.1.0')];
      expect(await install(options, staged.stagedDir, '1.1.0', { relaunch })).toEqual({ status: 'installed', version: '1.1.0' });
      expect(await readFile(running)).toEqual(await readFile(v2));
      expect((await lstat(running)).mode & 0o777).toBe(0o755);
      expect(await readFile(said, 'utf8')).toBe('My App 1.1.0\n');
      expect(await readdir(home)).toEqual(['my-app.AppImage']);

      // 1.2.0 does not start: the installer puts 1.1.0 back under the same name.
      await tufupRepo(repo, 'add', await appImage(join(dist, 'My-App-1.2.0.AppImage'), '1.2.0'), '--version', '1.2.0', '--platform', 'linux', '--arch', 'x64');
      const next = clientOf(repo, running, 'tufapp', 'linux', 'x64', '1.1.0');
      const staged3 = await next.client.downloadUpdate((await next.client.checkForUpdates())!);
      expect(await install(next.options, staged3.stagedDir, '1.2.0', {}, true)).toEqual({ status: 'rolled-back', version: '1.2.0', reason: 'exited-before-healthy' });
      expect(await readFile(running)).toEqual(await readFile(v2));
      expect(await readdir(home)).toEqual(['my-app.AppImage']);
    });
  });
});
