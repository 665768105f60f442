import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, copyFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  installFiles,
  installerCommand,
  leftoverPaths,
  readInstallOutcome,
  shippedScript,
  startInstaller,
  type InstallOutcome,
  type InstallRequest,
} from '@tufup/electron-client/install';
import { waitFor } from '@tufup/testkit';

export type { InstallRequest, InstallOutcome };
export { waitFor };

/**
 * The steps of install.sh a kill can land between, each named after the command it is about to run;
 * `waiting` and `health` are its two waits (for the app to exit, for the relaunched app to report healthy).
 * With an atomic exchange, `swap` is the exchange itself and `backup` comes after it (the old version,
 * now at the incoming name, is renamed to the backup); with two renames, `backup` renames the install
 * folder aside and `swap` renames the new version into its place. After a good install, `cleanup` renames
 * the backup to the trash name, `discard` deletes the trash, and `result` writes `installed`.
 */
export type InstallStep = 'waiting' | 'staging' | 'backup' | 'swap' | 'health' | 'cleanup' | 'result' | 'discard';

/** How install.sh swaps the folders: one atomic exchange, or two renames (forced by `TUFUP_INSTALL_NO_EXCHANGE=1`). */
export type SwapMode = 'exchange' | 'renames';

/** The command that starts `step`: [the tools that may run it, what its arguments contain]. */
function stepCommand(request: InstallRequest, step: Exclude<InstallStep, 'waiting' | 'health'>, mode: SwapMode): [string, string] {
  const files = installFiles(request);
  const incoming = join(dirname(request.installDir), `.${basename(request.installDir)}.tufup-incoming`);
  switch (step) {
    case 'staging':
      return ['mv', `${request.stagedDir} ${incoming}`];
    case 'backup':
      return ['mv', mode === 'exchange' ? `${incoming} ${files.backup}` : `${request.installDir} ${files.backup}`];
    case 'swap':
      // The exchange runs through perl or `mv --exchange`; the second of two renames through mv.
      return ['mv perl', `${incoming} ${request.installDir}`];
    case 'cleanup':
      return ['mv', `${files.backup} ${leftoverPaths(request.installDir).trash}`];
    case 'result':
      return ['mv', `${files.result}.tmp ${files.result}`];
    case 'discard':
      return ['rm', `-rf -- ${leftoverPaths(request.installDir).trash}`];
  }
}

const TOOLS = ['mv', 'rm', 'perl'] as const;

/** Where a tool really lives, found before the wrappers shadow it on PATH. */
async function realTool(tool: string): Promise<string> {
  for (const dir of ['/bin', '/usr/bin', '/usr/local/bin']) {
    const path = join(dir, tool);
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
  }
  // Absent here (perl on a minimal system): the wrapper then fails like a missing command would.
  return join('/nonexistent', tool);
}

// Stands in for mv, rm or perl: runs the real one, except for the one command line the test waits for,
// where it signals the test and hangs, so the installer is stopped exactly before that step.
const WRAPPER = (tool: string, real: string): string => `#!/bin/sh
case " $TUFUP_TEST_TOOL " in
  *" ${tool} "*) case "$*" in *"$TUFUP_TEST_ARGS"*) : >"$TUFUP_TEST_MARKER"; exec sleep 600 ;; esac ;;
esac
exec ${real} "$@"
`;

/**
 * Runs the real install.sh for `request` and returns it stopped just before `step` (for the waits: while
 * it waits), in its own process group, so the test can SIGKILL it there as a power cut would. `mode`
 * `renames` forces the two-rename swap, as on a system without an atomic exchange.
 */
