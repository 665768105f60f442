import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initRepository, RepoError, signRepository, type RepoErrorCode } from '../src/index.js';
import { withTransaction } from '../src/store.js';
import { tempDir } from './helpers/fixtures.js';
import { mountSmallDisk, type SmallDisk } from '../../bundle/test/small-disk.js';

async function codeOf(promise: Promise<unknown>): Promise<RepoErrorCode | undefined> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RepoError);
  return (error as RepoError).code;
}

/** Fills the disk to the last byte; the returned file frees it again. */
async function fill(dir: string): Promise<string> {
  const filler = join(dir, 'filler');
  await writeFile(filler, Buffer.alloc(4 * 1024 * 1024)).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  });
  return filler;
}

describe('the repository lock on a disk that fills up', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let disk: SmallDisk | string;

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    disk = await mountSmallDisk(join(tmp, 'disk'), 512);
  });
  afterEach(async () => {
    if (typeof disk !== 'string') await disk.unmount();
    await cleanup();
  });

  // Creating the lock file needs no space, writing the pid into it does: the lock must not outlive that failure.
  it('a command that cannot write its lock fails with DISK_FULL, and the next one runs once there is room', async (ctx) => {
    if (typeof disk === 'string') return ctx.skip(disk);
    const repoDir = join(disk.dir, 'repo');
    const keysDir = join(tmp, 'keys');
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const filler = await fill(disk.dir);
    expect(await codeOf(signRepository({ repoDir, keysDir }))).toBe('DISK_FULL');
    expect((await readdir(disk.dir)).sort()).toEqual(['filler', 'repo']);
    await rm(filler);
    const signed = await signRepository({ repoDir, keysDir });
    expect(signed.roles).toEqual(['timestamp']);
  });
});

describe('a transaction whose clean-up fails too', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let disk: SmallDisk | string;

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    disk = await mountSmallDisk(join(tmp, 'disk'), 512);
  });
  afterEach(async () => {
    if (typeof disk !== 'string') await disk.unmount();
    await cleanup();
  });

  it('fails with the error of the command, not the one of removing its scratch space', async (ctx) => {
    if (typeof disk === 'string') return ctx.skip(disk);
    const small = disk;
    const repoDir = join(small.dir, 'repo');
    await mkdir(repoDir);
    const original = new RepoError('VERSION_NOT_FOUND', 'the command failed');
    const run = withTransaction(repoDir, async (tx) => {
      await tx.put('notes.txt', Buffer.from('staged'));
      // The disk turns read-only under the command: the scratch folder and the lock cannot be removed.
      small.remount('ro');
      throw original;
    });
    await expect(run).rejects.toBe(original);
    small.remount('rw');
    expect(await readdir(repoDir)).toEqual([]);
  });
});
