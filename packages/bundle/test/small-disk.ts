import { execFile, execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { messageOf } from '../src/index.js';

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
 * read-only disk (bundle, repo-tools, client and end-to-end tests import it from here).
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
