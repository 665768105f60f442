import { mkdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, UpdateError, type Progress, type StagedUpdate } from '@tufup/electron-client/core';
import { rotateKey } from '@tufup/repo-tools';
import { codeOf, openFdsOnceSettled, readTree } from '@tufup/testkit';
import { APP, TestRepo } from '@tufup/testkit/repo';

/** Bytes this process (all its threads) has read through read(2) and friends so far: Linux's rchar. */
function bytesReadByThisProcess(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

async function expectStagedBundle(fixture: TestRepo, staged: StagedUpdate): Promise<void> {
  expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir(staged.version)));
}

describe('an app checking a repository of releases 1.0.0 to 1.3.0', () => {
  let fixture: TestRepo;

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('1.0.0', { releaseNotes: 'first' });
    await fixture.publish('1.1.0', { releaseNotes: 'second' });
    await fixture.publish('1.2.0');
    await fixture.publish('1.3.0', { releaseNotes: 'Faster startup.' });
  });
  afterAll(() => fixture.cleanup());

  it('is up to date on the newest version', async () => {
    const { client } = await fixture.client('1.3.0');
    expect(await client.checkForUpdates()).toBeUndefined();
  });

  it('is offered the newest version with release notes and a patch plan smaller than the archive', async () => {
    const { client } = await fixture.client('1.2.0');
    const info = await client.checkForUpdates();
    expect(info?.version).toBe('1.3.0');
    expect(info?.releaseNotes).toBe('Faster startup.');
    expect(info?.required).toBe(false);
    expect(info?.custom.tufup.version).toBe('1.3.0');
    expect(info?.plan.strategy).toBe('patch');
    expect(info?.plan.files.map((f) => f.targetPath)).toEqual([`linux-x64/${APP}-1.3.0.patch`]);
    expect(info?.plan.downloadSize).toBeLessThan(info!.plan.fullSize);
  });

  it('one version behind: downloads the patch, rebuilds the base from the install folder and stages the exact bundle', async () => {
    const { client, options } = await fixture.client('1.2.0');
    const info = (await client.checkForUpdates())!;
    const events: Progress[] = [];
    const staged = await client.downloadUpdate(info, { onProgress: (p) => events.push(p) });
    expect(staged).toMatchObject({ version: '1.3.0', strategy: 'patch', required: false, releaseNotes: 'Faster startup.' });
    expect(staged.stagedDir).toBe(join(options.cacheDir, 'staged', '1.3.0'));
    expect(staged.downloadedBytes).toBe(info.plan.downloadSize);
    await expectStagedBundle(fixture, staged);
    expect(JSON.parse(await readFile(join(options.cacheDir, 'staged', '1.3.0.json'), 'utf8'))).toMatchObject({ version: '1.3.0', strategy: 'patch' });
    // No second copy of the app: the only base kept is the new version's tar, for the next patch.
    expect(await readdir(join(options.cacheDir, 'targets', 'linux-x64'))).toEqual([`${APP}-1.3.0.tar`]);
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['download', 'patch', 'extract']);
    for (const phase of phases) {
      const last = events.filter((e) => e.phase === phase).at(-1)!;
      expect(last.transferred).toBe(last.total);
      expect(last.phasePercent).toBe(100);
    }
    expect(events.find((e) => e.phase === 'download')?.total).toBe(info.plan.downloadSize);
    // One percent for the whole update: it only grows, and ends at 100; network bytes stay network bytes.
    const percents = events.map((e) => e.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBe(100);
    expect(events.at(-1)).toMatchObject({ downloaded: info.plan.downloadSize, downloadSize: info.plan.downloadSize });
  });

  it('three versions behind: applies the chain of patches, each tar verified, and stages the newest', async () => {
    const { client } = await fixture.client('1.0.0');
    const info = (await client.checkForUpdates())!;
    expect(info.plan.strategy).toBe('patch');
    expect(info.plan.files.map((f) => f.targetPath)).toEqual(['1.1.0', '1.2.0', '1.3.0'].map((v) => `linux-x64/${APP}-${v}.patch`));
    const staged = await client.downloadUpdate(info);
    expect(staged.strategy).toBe('patch');
    await expectStagedBundle(fixture, staged);
  });

  it('a fresh install whose folder gained files the bundle never had still patches (the base follows the archive list)', async () => {
    const { client, options } = await fixture.client('1.2.0');
    await writeFile(join(options.installDir, 'uninstall.exe'), 'added by an installer');
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('patch');
    await expectStagedBundle(fixture, staged);
  });

  it('an install folder changed by one byte falls back to the full archive', async () => {
    const { client, options } = await fixture.client('1.2.0');
    await appendFile(join(options.installDir, 'version.txt'), 'x');
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('full');
    await expectStagedBundle(fixture, staged);
    expect(fixture.server.requestsFor(`${APP}-1.3.0.tar.gz`).length).toBeGreaterThan(0);
  });

  it('falls back to the full archive once when a patch fails verification', async () => {
    const dir = join(fixture.repoDir, 'targets', 'linux-x64');
    const name = (await readdir(dir)).find((n) => n.endsWith(`${APP}-1.3.0.patch`))!;
    const original = await readFile(join(dir, name));
    await writeFile(join(dir, name), Buffer.concat([original.subarray(0, -1), Buffer.from([original.at(-1)! ^ 1])]));
    try {
      const { client } = await fixture.client('1.2.0');
      const info = (await client.checkForUpdates())!;
      expect(info.plan.strategy).toBe('patch');
      const staged = await client.downloadUpdate(info);
      expect(staged.strategy).toBe('full');
      expect(staged.downloadedBytes).toBe(info.plan.downloadSize + info.plan.fullSize);
      await expectStagedBundle(fixture, staged);
    } finally {
      await writeFile(join(dir, name), original);
    }
  });

  it('uses a cached tar of the running version as the patch base, without reading the install folder', async () => {
    const first = await fixture.client('1.1.0');
    const staged = await first.client.downloadUpdate((await first.client.checkForUpdates())!);
    expect(staged.version).toBe('1.3.0');
    // The next app version runs from a folder the client cannot read, but its cache holds the 1.3.0 tar.
    await fixture.publish('1.4.0');
    const next = new UpdateClient({ ...first.options, currentVersion: '1.3.0', installDir: join(fixture.tmp, 'nowhere') });
    const info = (await next.checkForUpdates())!;
    const again = await next.downloadUpdate(info);
    expect(again).toMatchObject({ version: '1.4.0', strategy: 'patch' });
    await expectStagedBundle(fixture, again);
    // The older staged version is pruned once a newer one is staged.
    expect(await readdir(join(first.options.cacheDir, 'staged'))).toEqual(['1.4.0', '1.4.0.json']);
  });

  it('finds a staged update again after a restart, and drops it once it is installed', async () => {
    const { client, options } = await fixture.client('1.2.0');
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(await findStagedUpdate(options.cacheDir, '1.2.0')).toEqual(staged);
    expect(await findStagedUpdate(options.cacheDir, staged.version)).toBeUndefined();
    expect(await readdir(join(options.cacheDir, 'staged'))).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('does not read other staged versions while downloading one: an older one is pruned unread', async () => {
    const { client, options } = await fixture.client('1.0.0');
    const info = (await client.checkForUpdates())!;
    // An older staged version holding a large (sparse, so it costs no disk) file: hashing it would read it all.
    const big = 64 * 1024 * 1024;
    const older = join(options.cacheDir, 'staged', '1.1.0');
    await mkdir(older, { recursive: true });
    await writeFile(join(older, 'huge.bin'), '');
    await truncate(join(older, 'huge.bin'), big);
    await writeFile(`${older}.json`, JSON.stringify({ version: '1.1.0', tar: { sha256: '0'.repeat(64), size: big + 2048 }, strategy: 'full' }));

    const before = bytesReadByThisProcess();
    const staged = await client.downloadUpdate(info);
    const read = bytesReadByThisProcess() - before;
    await expectStagedBundle(fixture, staged);
    expect(read).toBeLessThan(big / 2);
    expect(await readdir(join(options.cacheDir, 'staged'))).toEqual([staged.version, `${staged.version}.json`]);
  });

  it('never offers an excluded version', async () => {
    const { client } = await fixture.client('1.2.0', { excludeVersions: ['1.3.0', '1.4.0'] });
    expect(await client.checkForUpdates()).toBeUndefined();
  });

  it('only counts targets of its own platform and arch', async () => {
    await fixture.publish('9.0.0', { platform: 'win32' });
    const linux = await fixture.client('1.2.0');
    expect((await linux.client.checkForUpdates())?.version).toBe('1.4.0');
    const windows = await fixture.client('1.2.0', { platform: 'win32' });
    expect(await windows.client.checkForUpdates()).toMatchObject({ version: '9.0.0', plan: { strategy: 'full' } });
    const arm = await fixture.client('1.2.0', { arch: 'arm64' });
    expect(await arm.client.checkForUpdates()).toBeUndefined();
  });
});

