import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClient, UpdateError, type CoreOptions } from '@tufup/electron-client/core';
import { LoopbackServer, rejectionOf } from '@tufup/testkit';
import { APP, readTree, Repo, type Tree } from './helpers/fixture.js';
import { Summary } from './helpers/summary.js';

// Mirrors (issue 15 item 3): one repository served by several servers on 127.0.0.1, one of which fails,
// and one of which still serves the repository as it was before the last release. TUF makes every
// mirror equally untrusted: the client takes fresh metadata from a good mirror, or fails clearly.

const summary = new Summary('Mirrors: one stops, one is stale');

/** The `version` field of a metadata file. */
function versionOf(bytes: Buffer): number {
  return (JSON.parse(bytes.toString()) as { signed: { version: number } }).signed.version;
}

describe('an app updating from mirrors', () => {
  let repo: Repo;
  let trees: Record<string, Tree>;
  let mirrorA: LoopbackServer;
  let mirrorB: LoopbackServer;
  /** Serves a copy of the repository taken before 1.1.0 was published: valid, signed, old. */
  let stale: LoopbackServer;
  const mirror = (server: LoopbackServer): { metadataUrl: string; targetsUrl: string } => ({ metadataUrl: `${server.url}/metadata/`, targetsUrl: `${server.url}/targets/` });
  /** A client running `version` that knows only the mirrors given (not the repository's own server). */
  const viaMirrors = async (version: string, extra: Partial<CoreOptions>): Promise<{ client: UpdateClient; options: CoreOptions }> => {
    const options = repo.clientOptions(version, await repo.install('1.0.0'), { metadataUrl: undefined, targetsUrl: undefined, ...extra });
    return { client: new UpdateClient(options), options };
  };

  beforeAll(async () => {
    repo = await Repo.create();
    trees = await repo.publishAll(['1.0.0']);
    const staleDir = await repo.folder('stale-repo');
    await cp(repo.repoDir, staleDir, { recursive: true });
    stale = await new LoopbackServer(staleDir).start();
    // A big, fresh asset: the full archive takes many chunks, so a mirror can stop halfway through it.
    await repo.publish('1.1.0', { assetSize: 3 * 1024 * 1024, churn: true });
    trees['1.1.0'] = await readTree(repo.bundleDir('1.1.0'));
    mirrorA = await new LoopbackServer(repo.repoDir).start();
    mirrorB = await new LoopbackServer(repo.repoDir).start();
  });
  afterAll(async () => {
    summary.print();
    await Promise.all([mirrorA.close(), mirrorB.close(), stale.close()]);
    await repo.cleanup();
  });
  afterEach(async () => {
    for (const server of [mirrorA, mirrorB, stale]) {
      server.behave();
      server.requests.splice(0);
    }
    if (!mirrorA.listening) await mirrorA.start();
  });

  it('a mirror that stops in the middle of the archive: the download resumes on the next one, each byte fetched once', async () => {
    const archive = `${APP}-1.1.0.tar.gz`;
    mirrorA.on({ pathEnd: archive, does: { kind: 'cut', afterBytes: 1024 * 1024 }, then: () => void mirrorA.goAway() });
    const { client } = await viaMirrors('0.9.0', { urls: [mirrorA.url, mirrorB.url], retries: 1 });
    const info = await client.checkForUpdates();
    expect(info?.plan.strategy).toBe('full');
    const staged = await client.downloadUpdate(info!);
    expect(await readTree(staged.stagedDir)).toEqual(trees['1.1.0']);
    const fromA = mirrorA.requestsFor(archive);
    const fromB = mirrorB.requestsFor(archive);
    expect(fromA.map((r) => r.misbehaviour)).toEqual(['cut']);
    expect(fromB.map((r) => [r.status, r.range])).toEqual([[206, expect.stringMatching(/^bytes=[1-9]\d*-$/)]]);
    expect(staged.downloadedBytes).toBe(info!.plan.fullSize);
    summary.record({ case: 'mirror A cut after 1 MiB of the archive, then gone', expected: 'resumed on B with a Range; staged', observed: `A ${fromA.length} request, B ${fromB[0]?.range ?? 'no range'}; ${staged.downloadedBytes} bytes for a ${info!.plan.fullSize}-byte archive` });
  });

  it('a mirror that answers 503: the request goes on to the next mirror, which serves the rest of the operation', async () => {
    mirrorA.on({ pathEnd: 'timestamp.json', does: { kind: 'status', status: 503 } });
    const { client } = await viaMirrors('1.0.0', { mirrors: [mirror(mirrorA), mirror(mirrorB)], retries: 0 });
    const info = await client.checkForUpdates();
    expect(info?.version).toBe('1.1.0');
    // The probe for a next root (404: none) first, then the failed timestamp; nothing more from A.
    expect(mirrorA.requests.map((r) => [r.path.replace(/^.*\//, ''), r.status])).toEqual([['2.root.json', 404], ['timestamp.json', 503]]);
    expect(mirrorB.requestsFor('timestamp.json').map((r) => r.status)).toEqual([200]);
    summary.record({ case: 'mirror A answers 503 for timestamp.json', expected: 'timestamp and the rest of the check from B', observed: `A ${mirrorA.requests.length} request; offered ${info?.version ?? 'nothing'}` });
  });

  it('a mirror that stalls in the middle of a patch: the patch resumes on the next mirror', async () => {
    mirrorA.on({ pathEnd: '.patch', does: { kind: 'stall', afterBytes: 100 } });
    const { client } = await viaMirrors('1.0.0', { mirrors: [mirror(mirrorA), mirror(mirrorB)], stallTimeoutMs: 500, retries: 0 });
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged).toMatchObject({ version: '1.1.0', strategy: 'patch' });
    expect(await readTree(staged.stagedDir)).toEqual(trees['1.1.0']);
    expect(mirrorB.requestsFor('.patch').map((r) => [r.status, r.range])).toEqual([[206, 'bytes=100-']]);
    summary.record({ case: 'mirror A stalls after 100 bytes of the patch', expected: 'resumed on B at byte 100', observed: `staged ${staged.version} (${staged.strategy}); B ${mirrorB.requestsFor('.patch')[0]?.range ?? ''}` });
  });

  it('a stale mirror first: its old metadata is refused as a rollback, and fresh metadata comes from the next mirror', async () => {
    const { client, options } = await viaMirrors('1.0.0', { mirrors: [mirror(mirrorA)] });
    expect((await client.checkForUpdates())?.version).toBe('1.1.0');
    const seen = versionOf(await readFile(join(options.cacheDir, 'metadata', 'timestamp.json')));
    const again = new UpdateClient({ ...options, mirrors: [mirror(stale), mirror(mirrorA)] });
    const info = await again.checkForUpdates();
    expect(info?.version).toBe('1.1.0');
    expect(stale.requestsFor('timestamp.json')).toHaveLength(1);
    expect(versionOf(await readFile(join(options.cacheDir, 'metadata', 'timestamp.json')))).toBe(seen);
    summary.record({ case: 'stale mirror listed first, after the app saw newer metadata', expected: 'rollback refused; fresh from the next mirror', observed: `offered ${info?.version ?? 'nothing'}` });
  });

  it('only a stale mirror left: VERIFICATION (a rollback), and the cached metadata stays at the newer version', async () => {
    const { client, options } = await viaMirrors('1.0.0', { mirrors: [mirror(mirrorA)] });
    expect((await client.checkForUpdates())?.version).toBe('1.1.0');
    const seen = versionOf(await readFile(join(options.cacheDir, 'metadata', 'timestamp.json')));
    await mirrorA.goAway();
    const again = new UpdateClient({ ...options, mirrors: [mirror(mirrorA), mirror(stale)], retries: 0 });
    const error = await rejectionOf(again.checkForUpdates(), UpdateError);
    expect(error.code).toBe('VERIFICATION');
    expect(error.message).toMatch(/timestamp version \d+ is less than current version \d+/);
    expect(versionOf(await readFile(join(options.cacheDir, 'metadata', 'timestamp.json')))).toBe(seen);
    summary.record({ case: 'mirror A gone, the only other mirror stale', expected: 'VERIFICATION, cache unchanged', observed: `${error.code}: ${error.message.slice(0, 90)}` });
  });

  it('every mirror gone: NETWORK, naming the mirrors tried', async () => {
    const { client } = await viaMirrors('1.0.0', { urls: [mirrorA.url, mirrorB.url], retries: 0 });
    await mirrorA.goAway();
    await mirrorB.goAway();
    try {
      const error = await rejectionOf(client.checkForUpdates(), UpdateError);
      expect(error.code).toBe('NETWORK');
      expect(error.message).toContain('on every mirror');
    } finally {
      await mirrorB.start();
    }
  });
});
