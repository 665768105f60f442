import { spawnSync } from 'node:child_process';
import { statfsSync, writeFileSync } from 'node:fs';
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, UpdateError, type CoreOptions, type Progress, type StagedUpdate } from '@tufup/electron-client/core';
import { mountSmallDisk, type Rule, type SmallDisk } from '@tufup/testkit';
import { APP, BUILD, leftovers, readTree, Repo, runApp, type Tree } from './helpers/fixture.js';
import { runInstaller, waitFor } from './helpers/installer.js';
import { Summary } from './helpers/summary.js';

const summary = new Summary('I/O faults: a failing server, a full or read-only disk, a corrupted cache (the app must stay runnable, the next try must succeed)');

interface Attempt {
  outcome: string;
  staged?: StagedUpdate;
  message?: string;
}

async function tryUpdate(client: UpdateClient, onProgress?: (p: Progress) => void): Promise<Attempt> {
  try {
    const info = await client.checkForUpdates();
    if (info === undefined) return { outcome: 'up-to-date' };
    const staged = await client.downloadUpdate(info, onProgress ? { onProgress } : {});
    return { outcome: 'staged', staged };
  } catch (error) {
    return error instanceof UpdateError ? { outcome: error.code, message: error.message } : { outcome: `untyped ${String(error)}` };
  }
}

