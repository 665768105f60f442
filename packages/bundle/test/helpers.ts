import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectionOf, thrownBy } from '@tufup/testkit';
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

/** Awaits `promise` and checks it failed with a BundleError (of this package's source) of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: BundleErrorCode | readonly BundleErrorCode[]): Promise<BundleError> {
  const error = await rejectionOf(promise, BundleError);
  const codes: readonly BundleErrorCode[] = typeof code === 'string' ? [code] : code;
  expect(codes).toContain(error.code);
  return error;
}

/** Checks a synchronous call throws a BundleError of `code`; returns the error. */
export function expectThrowsCode(fn: () => unknown, code: BundleErrorCode): BundleError {
  const error = thrownBy(fn, BundleError);
  expect(error.code).toBe(code);
  return error;
}

/** Feeds a buffer to a consumer of tar streams in uneven chunks, as a network or file would. */
export async function* chunksOf(data: Buffer, size = 7_000): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) {
    await Promise.resolve();
    yield data.subarray(offset, offset + size);
  }
}
