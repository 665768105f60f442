import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initRepository, RepoError, signRepository } from '../src/index.js';
import { withTransaction } from '../src/store.js';
import { codeOf, useSmallDisk } from './helpers/fixtures.js';

/** Fills the disk to the last byte; the returned file frees it again. */
async function fill(dir: string): Promise<string> {
  const filler = join(dir, 'filler');
  await writeFile(filler, Buffer.alloc(4 * 1024 * 1024)).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  });
  return filler;
}

describe('the repository lock on a disk that fills up', () => {
  const fixture = useSmallDisk(512);

  // Creating the lock file needs no space, writing the pid into it does: the lock must not outlive that failure.
  it('a command that cannot write its lock fails with DISK_FULL, and the next one runs once there is room', async (ctx) => {
    const { tmp, disk } = fixture;
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
  const fixture = useSmallDisk(512);

  it('fails with the error of the command, not the one of removing its scratch space', async (ctx) => {
    const { disk } = fixture;
    if (typeof disk === 'string') return ctx.skip(disk);
    const small = disk;
    const repoDir = join(small.dir, 'repo');
    await mkdir(repoDir);
    const original = new RepoError('VERSION_NOT_FOUND', 'the command failed');
    const run = withTransaction({ repoDir }, async (tx) => {
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
