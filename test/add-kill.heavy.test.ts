/**
 * A `tufup-repo add` killed (SIGKILL, as a cancelled CI job is) at any moment: the next command works --
 * it breaks the dead command's lock with a warning instead of answering REPO_BUSY forever -- and the
 * repository is then exactly the old state or the new one, never a mix. The kills land at seeded random
 * moments of two kinds: a random time after the start, and right after the k-th file the commit moves
 * into the repository (the run is paced by strace, which delays each rename so the kill lands before the
 * next one). TUFUP_KILL_SEED=<n> replays a run; the seed and every moment are printed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTree, seededRandom, seedFrom, type Tree } from '@tufup/testkit';
import { CLI, cliOk, errorCode, NODE, ROOT, runCli, tempDir, writeBundle } from '../packages/repo-tools/test/helpers/fixtures.js';
import { straceMissing } from './helpers/strace.js';
import { Summary } from './helpers/summary.js';

const SEED = seedFrom('TUFUP_KILL_SEED');
const TRIALS = 8;
/** How long strace holds the process after each rename: the kill must land within it. */
const RENAME_PAUSE_MS = 400;
const ENV = { PATH: process.env.PATH, HOME: process.env.HOME };
const TIMESTAMP = 'metadata/timestamp.json';
const noStrace = straceMissing();

/** When to kill: right after the k-th rename into the repository, or a delay after the start. */
type Moment = { afterRenames: number } | { afterStartMs: number };

const describeMoment = (m: Moment): string => ('afterRenames' in m ? `after the commit's rename #${m.afterRenames}` : `${m.afterStartMs} ms after the start`);

/** Runs `tufup-repo add` and SIGKILLs it at `moment` (unless it finishes first); resolves once it is gone. */
async function addAndKill(args: string[], repoDir: string, moment: Moment, fifo: string): Promise<{ killed: boolean }> {
  const paced = 'afterRenames' in moment;
  const renames = 'rename,renameat,renameat2';
  const command = paced ? 'strace' : NODE;
  // strace writes its trace line by line into a FIFO (a pipe of Node's is a socket, which it cannot open by name).
  if (paced) spawnSync('mkfifo', [fifo]);
  const argv = paced ? ['-f', '-qq', '-e', `trace=${renames}`, '-e', `inject=${renames}:delay_exit=${RENAME_PAUSE_MS * 1000}`, '-o', fifo, NODE, CLI, ...args] : [CLI, ...args];
  const child = spawn(command, argv, { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let killed = false;
  let stderr = '';
  const kill = async (): Promise<void> => {
    // Under strace the CLI is strace's child: that process is the one killed, as a CI runner kills the job's.
    const pid = paced ? Number((await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '')).trim().split(' ')[0]) : child.pid;
    if (pid !== undefined && pid > 0 && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
        killed = true;
      } catch {
        // It exited first.
      }
    }
  };
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if ('afterStartMs' in moment) setTimeout(() => void kill(), moment.afterStartMs);
  else {
    let seen = 0;
    let buffered = '';
    createReadStream(fifo).on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        // `123 rename("/from", "/to") = 0` or `renameat(AT_FDCWD, "/from", AT_FDCWD, "/to") = 0`
        const to = /rename(?:at2?)?\(.*"[^"]*",.*?"([^"]*)"/.exec(line)?.[1];
        if (to?.startsWith(`${repoDir}/`) === true && / = 0/.test(line) && ++seen === moment.afterRenames) void kill();
      }
    });
  }
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (!killed && code !== 0) reject(new Error(`tufup-repo add failed before it was killed (exit ${String(code)}):\n${stderr}`));
      else resolve({ killed });
    });
  });
}

const without = (tree: Tree, path: string): Tree => Object.fromEntries(Object.entries(tree).filter(([p]) => p !== path));

/** The files of `after` that are not in `before` or differ from it: what a commit moved in. */
const movedIn = (before: Tree, after: Tree): string[] => Object.keys(after).filter((p) => JSON.stringify(after[p]) !== JSON.stringify(before[p]) && after[p]?.type === 'file');

