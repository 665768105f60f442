import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, chmod, chown, constants, copyFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installFiles, installFolder, installerCommand, shippedScript, startInstaller as launchInstaller, type InstallRequest } from '../src/install/installer.js';
import { readInstallOutcome, type InstallOutcome } from '../src/install/outcome.js';
import { waitFor } from '@tufup/testkit';
import { launches, runStandin, standinCommand, stopLaunched, writeStandinApp, type AppBehaviour } from './standin/app.js';

let root: string;
let installDir: string;
let cacheDir: string;
let stagedDir: string;
let outDir: string;
const running: ChildProcess[] = [];
/** Installers a test started (detached: each leads its own process group). */
const installers: number[] = [];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; its state letter says it has exited.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The product's startInstaller, remembered so that a test ends only once its installers did. */
function startInstaller(request: InstallRequest): ChildProcess {
  const child = launchInstaller(request);
  if (child.pid !== undefined) installers.push(child.pid);
  return child;
}

/**
 * Lets each installer finish (after writing its result it still tidies the cache folder), then ends what
 * is left of its process group: removing the test's folder under a running installer raced with it
 * (ENOTEMPTY on a loaded machine).
 */
async function endInstallers(): Promise<void> {
  for (const pid of installers.splice(0)) {
    await waitFor(() => Promise.resolve(alive(pid) ? undefined : true), `installer ${pid} to exit`, 5_000).catch(() => undefined);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is gone.
    }
  }
}

/** Starts the installed version the way a user would; it keeps running until it is stopped. */
async function startApp(): Promise<ChildProcess> {
  const [command = '', ...args] = standinCommand(installDir, outDir, installFolder(cacheDir));
  const child = spawn(command, args, { stdio: 'ignore' });
  running.push(child);
  const started = async () => ((await launches(outDir)).some((l) => l.pid === child.pid) ? true : undefined);
  await waitFor(started, 'the app to start');
  return child;
}

async function quit(app: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => app.once('exit', resolve));
  app.kill('SIGTERM');
  await closed;
}

async function setUp(newBehaviour: AppBehaviour, stagedParent?: string): Promise<void> {
  await writeStandinApp(installDir, '1.0.0', 'healthy');
  stagedDir = join(stagedParent ?? join(cacheDir, 'staged'), '2.0.0');
  await writeStandinApp(stagedDir, '2.0.0', newBehaviour);
}

function request(pid: number, extra: Partial<InstallRequest> = {}): InstallRequest {
  return {
    pid,
    installDir,
    stagedDir,
    version: '2.0.0',
    cacheDir,
    relaunch: standinCommand(installDir, outDir, installFolder(cacheDir)),
    healthTimeoutMs: 20_000,
    waitTimeoutMs: 20_000,
    ...extra,
  };
}

/** The launches once there are `count` of them: a relaunched app records itself a moment after it starts. */
async function launchCount(count: number): Promise<{ version: string; pid: number }[]> {
  return waitFor(async () => {
    const started = await launches(outDir);
    return started.length >= count ? started : undefined;
  }, `${count} launches`);
}

async function outcome(): Promise<InstallOutcome> {
  return waitFor(async () => {
    const result = await readInstallOutcome(cacheDir);
    return result !== undefined && result.status !== 'started' ? result : undefined;
  }, 'the installer result');
}

async function logText(): Promise<string> {
  return readFile(installFiles(request(0)).log, 'utf8').catch(() => '');
}

async function logSays(text: string): Promise<void> {
  await waitFor(async () => ((await logText()).includes(text) ? true : undefined), `"${text}" in the installer log`);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-installer-'));
  installDir = join(root, 'apps', 'MyApp');
  cacheDir = join(root, 'cache');
  outDir = join(root, 'out');
  await mkdir(outDir, { recursive: true });
});

