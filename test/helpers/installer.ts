import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
// The installer handoff is not exported by @tufup/electron-client (only main, core, worker, preload are);
// these are its built files, the same code the package's main entry uses.
import { installFiles, installerCommand, shippedScript, startInstaller, type InstallRequest } from '../../packages/electron-client/dist/install/installer.js';
import { readInstallOutcome, type InstallOutcome } from '../../packages/electron-client/dist/install/outcome.js';

export type { InstallRequest, InstallOutcome };

/** Polls `probe` until it returns a value; another process is writing what it looks for. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * The steps of install.sh a kill can land between, each named after the command it is about to run;
 * `waiting` and `health` are its two waits (for the app to exit, for the relaunched app to report healthy).
 */
export type InstallStep = 'waiting' | 'staging' | 'backup' | 'swap' | 'health' | 'cleanup' | 'result';

/** The command line that starts `step`: [tool, what its arguments contain]. */
function stepCommand(request: InstallRequest, step: Exclude<InstallStep, 'waiting' | 'health'>): [string, string] {
  const files = installFiles(request);
  const incoming = join(dirname(request.installDir), `.${basename(request.installDir)}.tufup-incoming`);
  switch (step) {
    case 'staging':
      return ['mv', `${request.stagedDir} ${incoming}`];
    case 'backup':
      return ['mv', `${request.installDir} ${files.backup}`];
    case 'swap':
      return ['mv', `${incoming} ${request.installDir}`];
    case 'cleanup':
      return ['rm', `-rf -- ${files.backup}`];
    case 'result':
      return ['mv', `${files.result}.tmp ${files.result}`];
  }
}

// Stands in for mv or rm: runs the real one, except for the one command line the test waits for, where it
// signals the test and hangs, so the installer is stopped exactly before that step.
const WRAPPER = (tool: string): string => `#!/bin/sh
if [ "$TUFUP_TEST_TOOL" = ${tool} ]; then
  case "$*" in *"$TUFUP_TEST_ARGS"*) : >"$TUFUP_TEST_MARKER"; exec sleep 600 ;; esac
fi
exec /bin/${tool} "$@"
`;

/**
 * Runs the real install.sh for `request` and returns it stopped just before `step` (for the waits: while
 * it waits), in its own process group, so the test can SIGKILL it there as a power cut would.
 */
export async function installerStoppedAt(request: InstallRequest, step: InstallStep, workDir: string): Promise<ChildProcess> {
  const files = installFiles(request);
  await mkdir(dirname(files.script), { recursive: true });
  await copyFile(shippedScript('linux'), files.script);
  await writeFile(files.result, '');
  const bin = join(workDir, 'bin');
  const marker = join(workDir, `stopped-before-${step}`);
  await mkdir(bin, { recursive: true });
  for (const tool of ['mv', 'rm']) {
    await writeFile(join(bin, tool), WRAPPER(tool));
    await chmod(join(bin, tool), 0o755);
  }
  const [tool, args] = step === 'waiting' || step === 'health' ? ['none', ''] : stepCommand(request, step);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, TUFUP_TEST_TOOL: tool, TUFUP_TEST_ARGS: args, TUFUP_TEST_MARKER: marker };
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

/** SIGKILLs a process group started detached, and waits until its leader is gone. */
export async function killGroup(child: ChildProcess): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-(child.pid ?? 0), 'SIGKILL');
  } catch {
    // already gone
  }
  await exited;
}

/** Hands off to the installer the way the app does on quit, and waits for its result. */
export async function runInstaller(request: InstallRequest): Promise<InstallOutcome> {
  startInstaller(request);
  return waitFor(async () => {
    const outcome = await readInstallOutcome(request.cacheDir);
    return outcome !== undefined && outcome.status !== 'started' ? outcome : undefined;
  }, 'the installer result');
}
