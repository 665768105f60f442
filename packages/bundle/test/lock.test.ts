import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '@tufup/testkit';
import { acquireLock, BundleError, processAlive, processStarted, type LockLogger, type LockOptions } from '../src/index.js';

// The one lock between processes (the client's cache folder, tufup-repo's repository): real child
// processes hold it, die holding it, or leave a lock whose pid the system has since given to another process.

const LOCK_JS = fileURLToPath(new URL('../dist/lock.js', import.meta.url));
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
const release = await acquireLock(${JSON.stringify(path)}, { what: 'the lock', holderIs: 'a test' });
process.stdout.write('locked\\n');
process.stdin.once('data', async () => { await release(); process.stdout.write('released\\n'); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  expect(line.toString()).toBe('locked\n');
  return child;
}

/** A logger that keeps what was warned. */
function recording(): LockLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { info: () => undefined, warn: (message) => warnings.push(message), warnings };
}

const lockPath = (name: string): string => join(dir, `${name}.lock`);
const options: LockOptions = { what: 'the update cache /x', holderIs: 'another instance of the app' };

describe('the lock', () => {
  it('answers BUSY after the wait while another live process holds it, naming that process', async () => {
    const child = await holder(lockPath('busy'));
    const error = await rejectionOf(acquireLock(lockPath('busy'), { ...options, waitMs: 300 }), BundleError);
    expect(error.code).toBe('BUSY');
    const { since } = JSON.parse(await readFile(lockPath('busy'), 'utf8')) as { since: string };
    expect(error.message).toBe(`the update cache /x is in use by process ${child.pid} (since ${since}), another instance of the app; try again later`);
  });

  it('is taken as soon as the other process releases it during the wait', async () => {
    const child = await holder(lockPath('handover'));
    const waiting = acquireLock(lockPath('handover'), { ...options, waitMs: 10_000 });
    setTimeout(() => child.stdin?.write('release\n'), 200);
    const release = await waiting;
    expect(JSON.parse(await readFile(lockPath('handover'), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
    expect(await readdir(dir)).not.toContain('handover.lock');
  });

  it('breaks the lock of a process that died holding it, with a warning', async () => {
    const child = await holder(lockPath('dead'));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const logger = recording();
    const release = await acquireLock(lockPath('dead'), { ...options, logger });
    expect(logger.warnings).toEqual([`removed the lock of process ${child.pid}, which no longer runs: ${lockPath('dead')}`]);
    await release();
  });

  it('breaks a lock of the earlier format (a bare pid) whose process is gone', async () => {
    const gone = spawnSync('true').pid;
    await writeFile(lockPath('legacy'), `${gone}\n`);
    const logger = recording();
    await (await acquireLock(lockPath('legacy'), { ...options, logger }))();
    expect(logger.warnings).toHaveLength(1);
    await writeFile(lockPath('legacy'), `${process.pid}\n`);
    expect((await rejectionOf(acquireLock(lockPath('legacy'), options), BundleError)).code).toBe('BUSY');
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
    const release = await acquireLock(lockPath('reused'), { ...options, logger });
    expect(logger.warnings).toHaveLength(1);
    await release();
    // The same pid with its true start time is a live holder.
    await writeFile(lockPath('reused'), JSON.stringify({ pid: child.pid, started, host: hostname(), nonce: 'n2', since: '2026-01-01T00:00:00.000Z' }));
    expect((await rejectionOf(acquireLock(lockPath('reused'), options), BundleError)).code).toBe('BUSY');
  });

  it('never breaks a lock taken on another machine, and says how to clear it', async () => {
    // A pid that does not run here: on the other machine it may.
    const gone = spawnSync('true').pid;
    const since = '2026-01-01T00:00:00.000Z';
    await writeFile(lockPath('remote'), JSON.stringify({ pid: gone, host: `not-${hostname()}`, nonce: 'n3', since }));
    const logger = recording();
    const error = await rejectionOf(acquireLock(lockPath('remote'), { ...options, waitMs: 200, logger }), BundleError);
    expect(error.code).toBe('BUSY');
    expect(error.message).toBe(
      `the update cache /x is in use by process ${gone} on not-${hostname()} (since ${since}), another instance of the app; ` +
        `a lock taken on another machine is never broken from this one: if nothing runs there any more, delete ${lockPath('remote')}`,
    );
    expect(logger.warnings).toEqual([]);
    expect(JSON.parse(await readFile(lockPath('remote'), 'utf8'))).toMatchObject({ nonce: 'n3' });
  });

  it('stops waiting with CANCELLED when the signal fires', async () => {
    await holder(lockPath('cancel'));
    const controller = new AbortController();
    const waiting = acquireLock(lockPath('cancel'), { ...options, waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect((await rejectionOf(waiting, BundleError)).code).toBe('CANCELLED');
  });

  it('leaves a lock another acquisition holds when asked to release an old one', async () => {
    const first = await acquireLock(lockPath('mine'), options);
    // Someone judged it stale and took it (here: rewritten by hand); the first release must not remove theirs.
    await writeFile(lockPath('mine'), JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'theirs', since: 'now' }));
    await first();
    expect(JSON.parse(await readFile(lockPath('mine'), 'utf8'))).toMatchObject({ nonce: 'theirs' });
  });
});

describe('processAlive: whose lock, staging or extraction is still under way', () => {
  const exited = spawnSync('true').pid;

  it.each<[string, number, boolean]>([
    ['this process', process.pid, true],
    ['pid 1 (running, maybe as another user: EPERM counts as alive)', 1, true],
    ['a process that has exited', exited, false],
    ['0 (not a process: kill(0) would mean the whole group)', 0, false],
    ['a negative number', -1, false],
    ['not a number (a marker name that did not parse)', Number.NaN, false],
    ['a fraction', 1.5, false],
  ])('%s', (_what, pid, alive) => {
    expect(processAlive(pid)).toBe(alive);
  });
});