describe('choosing among prereleases, required updates and large patches', () => {
  let fixture: TestRepo;

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('2.0.0');
    await fixture.publish('2.1.0', { required: true, releaseNotes: 'Security fix.' });
    await fixture.publish('2.2.0-beta.1');
    await fixture.publish('2.2.0-rc.1');
  });
  afterAll(() => fixture.cleanup());

  it('offers only releases on the default channel', async () => {
    const { client } = await fixture.client('2.0.0');
    expect((await client.checkForUpdates())?.version).toBe('2.1.0');
  });

  it('flags an update as required and stages it with the flag', async () => {
    const { client } = await fixture.client('2.0.0');
    const info = (await client.checkForUpdates())!;
    expect(info).toMatchObject({ version: '2.1.0', required: true, releaseNotes: 'Security fix.' });
    const staged = await client.downloadUpdate(info);
    expect(staged).toMatchObject({ version: '2.1.0', required: true, releaseNotes: 'Security fix.' });
    await expectStagedBundle(fixture, staged);
  });

  it('offers the beta on the beta channel, and stages it from a patch', async () => {
    const { client } = await fixture.client('2.1.0', { channel: 'beta' });
    const info = (await client.checkForUpdates())!;
    expect(info.version).toBe('2.2.0-beta.1');
    const staged = await client.downloadUpdate(info);
    expect(staged.strategy).toBe('patch');
    await expectStagedBundle(fixture, staged);
  });

  it('offers the newest prerelease of any channel with allowPrerelease', async () => {
    const { client } = await fixture.client('2.1.0', { allowPrerelease: true });
    expect((await client.checkForUpdates())?.version).toBe('2.2.0-rc.1');
  });

  it('patches through prereleases it would not install', async () => {
    await fixture.publish('2.2.0');
    const { client } = await fixture.client('2.1.0');
    const info = (await client.checkForUpdates())!;
    expect(info.version).toBe('2.2.0');
    expect(info.plan.files.map((f) => f.targetPath)).toEqual(['2.2.0-beta.1', '2.2.0-rc.1', '2.2.0'].map((v) => `linux-x64/${APP}-${v}.patch`));
    const staged = await client.downloadUpdate(info);
    expect(staged.strategy).toBe('patch');
    await expectStagedBundle(fixture, staged);
  });

  it('flags an update as required when a skipped version was required', async () => {
    const { client } = await fixture.client('2.0.0');
    expect(await client.checkForUpdates()).toMatchObject({ version: '2.2.0', required: true });
  });

  it('downloads the full archive when the patch chain is larger than it', async () => {
    await fixture.publish('3.0.0', { churn: true });
    await fixture.publish('3.1.0', { churn: true });
    const { client } = await fixture.client('2.2.0');
    const info = (await client.checkForUpdates())!;
    expect(info.version).toBe('3.1.0');
    expect(info.plan).toMatchObject({ strategy: 'full', files: [{ targetPath: `linux-x64/${APP}-3.1.0.tar.gz` }] });
    expect(info.plan.downloadSize).toBe(info.plan.fullSize);
    const staged = await client.downloadUpdate(info);
    expect(staged.strategy).toBe('full');
    await expectStagedBundle(fixture, staged);
  });
});