describe.skipIf(noStrace !== undefined)(`a tufup-repo add killed at any moment${noStrace === undefined ? '' : ` (skipped: ${noStrace})`}`, () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let oldRepo: string;
  let keysDir: string;
  let bundle: string;
  /** The repository after a complete add of 1.1.0 (its metadata signed at another time, so compared by name). */
  let newTree: Tree;
  let oldTree: Tree;
  /** How many files the commit moves into the repository, and how long a whole add takes here. */
  let renames: number;
  let addMs: number;
  const summary = new Summary(`tufup-repo add SIGKILLed at seeded random moments (seed ${SEED}; TUFUP_KILL_SEED=${SEED} replays), then the next command`);

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    oldRepo = join(tmp, 'old', 'repo');
    keysDir = join(tmp, 'keys');
    await cliOk(['init', '--repo', oldRepo, '--keys-dir', keysDir, '--app-name', 'demo']);
    await cliOk(['add', await writeBundle(join(tmp, 'bundle-0'), 0), '--repo', oldRepo, '--keys-dir', keysDir, '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64']);
    bundle = await writeBundle(join(tmp, 'bundle-1'), 1);
    oldTree = await readTree(oldRepo);
    const reference = join(tmp, 'reference', 'repo');
    await cp(oldRepo, reference, { recursive: true });
    const started = performance.now();
    await cliOk(addArgs(reference));
    addMs = performance.now() - started;
    newTree = await readTree(reference);
    renames = movedIn(oldTree, newTree).length;
    console.log(`add-kill seed ${SEED} (TUFUP_KILL_SEED=${SEED} replays these moments); an add takes ${Math.round(addMs)} ms and moves ${renames} files in`);
  });

  afterAll(async () => {
    summary.print();
    await cleanup();
  });

  function addArgs(repoDir: string): string[] {
    return ['add', bundle, '--repo', repoDir, '--keys-dir', keysDir, '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64'];
  }

  /** Whether `tree` is the new state: the same files as a complete add, targets byte for byte (metadata was signed at another moment). */
  function isNewState(tree: Tree): boolean {
    const same = (p: string): boolean => p.startsWith('metadata/') || JSON.stringify(tree[p]) === JSON.stringify(newTree[p]);
    return JSON.stringify(Object.keys(tree)) === JSON.stringify(Object.keys(newTree)) && Object.keys(tree).every(same);
  }

  it('the next command works, and the repository is exactly the old state or the new one', async () => {
    const random = seededRandom(SEED);
    let midCommit = 0;
    for (let i = 0; i < TRIALS; i++) {
      const trial = join(tmp, `trial-${i}`);
      const repoDir = join(trial, 'repo');
      await cp(oldRepo, repoDir, { recursive: true });
      // Anchors first (the commit's first file moved, all but timestamp.json, all), then seeded random moments of both kinds.
      const anchors: Moment[] = [{ afterRenames: 1 }, { afterRenames: renames - 1 }, { afterRenames: renames }];
      const moment: Moment =
        anchors[i] ??
        (random() < 0.6
          ? { afterRenames: 1 + Math.floor(random() * renames) }
          : { afterStartMs: Math.floor(random() * addMs * 1.2) });
      const run = await addAndKill(addArgs(repoDir), repoDir, moment, join(tmp, `trace-${i}`));
      const atKill = await readTree(repoDir);
      const moved = movedIn(oldTree, atKill).length;
      if (moved > 0 && moved < renames) midCommit++;
      const lockLeft = await stat(join(trial, '.repo.tufup-lock')).then(() => true, () => false);

      // The next command: a re-sign, which any later publishing step does first.
      const next = await runCli(['sign', '--repo', repoDir, '--keys-dir', keysDir]);
      expect(next.code, next.stderr).toBe(0);
      const after = await readTree(repoDir);
      const state = JSON.stringify(without(after, TIMESTAMP)) === JSON.stringify(without(oldTree, TIMESTAMP)) ? 'old' : isNewState(after) ? 'new' : 'MIXED';
      summary.record({
        case: `#${i}: kill ${describeMoment(moment)}${run.killed ? `, ${moved} of ${renames} files moved in` : ', it finished first'}`,
        expected: moved === renames ? 'new state' : 'old state',
        observed: `${state} state${lockLeft ? ', stale lock broken with a warning' : ''}`,
      });
      // A kill before the commit's last rename is undone; after it, the commit stands.
      expect(state).toBe(moved === renames ? 'new' : 'old');
      if (lockLeft) expect(next.stderr).toMatch(/tufup-repo: warning: removed the lock of process \d+, which no longer runs/);
      if (moved > 0 && moved < renames) expect(next.stderr).toContain('its changes were undone');
      expect(await readdir(trial)).toEqual(['repo']);
      expect((await runCli(['verify', '--repo', repoDir])).code).toBe(0);
      // And the CI job's retry: adds the version, or says it is there.
      const retry = await runCli(addArgs(repoDir));
      expect(retry.code === 0 ? 'added' : errorCode(retry)).toBe(state === 'old' ? 'added' : 'DUPLICATE_VERSION');
    }
    // The anchors land in the middle of the commit (strace holds each rename long enough for the kill).
    expect(midCommit).toBeGreaterThanOrEqual(2);
  });

  it('a live command holding the lock gives REPO_BUSY, changing nothing; once it is SIGKILLed the next command works', async () => {
    const trial = join(tmp, 'live-holder');
    const repoDir = join(trial, 'repo');
    await cp(oldRepo, repoDir, { recursive: true });
    // Another tufup-repo process in the middle of its work: it took the repository's lock and holds it.
    const store = join(ROOT, 'packages/repo-tools/dist/store.js');
    const script = `const { Transaction } = await import(${JSON.stringify(store)});
await Transaction.begin({ repoDir: ${JSON.stringify(repoDir)} });
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);`;
    const holder = spawn(NODE, ['--input-type=module', '-e', script], { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(holder.stdout, 'data')) as [Buffer];
      expect(line.toString()).toBe('locked\n');
      const busy = await runCli(addArgs(repoDir));
      expect([busy.code, errorCode(busy)]).toEqual([1, 'REPO_BUSY']);
      expect(busy.stderr).toContain(`is in use by process ${holder.pid} (since `);
      expect(JSON.stringify(await readTree(repoDir))).toBe(JSON.stringify(oldTree));
    } finally {
      holder.kill('SIGKILL');
    }
    await once(holder, 'close');
    const next = await runCli(addArgs(repoDir));
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`tufup-repo: warning: removed the lock of process ${holder.pid}, which no longer runs`);
    expect(isNewState(await readTree(repoDir))).toBe(true);
    expect(await readdir(trial)).toEqual(['repo']);
    expect((await runCli(['verify', '--repo', repoDir])).code).toBe(0);
  });
});
