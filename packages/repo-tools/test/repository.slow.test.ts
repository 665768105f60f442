import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initRepository, RepoError } from '../src/index.js';
import { useSmallDisk } from './helpers/fixtures.js';

describe('initRepository on a disk that turns read-only', () => {
  const fixture = useSmallDisk(512);

  it('fails with why the repository could not be made, and names the key files it could not remove', async (ctx) => {
    const { disk } = fixture;
    if (typeof disk === 'string') return ctx.skip(disk);
    const small = disk;
    const warnings: string[] = [];
    const logger = {
      // Called once every key is written, before the commit: from here on nothing on the disk can change.
      info: () => small.remount('ro'),
      warn: (message: string) => warnings.push(message),
    };
    const init = initRepository({ repoDir: join(small.dir, 'repo'), keysDir: join(small.dir, 'keys'), appName: 'demo', logger });
    const error: unknown = await init.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RepoError);
    expect((error as RepoError).code).toBe('IO');
    expect(((error as RepoError).cause as NodeJS.ErrnoException).code).toBe('EROFS');
    small.remount('rw');
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings) {
      const file = /could not remove (\S+),/.exec(warning)?.[1];
      expect(file).toBeDefined();
      expect((await lstat(file ?? '')).isFile()).toBe(true);
    }
    await expect(lstat(join(small.dir, 'repo', 'tufup-repo.json'))).rejects.toThrow();
  });
});
