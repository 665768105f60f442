import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeOf as codeOfError } from '@tufup/testkit';
import { initRepository, RepoError, type RepoErrorCode } from '../../src/index.js';

// The shared helpers, under the names this suite's tests import them by.
export { listFiles, treeHash, useSmallDisk } from '@tufup/testkit';

/** The repository root (four levels up from this file). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The project's Node (24), whatever the system Node is. */
export const NODE = join(ROOT, 'node_modules/.bin/node');
/** The program npm links as `tufup-repo` (it checks the Node version, then loads dist/cli). */
export const CLI = join(ROOT, 'packages/repo-tools/bin/tufup-repo.js');

/** A temp folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'tufup-repo-tools-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A temp folder for one repository: `repo/` and `keys/` inside it; with `init`, initialised for that app name. */
export async function tempRepo(init?: { appName: string }): Promise<{ tmp: string; repoDir: string; keysDir: string; cleanup: () => Promise<void> }> {
  const { dir: tmp, cleanup } = await tempDir();
  const repoDir = join(tmp, 'repo');
  const keysDir = join(tmp, 'keys');
  if (init !== undefined) await initRepository({ repoDir, keysDir, appName: init.appName });
  return { tmp, repoDir, keysDir, cleanup };
}

/**
 * Writes version `step` (0, 1, 2 ...) of a small but real app bundle: a few hundred KB of JavaScript
 * copied from node_modules, then changed a little each version, as real releases change. Kept apart from
 * @tufup/testkit's `writeBundle` (a runnable app around an incompressible resource, for client updates):
 * the publisher's archive and patch sizes here are those of real code.
 */
export async function writeBundle(dir: string, step: number): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, 'node_modules/semver'), join(dir, 'resources/semver'), { recursive: true });
  await cp(join(ROOT, 'node_modules/@tufjs/models/dist'), join(dir, 'resources/models'), { recursive: true });
  await writeFile(join(dir, 'version.txt'), `step ${step}\n`);
  for (let i = 1; i <= step; i++) {
    // Each release edits one file and adds another, like a bug fix plus a feature.
    await writeFile(join(dir, `resources/feature-${i}.js`), `export const feature${i} = ${JSON.stringify('x'.repeat(1000 * i))};\n`);
    const main = join(dir, 'resources/semver/index.js');
    await writeFile(main, `${await readFile(main, 'utf8')}\n// release ${i}\n`);
  }
  return dir;
}

/** The outcome of one CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `tufup-repo` CLI in a child process on the project's Node. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CliRun> {
  // A clean environment, so keys or passphrases of the machine running the tests cannot leak in.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env };
  return new Promise((resolvePromise) => {
    const child = execFile(NODE, [CLI, ...args], { env, cwd: options.cwd ?? ROOT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs the CLI and fails the test, showing stderr, unless it exits 0. */
export async function cliOk(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CliRun> {
  const run = await runCli(args, options);
  if (run.code !== 0) throw new Error(`tufup-repo ${args.join(' ')} exited ${run.code}:\n${run.stderr}`);
  return run;
}

/** The error code the CLI printed with --json on stderr. */
export function errorCode(run: CliRun): string | undefined {
  const line = run.stderr.trim().split('\n').at(-1) ?? '';
  try {
    return (JSON.parse(line) as { error?: { code?: string } }).error?.code;
  } catch {
    return /\[([A-Z_]+)\]\s*$/m.exec(run.stderr)?.[1];
  }
}

/** The code of the RepoError (of this package's source) a promise rejects with; fails the test when it resolves or rejects with anything else. */
export function codeOf(promise: Promise<unknown>): Promise<RepoErrorCode> {
  return codeOfError(promise, RepoError);
}
