import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect } from 'vitest';
import { mountSmallDisk, type SmallDisk } from '../../../bundle/test/small-disk.js';
import { RepoError, type RepoErrorCode } from '../../src/index.js';

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

/**
 * Writes version `step` (0, 1, 2 ...) of a small but real app bundle: a few hundred KB of JavaScript
 * copied from node_modules, then changed a little each version, as real releases change.
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

/** sha256 over every path, type, mode and content under `dir`: equal hashes mean byte-identical trees. */
export async function treeHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(dir, path));
      hash.update(`${path}\0${st.mode}\0`);
      if (st.isDirectory()) await walk(path);
      else if (st.isSymbolicLink()) hash.update(await readlink(join(dir, path)));
      else hash.update(await readFile(join(dir, path)));
      hash.update('\0');
    }
  };
  await walk('');
  return hash.digest('hex');
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, path)));
    else out.push(path);
  }
  return out.sort();
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

/** The code of the RepoError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function codeOf(promise: Promise<unknown>): Promise<RepoErrorCode | undefined> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RepoError);
  return (error as RepoError).code;
}

/**
 * A temp folder with a small tmpfs (`disk.dir`) inside, made before and removed after each test of the
 * calling `describe`; `disk` is the reason when it cannot be mounted (the test then skips, saying why).
 */
export function useSmallDisk(sizeKiB: number): { readonly tmp: string; readonly disk: SmallDisk | string } {
  const state: { tmp: string; disk: SmallDisk | string; cleanup: () => Promise<void> } = { tmp: '', disk: '', cleanup: () => Promise.resolve() };
  beforeEach(async () => {
    const made = await tempDir();
    state.tmp = made.dir;
    state.cleanup = made.cleanup;
    state.disk = await mountSmallDisk(join(made.dir, 'disk'), sizeKiB);
  });
  afterEach(async () => {
    if (typeof state.disk !== 'string') await state.disk.unmount();
    await state.cleanup();
  });
  return state;
}
