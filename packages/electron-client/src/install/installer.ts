import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { messageOf } from '@tufup/bundle/base';
import { INSTALLER_SCRIPTS } from '#installer-scripts';
import { UpdateError } from '../core/error.js';
import { startedLine } from './outcome.js';

/** Everything the installer script needs to swap a staged update in after the app exits. */
export interface InstallRequest {
  /** The process to wait for before touching the install folder (the app's main process). */
  pid: number;
  /** The folder being replaced (on macOS the `.app` bundle). */
  installDir: string;
  /** The verified, extracted new version. */
  stagedDir: string;
  /** The version in `stagedDir`. */
  version: string;
  /** The updater's cache folder: the script copy, log, result and health marker live in `<cacheDir>/install/`. */
  cacheDir: string;
  /** Command and arguments that start the app again; empty or absent means no relaunch. @default [] */
  relaunch?: readonly string[];
  /** How long the relaunched app has to call `markHealthy()`; 0 skips the health check. @default 60000 */
  healthTimeoutMs?: number;
  /** How long to wait for `pid` to exit before giving up without touching anything. @default 120000 */
  waitTimeoutMs?: number;
  /** Chooses the script: PowerShell on win32, POSIX sh elsewhere. @default process.platform */
  platform?: NodeJS.Platform;
  /**
   * Files of the install folder the bundle does not have that must survive the update (relative paths with
   * `/`, `*` matching anything): copied into the new version before the swap unless it has that path (the
   * updater's default is `keepDefaults(platform)`, in layouts.ts). @default []
   */
  keep?: readonly string[];
  /**
   * `finish`: a launch found the new version running after an interrupted run; `pid` is that running
   * version, whose health the script checks before it removes the previous one (or rolls back).
   * @default 'install'
   */
  mode?: 'install' | 'finish';
}

/** The files of one installer run; all but `backup` sit in `<cacheDir>/install/`. */
export interface InstallFiles {
  /** The copy of the script that runs (outside the install folder and outside any asar archive). */
  script: string;
  log: string;
  /** One line, `<installed|rolled-back|failed> <version> [<reason>]`, written when the script ends. */
  result: string;
  /** Written by `markHealthy()` in the relaunched version. */
  marker: string;
  /** A sibling of the install folder, so that moving the old install aside is a rename. */
  backup: string;
}

/** Defaults of {@link InstallRequest}. */
export const INSTALL_DEFAULTS = {
  healthTimeoutMs: 60_000,
  waitTimeoutMs: 120_000,
} as const;

/** The folder under the cache folder that holds the installer's files. */
export function installFolder(cacheDir: string): string {
  return join(cacheDir, 'install');
}

/** Where `markHealthy()` of `version` writes, and the installer looks. */
export function healthMarkerPath(cacheDir: string, version: string): string {
  return join(installFolder(cacheDir), `healthy-${version}`);
}

/** The installer's result file: one line, `<installed|rolled-back|failed> <version> [<reason>]`. */
export function installResultPath(cacheDir: string): string {
  return join(installFolder(cacheDir), 'result');
}

/** Holds the process id of the last installer started, so a launch can tell that one is still at work. */
export function installerPidPath(cacheDir: string): string {
  return join(installFolder(cacheDir), 'installer.pid');
}

/** Paths of one installer run. */
export function installFiles(request: Pick<InstallRequest, 'cacheDir' | 'installDir' | 'version' | 'platform'>): InstallFiles {
  const folder = installFolder(request.cacheDir);
  const windows = (request.platform ?? process.platform) === 'win32';
  return {
    script: join(folder, windows ? 'install.ps1' : 'install.sh'),
    log: join(folder, 'install.log'),
    result: installResultPath(request.cacheDir),
    marker: healthMarkerPath(request.cacheDir, request.version),
    backup: join(dirname(request.installDir), `.${basename(request.installDir)}.tufup-backup`),
  };
}

/**
 * The script's text. The package carries it inside its JavaScript (generated from `install/` at build
 * time), so an app whose main process is bundled finds it without copying any file.
 */
export function installerScript(platform: NodeJS.Platform = process.platform): string {
  return (platform === 'win32' ? INSTALLER_SCRIPTS.ps1 : INSTALLER_SCRIPTS.sh).source;
}

/**
 * The script file in this package's `install/` folder, where the package is installed as files (scripts
 * and tests that run it directly). The updater itself writes {@link installerScript} instead.
 */
