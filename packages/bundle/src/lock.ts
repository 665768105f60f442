import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BundleError, errnoOf } from './error.js';

/**
 * Who holds a lock: enough to tell a live holder from a dead one, also after the system gave its pid to
 * another process (then the start time differs), and to leave alone what another machine holds.
 */
export interface LockHolder {
  pid: number;
  /** When the process started, as the OS tells it (Linux: clock ticks since boot); absent where unknown. */
  started?: string;
  host: string;
  /** This acquisition: a lock file is only ever removed by whoever wrote it, or broken as what it was. */
  nonce: string;
  since: string;
}

/** Where the lock reports breaking a stale lock and waiting; silent when absent. */
export interface LockLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** What the lock guards, for messages: `the update cache /x`, `the repository /srv/repo`. */
  what: string;
  /** Who a live holder is, for the BUSY message: `another instance of the app`. */
  holderIs: string;
  /** How long to wait for a live holder before giving up with BUSY. @default 0 */
  waitMs?: number;
  /** Cancels the wait: CANCELLED. */
  signal?: AbortSignal | undefined;
  logger?: LockLogger | undefined;
}

/** A lock file being written (only where hard links are not available) is this young at most. */
const WRITING_MS = 5_000;
const POLL_MS = 50;
const MAX_POLL_MS = 500;

let ownStart: string | undefined | null = null;

/** The start time of this process, read once. */
function selfStarted(): string | undefined {
  if (ownStart === null) ownStart = processStarted(process.pid);
  return ownStart;
}

/** Whether process `pid` is running; EPERM means it runs, under another user. Not a pid (NaN, 0, negative): false. */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/**
 * When process `pid` started, as a string that stays the same for its whole life and differs for a
 * later process given the same pid; undefined where it cannot be known. Linux: field 22 of
 * /proc/<pid>/stat. macOS: `ps -o lstart=` (a child process, run only when judging someone else's lock).
 * Windows: unknown (the pid alone is judged; Windows reuses pids less eagerly).
 */
export function processStarted(pid: number): string | undefined {
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: count from after it.
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    }
    if (process.platform === 'darwin') {
      return execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim() || undefined;
    }
  } catch {
    // Gone, or not ours to read: judged by the pid alone.
  }
  return undefined;
}

/**
 * Whether the holder of a lock may still run. A holder on another machine (a folder on a network share)
 * cannot be seen from here, so it always may; on this one, a dead pid, or a pid now used by a later
 * process, is not it.
 */
export function holderAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  if (!processAlive(holder.pid)) return false;
  if (holder.started === undefined) return true;
  const started = holder.pid === process.pid ? selfStarted() : processStarted(holder.pid);
  return started === undefined || started === holder.started;
}

function parseHolder(text: string): LockHolder | undefined {
  // A bare pid: the lock file of tufup-repo before this lock, judged by the pid alone, on this machine.
  if (/^\d+\n?$/.test(text)) return { pid: Number(text.trim()), host: hostname(), nonce: text, since: 'unknown' };
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isSafeInteger(h.pid) || typeof h.host !== 'string' || typeof h.nonce !== 'string') return undefined;
    return h as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock file at `path` (created atomically with its content: written aside, then hard-linked
 * in, which fails if the lock exists), waiting up to `waitMs` while a live process holds it. A lock whose
 * holder died on this machine, or whose pid now belongs to a later process, is broken with a warning; a
 * lock taken on another machine is never broken (its processes cannot be seen from here). Resolves to the
 * function that releases it. BundleError BUSY when the wait runs out (the message says who holds it and,
 * for another machine, how to clear it), CANCELLED when the signal fires; a file-system error as it is.
 */