describe('downloads that go wrong', () => {
  let fixture: TestRepo;
  const archive = `${APP}-5.1.0.tar.gz`;

  beforeAll(async () => {
    fixture = await TestRepo.create();
    // Two releases of fresh content: the patch chain outweighs the archive, so the archive (1 MiB) is
    // what gets downloaded, cut, stalled and resumed.
    await fixture.publish('5.0.0', { assetSize: 1024 * 1024 });
    await fixture.publish('5.0.1', { assetSize: 1024 * 1024, churn: true });
    await fixture.publish('5.1.0', { assetSize: 1024 * 1024, churn: true });
  });
  afterEach(() => fixture.server.behave());
  afterAll(() => fixture.cleanup());

  it('resumes a cut connection with a Range request instead of sending the file again', async () => {
    const { client } = await fixture.client('5.0.0');
    const info = (await client.checkForUpdates())!;
    expect(info.plan.strategy).toBe('full');
    const size = info.plan.downloadSize;
    const before = fixture.server.requestsFor(archive).length;
    fixture.server.on({ pathEnd: archive, does: { kind: 'cut', afterBytes: 300_000 }, times: 1 });
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
    const [first, second, ...more] = fixture.server.requestsFor(archive).slice(before);
    expect(more).toEqual([]);
    expect(first).toMatchObject({ range: undefined, status: 200, bytesSent: 300_000 });
    // Bytes still in flight when the connection dropped are lost; the rest is never sent twice.
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(second?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(second).toMatchObject({ status: 206, bytesSent: size - resumedAt });
    const resent = first!.bytesSent + second!.bytesSent - size;
    expect(resent).toBe(300_000 - resumedAt);
    expect(resent).toBeLessThan(300_000);
    expect(staged.downloadedBytes).toBe(size);
  });

  it('cuts a stalled connection and resumes it', async () => {
    const { client } = await fixture.client('5.0.0', { stallTimeoutMs: 300 });
    const info = (await client.checkForUpdates())!;
    const before = fixture.server.requestsFor(archive).length;
    fixture.server.on({ pathEnd: archive, does: { kind: 'stall', afterBytes: 200_000 }, times: 1 });
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
    // Resumed where the client's bytes ended (all 200000 unless some were still in flight when it gave up).
    expect(fixture.server.requestsFor(archive).slice(before).map((r) => r.range)).toEqual([undefined, expect.stringMatching(/^bytes=[1-9]\d*-$/)]);
  });

  it('reports TIMEOUT when a connection stalls on every retry', async () => {
    const { client, options } = await fixture.client('5.0.0', { stallTimeoutMs: 500, retries: 1 });
    const info = (await client.checkForUpdates())!;
    fixture.server.on({ pathEnd: archive, does: { kind: 'stall', afterBytes: 1000 }, times: 2 });
    expect(await codeOf(client.downloadUpdate(info), UpdateError)).toBe('TIMEOUT');
    expect(await findStagedUpdate(options.cacheDir, '5.0.0')).toBeUndefined();
  });

  it('stops on cancellation, keeps nothing that could be trusted, and resumes on the next try', async () => {
    const { client, options } = await fixture.client('5.0.0', { stallTimeoutMs: 300 });
    const info = (await client.checkForUpdates())!;
    const controller = new AbortController();
    // The server holds the rest back, so the user's cancellation surely lands mid-file.
    fixture.server.on({ pathEnd: archive, does: { kind: 'stall', afterBytes: 400_000 }, times: 1 });
    const download = client.downloadUpdate(info, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'download' && p.transferred >= 400_000) controller.abort();
      },
    });
    expect(await codeOf(download, UpdateError)).toBe('CANCELLED');
    const dir = join(options.cacheDir, 'targets', 'linux-x64');
    const left = await readdir(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/\.partial$/);
    const kept = (await stat(join(dir, left[0]!))).size;
    expect(kept).toBeGreaterThan(0);
    expect(await findStagedUpdate(options.cacheDir, '5.0.0')).toBeUndefined();

    const before = fixture.server.requestsFor(archive).length;
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
    expect(fixture.server.requestsFor(archive).slice(before).map((r) => r.range)).toEqual([`bytes=${kept}-`]);
    expect(staged.downloadedBytes).toBe(info.plan.downloadSize - kept);
  });

  it('stops extraction on cancellation, leaves no staged folder, and reuses the verified download next time', async () => {
    const { client, options } = await fixture.client('5.0.0');
    const info = (await client.checkForUpdates())!;
    const controller = new AbortController();
    const download = client.downloadUpdate(info, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'extract') controller.abort();
      },
    });
    expect(await codeOf(download, UpdateError)).toBe('CANCELLED');
    expect(await readdir(join(options.cacheDir, 'staged'))).toEqual([]);
    const before = fixture.server.requestsFor(archive).length;
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
    expect(fixture.server.requestsFor(archive).length).toBe(before);
    expect(staged.downloadedBytes).toBe(0);
  });

  it.skipIf(process.platform !== 'linux')('closes the downloaded archive when its staging folder appeared meanwhile, and stages it on the next try', async () => {
    const { client, options } = await fixture.client('5.0.0');
    const info = (await client.checkForUpdates())!;
    const stagedDir = join(options.cacheDir, 'staged', '5.1.0');
    // Something else (another process of the app) makes the folder once the download is complete.
    const download = client.downloadUpdate(info, {
      onProgress: (p) => {
        if (p.phase === 'download' && p.transferred === p.total) mkdirSync(stagedDir, { recursive: true });
      },
    });
    await codeOf(download, UpdateError);
    expect(await openFdsOnceSettled(join(options.cacheDir, 'targets', 'linux-x64', archive))).toBe(0);
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
  });

  it('throws away a resumed file that fails verification and downloads it whole', async () => {
    const { client, options } = await fixture.client('5.0.0');
    const info = (await client.checkForUpdates())!;
    const sha = (await readdir(join(fixture.repoDir, 'targets', 'linux-x64'))).find((n) => n.endsWith(archive))!;
    // A partial whose bytes are not a prefix of the signed file.
    await writeFile(join(options.cacheDir, 'targets', 'linux-x64', `${sha}.partial`), Buffer.alloc(50_000, 7));
    const staged = await client.downloadUpdate(info);
    await expectStagedBundle(fixture, staged);
    expect(staged.strategy).toBe('full');
  });

  it('rejects a tampered file on the server with VERIFICATION and stages nothing', async () => {
    const { client, options } = await fixture.client('5.0.0');
    const info = (await client.checkForUpdates())!;
    const dir = join(fixture.repoDir, 'targets', 'linux-x64');
    const name = (await readdir(dir)).find((n) => n.endsWith(archive))!;
    const original = await readFile(join(dir, name));
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10] = tampered[tampered.length - 10]! ^ 0xff;
    await writeFile(join(dir, name), tampered);
    try {
      expect(await codeOf(client.downloadUpdate(info), UpdateError)).toBe('VERIFICATION');
    } finally {
      await writeFile(join(dir, name), original);
    }
    expect(await readdir(join(options.cacheDir, 'targets', 'linux-x64'))).toEqual([]);
    expect(await findStagedUpdate(options.cacheDir, '5.0.0')).toBeUndefined();
  });

  it('reports NETWORK when the server cannot be reached', async () => {
    const { client } = await fixture.client('5.0.0', { metadataUrl: 'http://127.0.0.1:9/metadata/', retries: 0 });
    expect(await codeOf(client.checkForUpdates(), UpdateError)).toBe('NETWORK');
  });

  it('reports VERIFICATION when the shipped root belongs to another repository', async () => {
    const other = await TestRepo.create();
    try {
      const { client } = await fixture.client('5.0.0', { trustedRoot: await readFile(other.trustedRoot) });
      expect(await codeOf(client.checkForUpdates(), UpdateError)).toBe('VERIFICATION');
    } finally {
      await other.cleanup();
    }
  });
});

