/**
 * A publish killed at any moment: clients in the field update to the old release or the new one, never
 * fail, and running the publish again completes it. The publishing process is the real `tufup-repo
 * publish` CLI, killed (SIGKILL) at seeded random moments; the client is @tufup/electron-client's core,
 * whose cache already holds the old release's metadata (as an app in the field has), served from the
 * destination: a folder behind a static server, and a real S3-compatible server (s3rver).
 *
 * TUFUP_KILL_SEED=<n> replays a run; the seed and every kill moment are printed.
 */
import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBundle, publishRepository, rotateKey, type S3Options } from '@tufup/repo-tools';
import { UpdateClient } from '@tufup/electron-client/core';
import { LoopbackServer, seededRandom } from '@tufup/testkit';
import { startS3, type LocalS3 } from '../packages/repo-tools/test/helpers/s3.js';
import { ARCH, PLATFORM, Repo, writeBundle } from './helpers/fixture.js';
import { Summary } from './helpers/summary.js';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'packages/repo-tools/bin/tufup-repo.js');
const SEED = Number(process.env.TUFUP_KILL_SEED ?? 20261126);
const TRIALS = 8;

/** When to kill: after the n-th "uploaded" progress line plus a delay, or a delay after the start. */
type Moment = { afterLine: number; delayMs: number } | { afterStartMs: number };

function describeMoment(m: Moment): string {
  return 'afterLine' in m ? `${m.delayMs} ms after upload #${m.afterLine}` : `${m.afterStartMs} ms after start`;
}

interface KillRun {
  killed: boolean;
  /** The last file the child reported before it died. */
  lastUploaded: string;
}

/** Runs `tufup-repo publish` and SIGKILLs it at `moment` (unless it finishes first). */
function publishAndKill(args: string[], env: NodeJS.ProcessEnv, moment: Moment): Promise<KillRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(NODE, [CLI, 'publish', ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let lines = 0;
    let lastUploaded = '(none)';
    let killed = false;
    let buffered = '';
    /** What it printed, for the error when it fails on its own. */
    let printed = '';
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = child.kill('SIGKILL');
      }
    };
    if ('afterStartMs' in moment) setTimeout(kill, moment.afterStartMs);
    else if (moment.afterLine === 0) setTimeout(kill, moment.delayMs);
    child.stderr.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      printed += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const match = /^uploaded (\S+)/.exec(line);
        if (match === null) continue;
        lastUploaded = match[1] ?? '';
        if ('afterLine' in moment && ++lines === moment.afterLine) setTimeout(kill, moment.delayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`tufup-repo publish exited with ${String(code)} before it was killed:\n${printed.slice(-2000)}`));
      else resolvePromise({ killed: killed && signal === 'SIGKILL', lastUploaded });
    });
  });
}

interface Destination {
  name: string;
  /** A fresh destination for trial `i`: its `--to` (with extra CLI arguments), the URL clients use, its environment. */
  make(i: number): Promise<{ to: string; args: string[]; url: string; env: NodeJS.ProcessEnv; s3?: S3Options }>;
}

