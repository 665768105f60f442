import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BundleError, type BundleErrorCode } from '../src/index.js';

/** Temp folders made by {@link tempDir}; a test file removes them in `afterEach(cleanTempDirs)`. */
const made: string[] = [];

export async function tempDir(prefix = 'tufup-bundle-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function cleanTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Awaits `promise` and checks it failed with a BundleError of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: BundleErrorCode | readonly BundleErrorCode[]): Promise<BundleError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BundleError);
  const codes: readonly BundleErrorCode[] = typeof code === 'string' ? [code] : code;
  expect(codes).toContain((error as BundleError).code);
  return error as BundleError;
}

/** Checks a synchronous call throws a BundleError of `code`; returns the error. */
export function expectThrowsCode(fn: () => unknown, code: BundleErrorCode): BundleError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(BundleError);
  expect((error as BundleError).code).toBe(code);
  return error as BundleError;
}

/** What a folder holds, per relative path: enough to compare two trees file by file. */
export type TreeEntry =
  | { type: 'file'; mode: number; sha256: string }
  | { type: 'directory'; mode: number }
  | { type: 'symlink'; target: string };

export async function treeOf(root: string): Promise<Record<string, TreeEntry>> {
  const tree: Record<string, TreeEntry> = {};
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? root : join(root, rel));
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = await lstat(full);
      if (st.isSymbolicLink()) tree[path] = { type: 'symlink', target: await readlink(full) };
      else if (st.isDirectory()) {
        tree[path] = { type: 'directory', mode: st.mode & 0o7777 };
        await walk(path);
      } else tree[path] = { type: 'file', mode: st.mode & 0o7777, sha256: createHash('sha256').update(await readFile(full)).digest('hex') };
    }
  };
  await walk('');
  return tree;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Feeds a buffer to a consumer of tar streams in uneven chunks, as a network or file would. */
export async function* chunksOf(data: Buffer, size = 7_000): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) {
    await Promise.resolve();
    yield data.subarray(offset, offset + size);
  }
}

/** How many file descriptors of this process are open on `path` (Linux only: /proc/self/fd). */
async function openFdsOn(path: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target === path).length;
}

/**
 * The descriptors still open on `path` once closing has had its chance: closing is asynchronous, so this
 * waits up to 5 s for the count to reach 0, far more than a destroyed stream takes.
 */
export async function openFdsOnceSettled(path: string): Promise<number> {
  for (let i = 0; i < 250 && (await openFdsOn(path)) > 0; i++) await delay(20);
  return openFdsOn(path);
}
