import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '@tufup/testkit';
import { silentLogger, UpdateError, type Logger } from '../src/core/index.js';
import { acquireLock, processStarted } from '../src/core/lock.js';

// The cache folder's lock between processes: real child processes hold it, die holding it, or leave a
// lock whose pid the system has since given to another process.

const LOCK_JS = fileURLToPath(new URL('../dist/core/lock.js', import.meta.url));
let dir: string;
let children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tufup-lock-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
});

/** A process that takes the lock at `path`, says "locked", and releases it when told "release" on stdin. */
async function holder(path: string): Promise<ChildProcess> {
  const script = `const { acquireLock } = await import(${JSON.stringify(LOCK_JS)});
const release = await acquireLock(${JSON.stringify(path)}, { waitMs: 0, logger: { debug() {}, info() {}, warn() {}, error() {} }, what: 'the lock' });
process.stdout.write('locked\\n');
process.stdin.once('data', async () => { await release(); process.stdout.write('released\\n'); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  expect(line.toString()).toBe('locked\n');
  return child;
}

/** A logger that keeps what was warned. */
function recording(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warn: (...args: unknown[]) => warnings.push(args.join(' ')), warnings };
}

const lockPath = (name: string): string => join(dir, `${name}.lock`);

describe('the cache lock', () => {
  it('answers BUSY after the wait while another live process holds it, naming that process', async () => {
    const child = await holder(lockPath('busy'));
    const error = await rejectionOf(acquireLock(lockPath('busy'), { waitMs: 300, logger: silentLogger, what: 'the update cache /x' }), UpdateError);
    expect(error.code).toBe('BUSY');
    const { since } = JSON.parse(await readFile(lockPath('busy'), 'utf8')) as { since: string };
    expect(error.message).toBe(`the update cache /x is in use by process ${child.pid} (since ${since}), another instance of the app; try again later`);
  });

  it('is taken as soon as the other process releases it during the wait', async () => {
    const child = await holder(lockPath('handover'));
    const waiting = acquireLock(lockPath('handover'), { waitMs: 10_000, logger: silentLogger, what: 'the lock' });
    setTimeout(() => child.stdin?.write('release\n'), 200);
    const release = await waiting;
    expect(JSON.parse(await readFile(lockPath('handover'), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
    expect(await readdir(dir)).not.toContain('handover.lock');
  });

  it('breaks the lock of a process that died holding it', async () => {
    const child = await holder(lockPath('dead'));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const logger = recording();
    const release = await acquireLock(lockPath('dead'), { waitMs: 0, logger, what: 'the lock' });
    expect(logger.warnings).toEqual([`tufup: removed the lock of process ${child.pid}, which no longer runs: ${lockPath('dead')}`]);
    await release();
  });

  it.skipIf(process.platform !== 'linux' && process.platform !== 'darwin')('breaks a lock whose pid now belongs to a later process (its start time differs)', async () => {
    // A live process with the pid the lock names, but not the one that took it.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    const started = processStarted(child.pid!);
    expect(started).toBeDefined();
    await writeFile(lockPath('reused'), JSON.stringify({ pid: child.pid, started: `${started}-earlier`, host: hostname(), nonce: 'n1', since: '2026-01-01T00:00:00.000Z' }));
    const logger = recording();
    const release = await acquireLock(lockPath('reused'), { waitMs: 0, logger, what: 'the lock' });
    expect(logger.warnings).toHaveLength(1);
    await release();
    // The same pid with its true start time is a live holder.
    await writeFile(lockPath('reused'), JSON.stringify({ pid: child.pid, started, host: hostname(), nonce: 'n2', since: '2026-01-01T00:00:00.000Z' }));
    expect((await rejectionOf(acquireLock(lockPath('reused'), { waitMs: 0, logger, what: 'the lock' }), UpdateError)).code).toBe('BUSY');
  });

  it('stops waiting with CANCELLED when the signal fires', async () => {
    await holder(lockPath('cancel'));
    const controller = new AbortController();
    const waiting = acquireLock(lockPath('cancel'), { waitMs: 10_000, signal: controller.signal, logger: silentLogger, what: 'the lock' });
    setTimeout(() => controller.abort(), 100);
    expect((await rejectionOf(waiting, UpdateError)).code).toBe('CANCELLED');
  });

  it('leaves a lock another acquisition holds when asked to release an old one', async () => {
    const first = await acquireLock(lockPath('mine'), { waitMs: 0, logger: silentLogger, what: 'the lock' });
    // Someone judged it stale and took it (here: rewritten by hand); the first release must not remove theirs.
    await writeFile(lockPath('mine'), JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'theirs', since: 'now' }));
    await first();
    expect(JSON.parse(await readFile(lockPath('mine'), 'utf8'))).toMatchObject({ nonce: 'theirs' });
  });
});