export function shippedScript(platform: NodeJS.Platform = process.platform): string {
  const file = platform === 'win32' ? 'install.ps1' : 'install.sh';
  return fileURLToPath(new URL(`../../install/${file}`, import.meta.url));
}

function seconds(ms: number): string {
  return String(Math.max(0, Math.ceil(ms / 1000)));
}

/** The command line that runs the installer script for `request` (the script copy must exist). */
export function installerCommand(request: InstallRequest): { command: string; args: string[] } {
  const files = installFiles(request);
  const relaunch = request.relaunch ?? [];
  const keep = request.keep ?? [];
  // [sh option, PowerShell parameter, value]; PowerShell reserves $PID, hence AppPid.
  const options = [
    ['pid', 'AppPid', String(request.pid)],
    ['install', 'InstallDir', request.installDir],
    ['staged', 'StagedDir', request.stagedDir],
    ['backup', 'BackupDir', files.backup],
    ['log', 'LogFile', files.log],
    ['result', 'ResultFile', files.result],
    ['version', 'Version', request.version],
    ['wait-timeout', 'WaitTimeout', seconds(request.waitTimeoutMs ?? INSTALL_DEFAULTS.waitTimeoutMs)],
    ['health-timeout', 'HealthTimeout', seconds(request.healthTimeoutMs ?? INSTALL_DEFAULTS.healthTimeoutMs)],
    ['health-marker', 'HealthMarker', files.marker],
    ...(request.mode === 'finish' ? ([['mode', 'Mode', 'finish']] as const) : []),
  ] as const;
  if ((request.platform ?? process.platform) === 'win32') {
    const named = options.flatMap(([, name, value]) => [`-${name}`, value]);
    // As base64 of a JSON array, no relaunch argument can be taken for a parameter of the script.
    const relaunchArg = relaunch.length > 0 ? ['-Relaunch', Buffer.from(JSON.stringify(relaunch)).toString('base64')] : [];
    const keepArg = keep.length > 0 ? ['-Keep', Buffer.from(JSON.stringify(keep)).toString('base64')] : [];
    return {
      command: 'powershell.exe',
      args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-File', files.script, ...named, ...keepArg, ...relaunchArg],
    };
  }
  const named = [...options.flatMap(([option, , value]) => [`--${option}`, value]), ...keep.flatMap((pattern) => ['--keep', pattern])];
  return { command: '/bin/sh', args: [files.script, ...named, ...(relaunch.length > 0 ? ['--', ...relaunch] : [])] };
}

/**
 * Writes the script into the cache folder (it must not run from inside the folder it replaces, nor from
 * an asar archive) and starts it detached, so it outlives the app. Synchronous, so it can run in a quit
 * handler without delaying the quit.
 */
export function startInstaller(request: InstallRequest): ChildProcess {
  const files = installFiles(request);
  const platform = request.platform ?? process.platform;
  const partial = `${files.script}.partial-${process.pid}`;
  try {
    mkdirSync(dirname(files.script), { recursive: true });
    writeFileSync(partial, installerScript(platform));
    renameSync(partial, files.script);
    // What this run is about, for a launch that finds it interrupted.
    writeFileSync(files.result + '.tmp', startedLine(request.version));
    renameSync(files.result + '.tmp', files.result);
    // The previous installer's pid must not outlive this attempt: should this spawn fail, the next launch
    // would take a live process that reused that pid for an installer at work, and never install.
    rmSync(installerPidPath(request.cacheDir), { force: true });
  } catch (cause) {
    try {
      rmSync(partial, { force: true });
    } catch {
      // The folder refuses writes; the DISK error below says so.
    }
    throw new UpdateError('DISK', `could not prepare the installer in ${dirname(files.script)}: ${messageOf(cause)}`, { cause });
  }
  const { command, args } = installerCommand(request);
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  let child: ChildProcess;
  try {
    child = spawn(command, args, { detached: true, stdio: 'ignore', windowsHide: true, env, cwd: dirname(files.script) });
  } catch (cause) {
    throw new UpdateError('DISK', `could not start the installer: ${messageOf(cause)}`, { cause });
  }
  // A failed spawn is reported asynchronously; the result file then stays empty and the next launch
  // retries the staged update.
  child.on('error', () => undefined);
  child.unref();
  if (child.pid !== undefined) {
    try {
      writeFileSync(installerPidPath(request.cacheDir), `${child.pid}\n`);
    } catch {
      // Only a hint for the next launch; the install itself does not need it.
    }
  }
  return child;
}