afterEach(async () => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
  await stopLaunched(outDir);
  await endInstallers();
  await chmod(join(root, 'apps'), 0o755).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('the POSIX installer', () => {
  it('waits for the app to exit, swaps the staged version in and relaunches it', async () => {
    await setUp('healthy');
    const app = await startApp();
    startInstaller(request(app.pid!));
    await logSays(`waiting for pid ${app.pid!}`);
    expect(await runStandin(installDir)).toBe('1.0.0');

    await quit(app);

    expect(await outcome()).toEqual({ status: 'installed', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('2.0.0');
    expect((await launches(outDir)).map((l) => l.version)).toEqual(['1.0.0', '2.0.0']);
    expect(await exists(installFiles(request(0)).backup)).toBe(false);
    expect(await exists(stagedDir)).toBe(false);
  });

  it('installs without starting anything when no relaunch is asked for', async () => {
    await setUp('healthy');
    const app = await startApp();
    startInstaller(request(app.pid!, { relaunch: [] }));
    await quit(app);

    expect(await outcome()).toEqual({ status: 'installed', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('2.0.0');
    expect((await launches(outDir)).map((l) => l.version)).toEqual(['1.0.0']);
  });

  it('keeps the files of the new version byte for byte, with their modes and symlinks', async () => {
    await setUp('healthy');
    await symlink('resources/app.asar', join(stagedDir, 'current'));
    const app = await startApp();
    startInstaller(request(app.pid!, { relaunch: [] }));
    await quit(app);

    expect((await outcome()).status).toBe('installed');
    expect(await readlink(join(installDir, 'current'))).toBe('resources/app.asar');
    expect((await stat(join(installDir, 'app.sh'))).mode & 0o777).toBe(0o755);
    expect(await readFile(join(installDir, 'resources', 'app.asar'), 'utf8')).toContain('payload of 2.0.0');
  });

  it('rolls back and relaunches the old version when the new one exits before confirming a healthy start', async () => {
    await setUp('crash');
    const app = await startApp();
    startInstaller(request(app.pid!));
    await quit(app);

    expect(await outcome()).toEqual({ status: 'rolled-back', version: '2.0.0', reason: 'exited-before-healthy' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect((await launchCount(3)).map((l) => l.version)).toEqual(['1.0.0', '2.0.0', '1.0.0']);
    expect(await exists(installFiles(request(0)).backup)).toBe(false);
  });

  it('rolls back and stops the new version when it never confirms a healthy start in time', async () => {
    await setUp('hang');
    const app = await startApp();
    startInstaller(request(app.pid!, { healthTimeoutMs: 1000 }));
    await quit(app);

    expect(await outcome()).toEqual({ status: 'rolled-back', version: '2.0.0', reason: 'health-timeout' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    const started = await launchCount(3);
    expect(started.map((l) => l.version)).toEqual(['1.0.0', '2.0.0', '1.0.0']);
    expect(alive(started[1]!.pid)).toBe(false);
  });

  it('copies the staged folder when it sits on another volume', async (context) => {
    const shm = '/dev/shm';
    if (!(await exists(shm)) || (await stat(shm)).dev === (await stat(tmpdir())).dev) context.skip();
    const otherVolume = await mkdtemp(join(shm, 'tufup-staged-'));
    try {
      await setUp('healthy', otherVolume);
      const app = await startApp();
      startInstaller(request(app.pid!));
      await quit(app);

      expect(await outcome()).toEqual({ status: 'installed', version: '2.0.0' });
      expect(await runStandin(installDir)).toBe('2.0.0');
      expect(await exists(stagedDir)).toBe(false);
      expect(await logText()).toContain('copying the staged folder across volumes');
    } finally {
      await rm(otherVolume, { recursive: true, force: true });
    }
  });

  it('touches nothing when the app does not exit in time', async () => {
    await setUp('healthy');
    const app = await startApp();
    startInstaller(request(app.pid!, { waitTimeoutMs: 1000 }));

    expect(await outcome()).toEqual({ status: 'failed', version: '2.0.0', reason: 'app-still-running' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect(await exists(join(stagedDir, 'app.sh'))).toBe(true);
    expect((await launches(outDir)).map((l) => l.version)).toEqual(['1.0.0']);
  });

  it('keeps the old install and relaunches it when the staged folder is missing', async () => {
    await setUp('healthy');
    await rm(stagedDir, { recursive: true });
    const app = await startApp();
    startInstaller(request(app.pid!));
    await quit(app);

    expect(await outcome()).toEqual({ status: 'failed', version: '2.0.0', reason: 'staged-missing' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect((await launchCount(2)).map((l) => l.version)).toEqual(['1.0.0', '1.0.0']);
  });

  it('keeps the old install and the staged update when the install folder is not writable', async () => {
    await setUp('healthy');
    const app = await startApp();
    const req = request(app.pid!, { relaunch: [] });
    const files = installFiles(req);
    await mkdir(installFolder(cacheDir), { recursive: true });
    await copyFile(shippedScript('linux'), files.script);
    await chmod(join(root, 'apps'), 0o555);
    // root ignores file modes, so as root the installer runs as nobody, like an app installed by an admin.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      await chmod(root, 0o755);
      await chownTree(cacheDir, 65534);
    }
    const { command, args } = installerCommand(req);
    const installer = spawn(command, args, { stdio: 'ignore', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    running.push(installer);
    await quit(app);

    expect(await outcome()).toEqual({ status: 'failed', version: '2.0.0', reason: 'install-not-writable' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect(await runStandin(stagedDir)).toBe('2.0.0');
    expect((await readdir(join(root, 'apps'))).sort()).toEqual(['MyApp']);
  });

  it('leaves the old install and the staged update in place when killed while waiting, so a later run installs it', async () => {
    await setUp('healthy');
    const app = await startApp();
    const installer = startInstaller(request(app.pid!));
    await logSays(`waiting for pid ${app.pid!}`);
    installer.kill('SIGKILL');
    await quit(app);

    expect(await readInstallOutcome(cacheDir)).toEqual({ status: 'started', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect(await runStandin(stagedDir)).toBe('2.0.0');

    const nextLaunch = await startApp();
    startInstaller(request(nextLaunch.pid!));
    await quit(nextLaunch);
    expect(await outcome()).toEqual({ status: 'installed', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('2.0.0');
  });

  it('leaves a runnable new version and its backup when killed during the health check', async () => {
    await setUp('hang');
    const app = await startApp();
    const installer = startInstaller(request(app.pid!));
    await quit(app);
    await logSays('relaunched');
    installer.kill('SIGKILL');

    expect(await runStandin(installDir)).toBe('2.0.0');
    expect(await runStandin(installFiles(request(0)).backup)).toBe('1.0.0');
    expect(await readInstallOutcome(cacheDir)).toEqual({ status: 'started', version: '2.0.0' });
  });

  it('rejects a call without the required arguments and touches nothing', async () => {
    await setUp('healthy');
    const child = spawn('/bin/sh', [shippedScript('linux'), '--pid', '1', '--install', installDir], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(64);
    expect(await runStandin(installDir)).toBe('1.0.0');
  });
});

/** Runs the installer for `req` to its end with `env` (the app has quit already: `req.pid` has exited). */
async function runScript(req: InstallRequest, env: NodeJS.ProcessEnv): Promise<InstallOutcome> {
  const files = installFiles(req);
  await mkdir(installFolder(cacheDir), { recursive: true });
  await copyFile(shippedScript('linux'), files.script);
  const { command, args } = installerCommand(req);
  const installer = spawn(command, args, { stdio: 'ignore', env });
  running.push(installer);
  return outcome();
}

/** The test's environment, minus the variable that forces two renames. */
function envAsUsers(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TUFUP_INSTALL_NO_EXCHANGE;
  return env;
}

/** A folder of links to the system's tools the script uses, without perl: a system where perl is not installed. */
async function toolsWithoutPerl(): Promise<string> {
  const bin = join(root, 'bin-without-perl');
  await mkdir(bin, { recursive: true });
  for (const tool of ['basename', 'cat', 'cp', 'date', 'dirname', 'find', 'grep', 'ls', 'mkdir', 'mv', 'ps', 'rm', 'sed', 'sleep', 'stat', 'sync', 'uname']) {
    for (const dir of ['/usr/bin', '/bin']) {
      if (await access(join(dir, tool), constants.X_OK).then(() => true, () => false)) {
        await symlink(join(dir, tool), join(bin, tool));
        break;
      }
    }
  }
  return bin;
}

const exited = (): number => spawnSync('true').pid;
const perlHere = spawnSync('/bin/sh', ['-c', 'command -v perl'], { stdio: 'ignore' }).status === 0;
// The architectures whose renameat2 number install.sh knows (through perl's own ABI).
const exchangeExpected = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') && perlHere;
const mvExchanges = /--exchange/.test(spawnSync('mv', ['--help'], { encoding: 'utf8' }).stdout);

describe('the POSIX installer swap', () => {
  function incoming(): string {
    return join(dirname(installDir), `.${basename(installDir)}.tufup-incoming`);
  }

  it.skipIf(!exchangeExpected)('trades the install folder for the new version in one atomic exchange, and trades back on a rollback', async () => {
    await setUp('crash');
    const result = await runScript(request(exited()), envAsUsers());

    expect(result).toEqual({ status: 'rolled-back', version: '2.0.0', reason: 'exited-before-healthy' });
    const log = await logText();
    expect(log).toContain(`exchanged ${incoming()} and ${installDir} atomically (perl)`);
    expect(log).toContain(`exchanged ${installFiles(request(0)).backup} and ${installDir} atomically (perl)`);
    expect(log).not.toContain('two renames');
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect(await readdir(join(root, 'apps'))).toEqual(['MyApp']);
  });

  it('swaps with two renames on a system without perl (or with mv --exchange where GNU mv has it)', async () => {
    await setUp('healthy');
    const bin = await toolsWithoutPerl();
    const result = await runScript(request(exited(), { relaunch: [] }), { ...envAsUsers(), PATH: bin });

    expect(result).toEqual({ status: 'installed', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('2.0.0');
    expect(await readdir(join(root, 'apps'))).toEqual(['MyApp']);
    const log = await logText();
    if (mvExchanges) expect(log).toContain('atomically (mv --exchange)');
    else expect(log).toContain('no atomic exchange here: swapping with two renames');
  });

  // Where GNU mv has --exchange it would exchange after the refusal; the case above covers that path.
  it.skipIf(mvExchanges)('falls back to two renames when the exchange is refused (a file system without it), and installs', async () => {
    await setUp('healthy');
    // A perl whose system call fails as renameat2 does on a file system without RENAME_EXCHANGE (EINVAL):
    // no file system here lacks it, so the refusal is played by a stand-in.
    const bin = join(root, 'bin-refusing');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'perl'), '#!/bin/sh\nprintf "Invalid argument" >&2\nexit 1\n');
    await chmod(join(bin, 'perl'), 0o755);
    const result = await runScript(request(exited(), { relaunch: [] }), { ...envAsUsers(), PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` });

    expect(result).toEqual({ status: 'installed', version: '2.0.0' });
    expect(await runStandin(installDir)).toBe('2.0.0');
    const log = await logText();
    expect(log).toContain('no exchange through perl (exit 1) Invalid argument');
    expect(log).toContain('no atomic exchange here: swapping with two renames');
  });

  it('swaps with two renames when TUFUP_INSTALL_NO_EXCHANGE=1 (for tests), and rolls back with renames too', async () => {
    await setUp('crash');
    const result = await runScript(request(exited()), { ...process.env, TUFUP_INSTALL_NO_EXCHANGE: '1' });

    expect(result).toEqual({ status: 'rolled-back', version: '2.0.0', reason: 'exited-before-healthy' });
    const log = await logText();
    expect(log).toContain('no atomic exchange here: swapping with two renames');
    expect(log).not.toContain('atomically');
    expect(await runStandin(installDir)).toBe('1.0.0');
    expect(await readdir(join(root, 'apps'))).toEqual(['MyApp']);
  });
});

async function chownTree(path: string, id: number): Promise<void> {
  await chown(path, id, id);
  if ((await stat(path)).isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), id);
  }
}
