import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, UpdateError } from '@tufup/electron-client/core';
import { rejectionOf, seededRandom, waitFor } from '@tufup/testkit';
import { readTree, Repo, type Tree } from './helpers/fixture.js';
import type { RunnerMessage, RunnerRequest } from './helpers/runner.js';
import { Summary } from './helpers/summary.js';

// Two instances of the app (no single-instance lock, which is common) update through one cache folder
// at once: each is a real child process running the client core, as the update worker does. Before the
// cache had a lock, 8 runs in 20 failed with DISK (ENOENT/ENOTEMPTY): one's prune deleted the other's
// files, both wrote the same partial, extraction renamed into a folder the other had made.

const SEED = Number(process.env.TUFUP_RACE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Math.max(1, Number(process.env.TUFUP_RACE_ROUNDS ?? 16));
const summary = new Summary(`Two app instances updating through one cache folder at once (seed ${SEED}, ${ROUNDS} rounds; repeat with TUFUP_RACE_SEED=${SEED})`);
const RUNNER = fileURLToPath(new URL('./helpers/runner.ts', import.meta.url));

function start(request: RunnerRequest): ChildProcess {
  return fork(RUNNER, [JSON.stringify(request)], { execPath: process.execPath, execArgv: ['--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** One instance's update attempt (check, then download) in its own process: how it ended. */
function instance(request: RunnerRequest): Promise<RunnerMessage> {
  return new Promise((resolve, reject) => {
    const child = start(request);
    let last: RunnerMessage | undefined;
    child.on('message', (m: RunnerMessage) => {
      if (m.type !== 'progress') last = m;
    });
    child.once('error', reject);
    child.once('exit', (code) => (last === undefined ? reject(new Error(`the instance exited with ${code} without a result`)) : resolve(last)));
  });
}

function describeOutcome(m: RunnerMessage): string {
  if (m.type === 'staged') return `staged ${m.version} (${m.strategy})`;
  if (m.type === 'error') return m.code;
  return m.type;
}

describe('two app instances on one cache folder', () => {
  let repo: Repo;
  let trees: Record<string, Tree>;

  beforeAll(async () => {
    repo = await Repo.create();
    trees = await repo.publishAll(['1.0.0', '1.1.0', '1.2.0']);
  });
  afterAll(async () => {
    summary.print();
    await repo.cleanup();
  });

  it(`never fail each other: each round both stage the update or one answers BUSY, never DISK (${ROUNDS} rounds)`, async () => {
    const random = seededRandom(SEED);
    const installs = { '1.0.0': await repo.install('1.0.0'), '1.1.0': await repo.install('1.1.0') };
    const cacheDir = await repo.folder('shared-cache');
    const failures: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Each round: the version both run (patch chains of one or two links), whether the cache starts
      // empty, and when the second instance starts after the first (0 to 120 ms).
      const current = random() < 0.5 ? '1.0.0' : '1.1.0';
      const fresh = random() < 0.5;
      const delay = Math.floor(random() * 120);
      if (fresh) await rm(cacheDir, { recursive: true, force: true });
      const request: RunnerRequest = { options: repo.clientOptions(current, installs[current], { cacheDir }) };
      const first = instance(request);
      await sleep(delay);
      const outcomes = await Promise.all([first, instance(request)]);
      const observed = outcomes.map(describeOutcome).join(' / ');
      const good = outcomes.every((m) => m.type === 'staged' || (m.type === 'error' && m.code === 'BUSY')) && outcomes.some((m) => m.type === 'staged');
      const staged = await findStagedUpdate(cacheDir, current);
      const intact = staged?.version === '1.2.0' && JSON.stringify(await readTree(staged.stagedDir)) === JSON.stringify(trees['1.2.0']);
      summary.record({
        case: `round ${round}: both on ${current}, ${fresh ? 'empty' : 'used'} cache, second ${delay} ms later`,
        expected: 'staged 1.2.0 / staged or BUSY',
        observed: `${observed}${intact ? '' : '; staged folder missing or wrong'}`,
      });
      if (!good || !intact) failures.push(`round ${round}: ${observed}; intact=${intact}; ${outcomes.map((m) => (m.type === 'error' ? m.message : '')).join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('while one instance downloads, another checks freely, is told BUSY for its own download, and takes over once the first is killed', async () => {
    const cacheDir = await repo.folder('held-cache');
    const installDir = await repo.install('1.0.0');
    // 0.9.0 is not published: the full archive, whose download reports progress on the way.
    const marker = join(cacheDir, '..', 'frozen');
    // Slow enough that progress is reported mid-way, where the first instance freezes holding the cache.
    repo.server.on({ pathEnd: '1.2.0.tar.gz', does: { kind: 'trickle', bytes: 16 * 1024, everyMs: 50 }, times: 1 });
    const first = start({ options: repo.clientOptions('0.9.0', installDir, { cacheDir }), freeze: { phase: 'download', marker } });
    await waitFor(async () => ((await readdir(join(cacheDir, '..'))).includes('frozen') ? true : undefined), 'the first instance frozen mid-download');

    const second = new UpdateClient(repo.clientOptions('0.9.0', installDir, { cacheDir, busyTimeoutMs: 300 }));
    const info = await second.checkForUpdates();
    expect(info?.version).toBe('1.2.0');
    const busy = await rejectionOf(second.downloadUpdate(info!), UpdateError);
    expect([busy.code, busy.message]).toEqual(['BUSY', expect.stringContaining(`is in use by process ${first.pid}`)]);
    summary.record({ case: 'download while another instance downloads', expected: 'BUSY, check works', observed: `check ${info?.version}, download ${busy.code}` });

    first.kill('SIGKILL');
    await once(first, 'exit');
    const staged = await second.downloadUpdate(info!);
    expect(staged).toMatchObject({ version: '1.2.0', strategy: 'full' });
    expect(await readTree(staged.stagedDir)).toEqual(trees['1.2.0']);
    summary.record({ case: 'the downloading instance killed, the other tries again', expected: 'staged 1.2.0 (stale lock broken)', observed: `staged ${staged.version}` });
  });
});