export async function installerStoppedAt(request: InstallRequest, step: InstallStep, workDir: string, mode: SwapMode = 'exchange'): Promise<ChildProcess> {
  const files = installFiles(request);
  await mkdir(dirname(files.script), { recursive: true });
  await copyFile(shippedScript('linux'), files.script);
  // As the app does before it starts the installer: the run's version, for a launch that finds it interrupted.
  await writeFile(files.result, `started ${request.version}\n`);
  const bin = join(workDir, 'bin');
  const marker = join(workDir, `stopped-before-${step}`);
  await mkdir(bin, { recursive: true });
  for (const tool of TOOLS) {
    await writeFile(join(bin, tool), WRAPPER(tool, await realTool(tool)));
    await chmod(join(bin, tool), 0o755);
  }
  const [tool, args] = step === 'waiting' || step === 'health' ? ['none', ''] : stepCommand(request, step, mode);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, TUFUP_TEST_TOOL: tool, TUFUP_TEST_ARGS: args, TUFUP_TEST_MARKER: marker };
  if (mode === 'renames') env.TUFUP_INSTALL_NO_EXCHANGE = '1';
  else delete env.TUFUP_INSTALL_NO_EXCHANGE;
  const { command, args: argv } = installerCommand(request);
  const child = spawn(command, argv, { detached: true, stdio: 'ignore', env, cwd: dirname(files.script) });
  const logSays = async (text: string): Promise<true | undefined> => ((await readFile(files.log, 'utf8').catch(() => '')).includes(text) ? true : undefined);
  if (step === 'waiting') {
    await waitFor(() => logSays(`waiting for pid ${request.pid}`), 'the installer to wait for the app');
  } else if (step === 'health') {
    await waitFor(() => logSays('relaunched'), 'the installer to wait for a healthy start');
  } else {
    await waitFor(async () => ((await readFile(marker).then(() => true, () => false)) ? true : undefined), `the installer to reach ${step}`);
  }
  return child;
}

/**
 * Starts the real install.sh for `request` as the app does (its own process group, detached), with `mode`'s
 * swap; resolves once it is started. The test may SIGKILL its group at any moment, as a power cut would.
 */
export async function startScript(request: InstallRequest, mode: SwapMode): Promise<ChildProcess> {
  const files = installFiles(request);
  await mkdir(dirname(files.script), { recursive: true });
  await copyFile(shippedScript('linux'), files.script);
  await writeFile(files.result, `started ${request.version}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (mode === 'renames') env.TUFUP_INSTALL_NO_EXCHANGE = '1';
  else delete env.TUFUP_INSTALL_NO_EXCHANGE;
  const { command, args } = installerCommand(request);
  const child = spawn(command, args, { detached: true, stdio: 'ignore', env, cwd: dirname(files.script) });
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child;
}

/**
 * How install.sh swaps folders on this machine, found by running it on two small folders in `workDir`:
 * `exchange` when it swapped them in one atomic step, `renames` when it fell back to two renames.
 */
export async function swapModeHere(workDir: string): Promise<SwapMode> {
  const install = join(workDir, 'probe', 'app');
  const staged = join(workDir, 'probe-staged');
  await mkdir(install, { recursive: true });
  await mkdir(staged, { recursive: true });
  await writeFile(join(install, 'version'), 'old');
  await writeFile(join(staged, 'version'), 'new');
  const log = join(workDir, 'probe.log');
  const argv = ['--pid', String(0x7fffffff), '--install', install, '--staged', staged, '--backup', join(workDir, 'probe', '.app.backup'), '--log', log, '--result', join(workDir, 'probe.result'), '--version', '1.0.0', '--health-timeout', '0'];
  const env = { ...process.env };
  delete env.TUFUP_INSTALL_NO_EXCHANGE;
  const child = spawn('/bin/sh', [shippedScript('linux'), ...argv], { stdio: 'ignore', env });
  await new Promise((resolve) => child.once('exit', resolve));
  const text = await readFile(log, 'utf8');
  if (!text.includes('installed 1.0.0')) throw new Error(`the probe install failed:\n${text}`);
  return text.includes('atomically') ? 'exchange' : 'renames';
}

/** Signals a process group started detached (SIGKILL: a power cut), and waits until its leader is gone. */
export async function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-(child.pid ?? 0), signal);
  } catch {
    // already gone
  }
  await exited;
}

/** Waits for the installer started last to write its result. */
export async function installerResult(cacheDir: string): Promise<InstallOutcome> {
  return waitFor(async () => {
    const outcome = await readInstallOutcome(cacheDir);
    return outcome !== undefined && outcome.status !== 'started' ? outcome : undefined;
  }, 'the installer result');
}

/** Hands off to the installer the way the app does on quit, and waits for its result. */
export async function runInstaller(request: InstallRequest): Promise<InstallOutcome> {
  startInstaller(request);
  return installerResult(request.cacheDir);
}