describe('the chain of trust', () => {
  it('follows a root rotation from the root shipped in the app, and keeps the newer root', async () => {
    const fixture = await TestRepo.create();
    try {
      await fixture.publish('1.0.0');
      const { client, options } = await fixture.client('1.0.0');
      expect(await client.checkForUpdates()).toBeUndefined();
      await rotateKey({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, role: 'root' });
      await rotateKey({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, role: 'timestamp' });
      await fixture.publish('1.1.0');
      // The same client checks again: a fresh tuf-js Updater per check, over the cached metadata.
      const info = (await client.checkForUpdates())!;
      expect(info.version).toBe('1.1.0');
      const cachedRoot = JSON.parse(await readFile(join(options.cacheDir, 'metadata', 'root.json'), 'utf8')) as { signed: { version: number } };
      expect(cachedRoot.signed.version).toBeGreaterThan(1);
      await expectStagedBundle(fixture, await client.downloadUpdate(info));
    } finally {
      await fixture.cleanup();
    }
  });

  it('refuses expired metadata with VERIFICATION', async () => {
    const fixture = await TestRepo.create({ now: new Date(Date.now() - 400 * 86_400_000) });
    try {
      await fixture.publish('1.0.0');
      await fixture.publish('1.1.0');
      const { client } = await fixture.client('1.0.0');
      expect(await codeOf(client.checkForUpdates(), UpdateError)).toBe('VERIFICATION');
    } finally {
      await fixture.cleanup();
    }
  });

  it('refuses to download a version the repository does not offer', async () => {
    const fixture = await TestRepo.create();
    try {
      await fixture.publish('1.0.0');
      await fixture.publish('1.1.0');
      const { client } = await fixture.client('1.0.0');
      const info = (await client.checkForUpdates())!;
      expect(await codeOf(client.downloadUpdate({ ...info, version: '1.2.0' }), UpdateError)).toBe('NO_UPDATE');
      expect(await codeOf(client.downloadUpdate({ ...info, version: '0.9.0' }), UpdateError)).toBe('NO_UPDATE');
      // An info the app kept or built itself, with a version that is none.
      expect(await codeOf(client.downloadUpdate({ ...info, version: 'latest' }), UpdateError)).toBe('NO_UPDATE');
    } finally {
      await fixture.cleanup();
    }
  });
});
