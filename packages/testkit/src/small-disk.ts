import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { messageOf } from '@tufup/bundle';
import { afterEach, beforeEach } from 'vitest';

const run = promisify(execFile);

/** A small tmpfs the test owns: a real disk that fills up, or turns read-only, on command. */
export interface SmallDisk {
  dir: string;
  /** Changes the mount's options (`size=4m`, `ro`, `rw`); synchronous, so a callback can do it mid-command. */
  remount(options: string): void;
  unmount(): Promise<void>;
}

/**
 * Mounts a tmpfs of `sizeKiB` on `dir`; the reason it cannot when the test does not run as root or the
 * kernel refuses (tests then skip, saying why). The one helper for every suite that needs a real full or
 * read-only disk.
 */
export async function mountSmallDisk(dir: string, sizeKiB: number): Promise<SmallDisk | string> {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  await mkdir(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    return `mount -t tmpfs failed: ${messageOf(error)}`;
  }
  return {
    dir,
    remount: (options) => {
      execFileSync('mount', ['-o', `remount,${options}`, dir]);
    },
    unmount: async () => {
      await run('umount', ['-l', dir]).catch(() => undefined);
    },
  };
}

/**
 * A temp folder with a small tmpfs (`disk.dir`) inside, made before and removed after each test of the
 * calling `describe`; `disk` is the reason when it cannot be mounted (the test then skips, saying why).
 */
export function useSmallDisk(sizeKiB: number): { readonly tmp: string; readonly disk: SmallDisk | string } {
  const state: { tmp: string; disk: SmallDisk | string } = { tmp: '', disk: '' };
  beforeEach(async () => {
    state.tmp = await mkdtemp(join(tmpdir(), 'tufup-small-disk-'));
    state.disk = await mountSmallDisk(join(state.tmp, 'disk'), sizeKiB);
  });
  afterEach(async () => {
    if (typeof state.disk !== 'string') await state.disk.unmount();
    await rm(state.tmp, { recursive: true, force: true });
  });
  return state;
}
