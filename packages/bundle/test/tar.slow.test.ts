import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountSmallDisk } from '@tufup/testkit';
import { writeFileAtomic } from '../src/index.js';
import { cleanTempDirs, exists, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

describe('writeFileAtomic on a disk that fills up', () => {
  // A tmpfs with room for part of one chunk: write(2) stores what fits and reports a short count
  // instead of failing, so only a writer that loops on bytesWritten meets the ENOSPC.
  it('fails with DISK_FULL instead of committing a truncated file, and leaves nothing behind', async (ctx) => {
    const disk = await mountSmallDisk(join(await tempDir(), 'disk'), 64);
    if (typeof disk === 'string') return ctx.skip(disk);
    try {
      const path = join(disk.dir, 'out.bin');
      let hashed = 0;
      await expectCode(
        writeFileAtomic(path, [Buffer.alloc(200_000, 7)], (chunk) => (hashed += chunk.length)),
        'DISK_FULL',
      );
      expect(hashed).toBe(200_000);
      expect(await exists(path)).toBe(false);
      expect(await readdir(disk.dir)).toEqual([]);
    } finally {
      await disk.unmount();
    }
  });
});