describe('a publish killed at any moment', () => {
  let repo: Repo;
  let oldRepo: string;
  let installDir: string;
  let s3: LocalS3 | undefined;
  const servers: LoopbackServer[] = [];
  const summary = new Summary(`Publish killed at seeded random moments (seed ${SEED}): what a client in the field sees after the kill, and after a re-run`);

  beforeAll(async () => {
    repo = await Repo.create();
    await repo.publish('1.0.0', { assetSize: 2 * 1024 * 1024 });
    installDir = await repo.install('1.0.0');
    // The destination's state before the publish: the repository as it was after 1.0.0.
    oldRepo = await repo.folder('old-repo');
    await cp(repo.repoDir, oldRepo, { recursive: true });
    // The new state: a new root (the chain must go up before the timestamp) and 1.1.0, big enough that
    // its upload takes a while.
    await rotateKey({ repoDir: repo.repoDir, keysDir: repo.keysDir, role: 'root' });
    const bundleDir = repo.bundleDir('1.1.0');
    await writeBundle(bundleDir, '1.1.0', { assetSize: 6 * 1024 * 1024, churn: true });
    await addBundle({ repoDir: repo.repoDir, keysDir: repo.keysDir, bundleDir, version: '1.1.0', platform: PLATFORM, arch: ARCH });
    s3 = await startS3(await repo.folder('s3'));
    console.log(`publish-kill seed ${SEED} (TUFUP_KILL_SEED=${SEED} replays these moments)`);
  });

  afterAll(async () => {
    summary.print();
    for (const server of servers) await server.close();
    await s3?.close();
    await repo.cleanup();
  });

  const destinations: Destination[] = [
    {
      name: 'folder',
      async make(i) {
        const site = await repo.folder(`site-${i}`);
        const server = await new LoopbackServer(site).start();
        servers.push(server);
        return { to: site, args: [], url: server.url, env: {} };
      },
    },
    {
      name: 's3',
      make(i) {
        const prefix = `trial-${i}`;
        if (s3 === undefined) throw new Error('the S3 server did not start');
        return Promise.resolve({
          to: `s3://${s3.bucket}/${prefix}`,
          args: ['--endpoint', s3.endpoint, '--path-style'],
          url: s3.urlOf(prefix),
          env: s3.env,
          s3: { endpoint: s3.endpoint, pathStyle: true, credentials: s3.credentials },
        });
      },
    },
  ];

  for (const [d, destination] of destinations.entries()) {
    it(`to ${destination.name}: clients stay on 1.0.0 or get 1.1.0, never an error; a re-run completes it`, async () => {
      const random = seededRandom(SEED + d);
      const outcomes: string[] = [];
      for (let i = 0; i < TRIALS; i++) {
        const dest = await destination.make(i);
        // The destination holds the old release; a client in the field has checked it and is up to date.
        await publishRepository({ repoDir: oldRepo, to: dest.to, ...(dest.s3 === undefined ? {} : { s3: dest.s3 }) });
        const options = {
          ...repo.clientOptions('1.0.0', installDir),
          metadataUrl: `${dest.url}/metadata/`,
          targetsUrl: `${dest.url}/targets/`,
        };
        expect(await new UpdateClient(options).checkForUpdates()).toBeUndefined();

        // Anchors first (the very first moment, and late), then seeded random moments of both kinds.
        const moment: Moment =
          i === 0
            ? { afterLine: 0, delayMs: 0 }
            : i === 1
              ? { afterLine: 5, delayMs: 0 }
              : random() < 0.5
                ? { afterLine: Math.floor(random() * 7), delayMs: Math.floor(random() * 15) }
                : { afterStartMs: Math.floor(random() * 900) };
        const run = await publishAndKill(['--repo', repo.repoDir, '--to', dest.to, ...dest.args], dest.env, moment);

        const seen = async (): Promise<string> => {
          const client = new UpdateClient(options);
          try {
            const info = await client.checkForUpdates();
            if (info === undefined) return 'stays on 1.0.0';
            await client.downloadUpdate(info);
            return `gets ${info.version}`;
          } catch (error) {
            return `ERROR ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`;
          }
        };
        const afterKill = await seen();
        // Run again, to completion.
        const rerun = await publishAndKill(['--repo', repo.repoDir, '--to', dest.to, ...dest.args], dest.env, { afterStartMs: 60_000 });
        expect(rerun.killed).toBe(false);
        const afterRerun = await seen();
        summary.record({
          case: `${destination.name} #${i}: kill ${describeMoment(moment)}, ${run.killed ? `last upload ${run.lastUploaded.replace(/[0-9a-f]{64}\./, '')}` : 'it finished first'}`,
          expected: 'stays on 1.0.0 or gets 1.1.0; after a re-run gets 1.1.0',
          observed: `${afterKill}; after a re-run ${afterRerun}`,
        });
        outcomes.push(afterKill);
        expect(afterKill).toMatch(/^(stays on 1\.0\.0|gets 1\.1\.0)$/);
        expect(afterRerun).toBe('gets 1.1.0');
      }
      // The first anchor kills before the timestamp can have gone up.
      expect(outcomes[0]).toBe('stays on 1.0.0');
    });
  }
});
