import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addBundle } from '../src/index.js';
import { codeOf, tempRepo, treeHash } from './helpers/fixtures.js';
import { mountSmallDisk } from '@tufup/testkit';

describe('addBundle making a patch from the previous archive', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;

  beforeEach(async () => {
    ({ tmp, repoDir, keysDir, cleanup } = await tempRepo({ appName: 'demo' }));
    // 1 MB of zeros: a tiny archive in the repository, but a big tar once unpacked for the patch.
    const first = join(tmp, 'bundle-1');
    await mkdir(first, { recursive: true });
    await writeFile(join(first, 'blank.bin'), Buffer.alloc(1024 * 1024));
    await addBundle({ repoDir, keysDir, bundleDir: first, version: '1.0.0', platform: 'linux', arch: 'x64' });
  });
  afterEach(() => cleanup());

  const secondBundle = async (): Promise<string> => {
    const dir = join(tmp, 'bundle-2');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'app.js'), 'console.log("1.1.0");\n');
    return dir;
  };

  it('logs a long diff’s progress in tenths of the new tar', async () => {
    const dir = await secondBundle();
    await mkdir(join(dir, 'assets'));
    for (let i = 0; i < 40; i++) await writeFile(join(dir, 'assets', `${String(i)}.bin`), Buffer.alloc(1024 * 1024, `tufup ${String(i)} `));
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    await addBundle({ repoDir, keysDir, bundleDir: dir, version: '1.1.0', platform: 'linux', arch: 'x64', logger, patchLevel: 3 });
    const progress = lines.filter((line) => line.startsWith('diffing linux-x64:'));
    expect(progress.at(-1)).toBe('diffing linux-x64: 100% of 40 MB');
    expect(progress.length).toBeGreaterThanOrEqual(3);
  });

  it('reports a disk too full for the unpacked base tar as DISK_FULL, not as a corrupt repository', async (ctx) => {
    // The repository fits on the disk, the scratch copy of the base tar (next to it) does not.
    const disk = await mountSmallDisk(join(tmp, 'disk'), 384);
    if (typeof disk === 'string') return ctx.skip(disk);
    try {
      const small = join(disk.dir, 'repo');
      await cp(repoDir, small, { recursive: true });
      const before = await treeHash(small);
      const add = addBundle({ repoDir: small, keysDir, bundleDir: await secondBundle(), version: '1.1.0', platform: 'linux', arch: 'x64' });
      expect(await codeOf(add)).toBe('DISK_FULL');
      expect(await treeHash(small)).toBe(before);
      expect(await readdir(disk.dir)).toEqual(['repo']);
    } finally {
      await disk.unmount();
    }
  });

  it.each([
    ['is not gzip', (path: string) => writeFile(path, 'not gzip at all')],
    ['is missing', (path: string) => rm(path)],
  ])('still reports a base archive that %s as METADATA_CORRUPT', async (_what, spoil) => {
    const folder = join(repoDir, 'targets', 'linux-x64');
    const archive = (await readdir(folder)).find((name) => name.endsWith('.tar.gz'));
    expect(archive).toBeDefined();
    await spoil(join(folder, archive ?? ''));
    const add = addBundle({ repoDir, keysDir, bundleDir: await secondBundle(), version: '1.1.0', platform: 'linux', arch: 'x64' });
    expect(await codeOf(add)).toBe('METADATA_CORRUPT');
  });
});
