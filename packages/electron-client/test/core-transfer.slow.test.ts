import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, UpdateError, type CoreOptions } from '@tufup/electron-client/core';
import { codeOf, readTree } from '@tufup/testkit';
import { APP, TestRepo } from '@tufup/testkit/repo';

const KiB = 1024;

describe('slow servers: the minimum transfer rate', () => {
  let fixture: TestRepo;
  const archive = `${APP}-1.1.0.tar.gz`;

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('1.0.0', { assetSize: 1024 * KiB });
    await fixture.publish('1.1.0', { assetSize: 1024 * KiB, churn: true });
  });
  afterEach(() => fixture.server.behave());
  afterAll(() => fixture.cleanup());

  /** A client on an unpublished 0.9.0: no patch leads from it, so it downloads the 1 MiB archive. */
  async function fullClient(extra: Partial<CoreOptions>): Promise<{ client: UpdateClient; options: CoreOptions }> {
    const options = fixture.clientOptions('0.9.0', await fixture.install('1.0.0'), extra);
    return { client: new UpdateClient(options), options };
  }

  it('lets a slow download finish while it keeps above minBytesPerSecond', async () => {
    const { client } = await fullClient({ stallTimeoutMs: 400, minBytesPerSecond: 16 * KiB, retries: 0 });
    const info = (await client.checkForUpdates())!;
    expect(info.plan.strategy).toBe('full');
    const before = fixture.server.requestsFor(archive).length;
    // About 640 KiB/s: far slower than the loopback, forty times the minimum.
    fixture.server.on({ pathEnd: archive, does: { kind: 'trickle', bytes: 32 * KiB, everyMs: 50 }, times: 1 });
    const staged = await client.downloadUpdate(info);
    expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    expect(fixture.server.requestsFor(archive).slice(before).map((r) => r.range)).toEqual([undefined]);
  });

  it('cuts a download slower than minBytesPerSecond with TIMEOUT and resumes it on the retry', async () => {
    const { client } = await fullClient({ stallTimeoutMs: 400, minBytesPerSecond: 2048 * KiB, retries: 1 });
    const info = (await client.checkForUpdates())!;
    const before = fixture.server.requestsFor(archive).length;
    fixture.server.on({ pathEnd: archive, does: { kind: 'trickle', bytes: 32 * KiB, everyMs: 50 }, times: 1 });
    const staged = await client.downloadUpdate(info);
    expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    // The slow request was cut part-way; the retry (served at full speed) continued where it stopped.
    const [first, second, ...more] = fixture.server.requestsFor(archive).slice(before);
    expect(more).toEqual([]);
    expect(first?.range).toBeUndefined();
    expect(first?.bytesSent).toBeLessThan(info.plan.downloadSize);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(second?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(second).toMatchObject({ status: 206, bytesSent: info.plan.downloadSize - resumedAt });
  });

  it('reports TIMEOUT when metadata trickles in too slowly on every retry, and stages nothing', async () => {
    // A few bytes every 100 ms never trips the stall timeout; the default minimum rate (1 KiB/s) does.
    const { client, options } = await fullClient({ stallTimeoutMs: 500, retries: 1 });
    const before = fixture.server.requestsFor('/timestamp.json').length;
    fixture.server.on({ pathEnd: '/timestamp.json', does: { kind: 'trickle', bytes: 4, everyMs: 100 }, times: 2 });
    expect(await codeOf(client.checkForUpdates(), UpdateError)).toBe('TIMEOUT');
    expect(fixture.server.requestsFor('/timestamp.json').length - before).toBe(2);
    expect(await findStagedUpdate(options.cacheDir, '0.9.0')).toBeUndefined();
  });

  it('minBytesPerSecond: 0 turns the rate check off, leaving only the stall timeout', async () => {
    // About 640 B/s: below the default minimum of 1 KiB/s, yet never silent for 300 ms.
    const slow = { pathEnd: '/timestamp.json', does: { kind: 'trickle', bytes: 64, everyMs: 100 }, times: 1 } as const;
    fixture.server.on(slow);
    expect(await codeOf((await fullClient({ stallTimeoutMs: 300, retries: 0 })).client.checkForUpdates(), UpdateError)).toBe('TIMEOUT');
    fixture.server.on(slow);
    const info = await (await fullClient({ stallTimeoutMs: 300, retries: 0, minBytesPerSecond: 0 })).client.checkForUpdates();
    expect(info?.version).toBe('1.1.0');
  });
});
