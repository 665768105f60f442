import { readdir, readlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

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