describe('I/O faults', () => {
  let repo: Repo;
  let bundles: Record<string, Tree>;
  const disks: SmallDisk[] = [];

  beforeAll(async () => {
    repo = await Repo.create();
    bundles = await repo.publishAll(['1.0.0', '1.1.0']);
  });
  afterEach(async () => {
    repo.server.behave();
    for (const disk of disks.splice(0)) await disk.unmount();
  });
  afterAll(async () => {
    summary.print();
    await repo.cleanup();
  });

  async function sameAs(dir: string, version: string): Promise<boolean> {
    return JSON.stringify(await readTree(dir)) === JSON.stringify(bundles[version]);
  }

  /** A client on 1.0.0 (patch plan), or on an unpublished 0.9.0 (full archive plan). */
  async function victim(plan: 'patch' | 'full', extra: Partial<CoreOptions> = {}): Promise<{ client: UpdateClient; options: CoreOptions; before: Tree }> {
    const options = repo.clientOptions(plan === 'patch' ? '1.0.0' : '0.9.0', await repo.install('1.0.0'), extra);
    return { client: new UpdateClient(options), options, before: await readTree(options.installDir) };
  }

  /**
   * Records and checks a fault: the attempt fails with `expected`, leaves the install as it was and no
   * staged update, and a second attempt (the fault gone) stages the exact published 1.1.0.
   */
  async function expectRecovery(
    name: string,
    expected: string,
    v: { client: UpdateClient; options: CoreOptions; before: Tree },
    attempt: Attempt,
    repair: () => Promise<void> | void,
  ): Promise<Attempt> {
    const left = await leftovers(v.options);
    const unchanged = JSON.stringify(await readTree(v.options.installDir)) === JSON.stringify(v.before);
    await repair();
    const next = await tryUpdate(new UpdateClient(v.options));
    const genuine = next.staged !== undefined && (await sameAs(next.staged.stagedDir, '1.1.0'));
    summary.record({
      case: name,
      expected: `${expected}; install unchanged; next try stages 1.1.0`,
      observed: `${attempt.outcome}; ${unchanged ? 'install unchanged' : 'INSTALL CHANGED'}${left.staged ? '; STAGED' : ''}; next try: ${next.outcome}${genuine ? ' 1.1.0' : ''}`,
    });
    expect(attempt.outcome).toBe(expected);
    expect(unchanged).toBe(true);
    expect(left.staged).toBeUndefined();
    expect(left.stagedFiles.filter((f) => !f.startsWith('.busy-'))).toEqual([]);
    expect(next.outcome).toBe('staged');
    expect(genuine).toBe(true);
    return next;
  }

  describe('server errors', () => {
    const faults: [string, 'patch' | 'full', Rule][] = [
      ['HTTP 500 on timestamp.json', 'patch', { pathEnd: '/metadata/timestamp.json', does: { kind: 'status', status: 500 } }],
      // (A 404 on the patch alone costs the full archive, not the update: test/client-network.slow.test.ts.)
      ['HTTP 404 on the archive', 'full', { pathEnd: `${APP}-1.1.0.tar.gz`, does: { kind: 'status', status: 404 } }],
      ['connection reset on the snapshot', 'patch', { pathEnd: '.snapshot.json', does: { kind: 'reset' } }],
      ['HTTP 503 on the archive', 'full', { pathEnd: `${APP}-1.1.0.tar.gz`, does: { kind: 'status', status: 503 } }],
    ];
    for (const [name, plan, rule] of faults) {
      it(`${name}: NETWORK, then the next check succeeds`, async () => {
        const v = await victim(plan);
        repo.server.on(rule);
        await expectRecovery(name, 'NETWORK', v, await tryUpdate(v.client), () => repo.server.behave());
      });
    }

    it('the server goes away mid-download: NETWORK, then the next check resumes the file', async () => {
      const v = await victim('full');
      repo.server.on({ pathEnd: `${APP}-1.1.0.tar.gz`, does: { kind: 'stall', afterBytes: 60_000 }, times: 1 });
      const pending = tryUpdate(v.client);
      // Once part of the file is on the client's disk, the server disappears.
      const dir = join(v.options.cacheDir, 'targets', BUILD);
      await waitFor(async () => {
        const partial = (await readdir(dir).catch(() => [])).find((n) => n.endsWith('.partial'));
        return partial !== undefined && (await stat(join(dir, partial))).size > 0 ? true : undefined;
      }, 'part of the archive on disk');
      await repo.server.goAway();
      const attempt = await pending;
      const before = repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).length;
      await expectRecovery('server goes away mid-download', 'NETWORK', v, attempt, async () => {
        await repo.server.start();
      });
      expect(repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).slice(before).map((r) => r.status)).toEqual([206]);
    });
  });

  describe('disk full', () => {
    async function smallCache(name: string, sizeKiB: number, skip: (reason: string) => void): Promise<SmallDisk> {
      const disk = await mountSmallDisk(join(await repo.folder(name), 'cache'), sizeKiB);
      if (typeof disk === 'string') {
        summary.record({ case: name, expected: 'DISK', observed: `skipped: ${disk}` });
        skip(disk);
        throw new Error(disk);
      }
      disks.push(disk);
      return disk;
    }

    it('while downloading: DISK, and the next try after space is freed completes', async (context) => {
      const disk = await smallCache('disk full while downloading', 96, (r) => context.skip(r));
      const v = await victim('full', { cacheDir: disk.dir });
      const phases = new Set<string>();
      const attempt = await tryUpdate(v.client, (p) => phases.add(p.phase));
      expect([...phases]).toEqual(['download']);
      await expectRecovery('disk full while downloading', 'DISK', v, attempt, () => disk.remount('size=4m'));
    });

    it('while patching: DISK, and the next try after space is freed completes', async (context) => {
      const disk = await smallCache('disk full while patching', 96, (r) => context.skip(r));
      const v = await victim('patch', { cacheDir: disk.dir });
      const phases = new Set<string>();
      const attempt = await tryUpdate(v.client, (p) => phases.add(p.phase));
      expect([...phases]).toEqual(['download', 'patch']);
      await expectRecovery('disk full while patching', 'DISK', v, attempt, () => disk.remount('size=4m'));
    });

    it('while extracting: DISK, no half-extracted folder, and the next try reuses the download', async (context) => {
      const disk = await smallCache('disk full while extracting', 4096, (r) => context.skip(r));
      const v = await victim('full', { cacheDir: disk.dir });
      const filler = join(disk.dir, 'filler');
      // Another program fills the disk just as extraction starts.
      const fill = (p: Progress): void => {
        if (p.phase !== 'extract' || p.transferred === 0) return;
        const free = statfsSync(disk.dir);
        try {
          writeFileSync(filler, Buffer.alloc(free.bavail * free.bsize), { flag: 'wx' });
        } catch {
          // Full now: that is the point.
        }
      };
      const attempt = await tryUpdate(v.client, fill);
      const archives = repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).length;
      await expectRecovery('disk full while extracting', 'DISK', v, attempt, () => rm(filler, { force: true }));
      expect(repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).length).toBe(archives);
    });
  });

  it('a read-only install folder: the installer touches nothing, keeps the staged update, and installs once it is writable', async (context) => {
    const disk = await mountSmallDisk(join(await repo.folder('read-only'), 'apps'), 4096);
    if (typeof disk === 'string') {
      summary.record({ case: 'read-only install folder', expected: 'installer fails, touches nothing', observed: `skipped: ${disk}` });
      context.skip(disk);
      return;
    }
    disks.push(disk);
    const installDir = await repo.install('1.0.0', join(disk.dir, APP));
    const options = repo.clientOptions('1.0.0', installDir);
    const client = new UpdateClient(options);
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    // root ignores file modes, so the folder is made read-only the way a mount is: for everyone.
    disk.remount('ro');
    const request = { pid: spawnSync('true').pid, installDir, stagedDir: staged.stagedDir, version: staged.version, cacheDir: options.cacheDir, relaunch: [], healthTimeoutMs: 0 };
    const outcome = await runInstaller(request);
    const runs = await runApp(installDir);
    const treeAfterFailure = await readTree(installDir);
    const stillStaged = await findStagedUpdate(options.cacheDir, '1.0.0');
    disk.remount('rw');
    const second = await runInstaller(request);
    summary.record({
      case: 'read-only install folder',
      expected: 'installer fails; 1.0.0 runs; update kept; installs when writable',
      observed: `${outcome.status} ${outcome.reason ?? ''}; runs ${runs ?? 'NO'}; staged ${stillStaged?.version ?? 'lost'}; writable again: ${second.status}, runs ${(await runApp(installDir)) ?? 'NO'}`,
    });
    expect(outcome).toMatchObject({ status: 'failed', reason: 'install-not-writable' });
    expect(runs).toBe('1.0.0');
    expect(treeAfterFailure).toEqual(bundles['1.0.0']);
    expect(stillStaged?.version).toBe('1.1.0');
    expect(second.status).toBe('installed');
    expect(await sameAs(installDir, '1.1.0')).toBe(true);
  });

  describe('a corrupted cache', () => {
    for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
      it(`a truncated cached ${role}.json is fetched again`, async () => {
        const v = await victim('patch');
        expect((await v.client.checkForUpdates())?.version).toBe('1.1.0');
        const file = join(v.options.cacheDir, 'metadata', `${role}.json`);
        await truncate(file, Math.floor((await readFile(file)).length / 2));
        const attempt = await tryUpdate(new UpdateClient(v.options));
        const genuine = attempt.staged !== undefined && (await sameAs(attempt.staged.stagedDir, '1.1.0'));
        summary.record({ case: `cached ${role}.json truncated`, expected: 'fetched again; 1.1.0 staged', observed: `${attempt.outcome}${genuine ? ' 1.1.0' : ''}` });
        expect(attempt.outcome).toBe('staged');
        expect(genuine).toBe(true);
      });
    }

    // tuf-js writes metadata with a plain writeFileSync, so a crash can leave root.json cut short; the
    // client must seed the cache again from the root the app ships instead of failing every check.
    it('a truncated cached root.json is replaced by the shipped root', async () => {
      const v = await victim('patch');
      expect((await v.client.checkForUpdates())?.version).toBe('1.1.0');
      const file = join(v.options.cacheDir, 'metadata', 'root.json');
      await truncate(file, Math.floor((await readFile(file)).length / 2));
      const attempt = await tryUpdate(new UpdateClient(v.options));
      summary.record({ case: 'cached root.json truncated', expected: 'staged (root seeded again)', observed: `${attempt.outcome} ("${attempt.message ?? ''}")` });
      expect(attempt.outcome).toBe('staged');
    });

    it('a staged folder changed after staging is dropped and staged again', async () => {
      const v = await victim('patch');
      const first = await tryUpdate(v.client);
      await appendFile(join(first.staged!.stagedDir, 'version.txt'), 'tampered\n');
      const again = await tryUpdate(new UpdateClient(v.options));
      const genuine = again.staged !== undefined && (await sameAs(again.staged.stagedDir, '1.1.0'));
      summary.record({ case: 'staged folder altered', expected: 'dropped; 1.1.0 staged again', observed: `${again.outcome}${genuine ? ', identical to the published bundle' : ', NOT GENUINE'}` });
      expect(again.outcome).toBe('staged');
      expect(genuine).toBe(true);
    });

    it('a cached archive altered on disk is downloaded again', async () => {
      const v = await victim('full');
      const first = await tryUpdate(v.client);
      expect(first.staged?.strategy).toBe('full');
      const dir = join(v.options.cacheDir, 'targets', BUILD);
      const [archive] = (await readdir(dir)).filter((n) => n.endsWith('.tar.gz'));
      const bytes = await readFile(join(dir, archive!));
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
      await writeFile(join(dir, archive!), bytes);
      await rm(join(v.options.cacheDir, 'staged'), { recursive: true });
      const before = repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).length;
      const again = await tryUpdate(new UpdateClient(v.options));
      const fetched = repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).length - before;
      const genuine = again.staged !== undefined && (await sameAs(again.staged.stagedDir, '1.1.0'));
      summary.record({ case: 'cached archive altered', expected: 'downloaded again; 1.1.0 staged', observed: `${again.outcome}; archive fetched ${fetched}x${genuine ? '; identical to the published bundle' : '; NOT GENUINE'}` });
      expect(again.outcome).toBe('staged');
      expect(fetched).toBe(1);
      expect(genuine).toBe(true);
    });

    it('a cached patch base altered on disk is rebuilt from the install folder', async () => {
      const own = await Repo.create();
      try {
        await own.publish('1.0.0');
        await own.publish('1.1.0');
        const options = own.clientOptions('1.0.0', await own.install('1.0.0'));
        const staged = await new UpdateClient(options).downloadUpdate((await new UpdateClient(options).checkForUpdates())!);
        expect(staged.strategy).toBe('patch');
        // 1.1.0 got installed; its tar stays in the cache as the base of the next patch. Then it rots.
        const installed = await own.install('1.1.0');
        const base = join(options.cacheDir, 'targets', BUILD, `${APP}-1.1.0.tar`);
        await appendFile(base, 'rot');
        await own.publish('1.2.0');
        const next = await tryUpdate(new UpdateClient({ ...options, currentVersion: '1.1.0', installDir: installed }));
        const genuine = next.staged !== undefined && JSON.stringify(await readTree(next.staged.stagedDir)) === JSON.stringify(await readTree(own.bundleDir('1.2.0')));
        summary.record({ case: 'cached patch base altered', expected: 'base rebuilt from the install; 1.2.0 staged by patch', observed: `${next.outcome} ${next.staged?.version ?? ''} via ${next.staged?.strategy ?? '-'}${genuine ? ', identical to the published bundle' : ''}` });
        expect(next.staged).toMatchObject({ version: '1.2.0', strategy: 'patch' });
        expect(genuine).toBe(true);
      } finally {
        await own.cleanup();
      }
    });
  });
});