export async function acquireLock(path: string, options: LockOptions): Promise<() => Promise<void>> {
  const started = selfStarted();
  const holder: LockHolder = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), since: new Date().toISOString(), ...(started === undefined ? {} : { started }) };
  const deadline = performance.now() + (options.waitMs ?? 0);
  const cancelled = (cause?: unknown): BundleError => new BundleError('CANCELLED', `waiting for ${options.what}: cancelled`, { cause });
  let pause = POLL_MS;
  let waiting = false;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    if (options.signal?.aborted === true) throw cancelled();
    if (await create(path, holder)) {
      if (waiting) options.logger?.info(`${options.what} is free again`);
      return () => release(path, holder);
    }
    const current = await readHolder(path);
    if (current === 'gone') continue;
    if (current !== 'writing' && !holderAlive(current)) {
      await breakLock(path, current, options.logger);
      continue;
    }
    if (performance.now() >= deadline) throw new BundleError('BUSY', busyMessage(path, current, options));
    if (!waiting) options.logger?.info(`waiting for ${options.what}, in use by another process`);
    waiting = true;
    await sleep(pause, undefined, options.signal ? { signal: options.signal } : {}).catch((cause: unknown) => {
      throw cancelled(cause);
    });
    pause = Math.min(pause * 2, MAX_POLL_MS);
  }
}

function busyMessage(path: string, current: LockHolder | 'writing', options: LockOptions): string {
  if (current === 'writing') return `${options.what} is in use by another process, ${options.holderIs}; try again later`;
  if (current.host === hostname()) return `${options.what} is in use by process ${current.pid} (since ${current.since}), ${options.holderIs}; try again later`;
  return (
    `${options.what} is in use by process ${current.pid} on ${current.host} (since ${current.since}), ${options.holderIs}; ` +
    `a lock taken on another machine is never broken from this one: if nothing runs there any more, delete ${path}`
  );
}

/** Creates the lock with `holder` in it; false when it exists. */
async function create(path: string, holder: LockHolder): Promise<boolean> {
  const data = `${JSON.stringify(holder)}\n`;
  const aside = `${path}.${holder.nonce}.new`;
  try {
    await writeFile(aside, data, { flag: 'wx' });
    try {
      await link(aside, path);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') return false;
      // A file system without hard links (FAT, some network shares): exclusive create, content a moment later.
      if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EXDEV', 'EOPNOTSUPP'].includes(errnoOf(error) ?? '')) throw error;
      await writeFile(path, data, { flag: 'wx' });
      return true;
    }
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(aside, { force: true });
  }
}

/** Who holds the lock; 'gone' when it was just released, 'writing' while a lock file is young and empty. */
async function readHolder(path: string): Promise<LockHolder | 'gone' | 'writing'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'gone';
    throw error;
  }
  const holder = parseHolder(text);
  if (holder !== undefined) return holder;
  const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
  // Unreadable and old: left by a crash in the middle of the fallback's create. Judged dead.
  return age < WRITING_MS ? 'writing' : { pid: 0, host: hostname(), nonce: text, since: 'unknown' };
}

/**
 * Removes a lock judged dead. It is first renamed aside, which only one of several breakers can do to
 * one file; if what was moved is not the lock judged (it was broken and taken again in the meantime), it
 * is linked back, so a live holder keeps its lock.
 */
async function breakLock(path: string, dead: LockHolder, logger: LockLogger | undefined): Promise<void> {
  const aside = `${path}.${randomBytes(8).toString('hex')}.broken`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = parseHolder(await readFile(aside, 'utf8'));
    if (moved !== undefined && moved.nonce !== dead.nonce) {
      await link(aside, path).catch(() => logger?.warn(`a lock taken while a stale one was removed was lost: ${path}`));
      return;
    }
    logger?.warn(`removed the lock of process ${dead.pid}, which no longer runs: ${path}`);
  } finally {
    await rm(aside, { force: true });
  }
}

/** Removes the lock if it is still this acquisition's. */
async function release(path: string, holder: LockHolder): Promise<void> {
  const current = await readHolder(path).catch(() => 'gone' as const);
  if (current !== 'gone' && current !== 'writing' && current.nonce === holder.nonce) await rm(path, { force: true });
}
