import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer, readTree, type Misbehaviour } from '@tufup/testkit';
import { APP, TestRepo } from '@tufup/testkit/repo';

// The whole client against a repository on one origin and a CDN on another (two ports of 127.0.0.1):
// an access token reaches only the repository, and a patch the server does not have or cannot deliver
// costs the full archive, not the update.

describe('an update from a repository that sends its targets to a CDN on another origin', () => {
  let repo: TestRepo;
  let cdn: LoopbackServer;

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.publishAll(['1.0.0', '1.1.0']);
    cdn = await new LoopbackServer(repo.repoDir).start();
  });
  afterAll(async () => {
    await cdn.close();
    await repo.cleanup();
  });

  it('sends the access token to the repository only, and stages the update from the CDN', async () => {
    repo.server.on({ pathEnd: '.patch', does: { kind: 'redirect', to: cdn.url } });
    const { client } = await repo.client('1.0.0', { headers: { authorization: 'Bearer repo-only' } });
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged).toMatchObject({ version: '1.1.0', strategy: 'patch' });
    expect(await readTree(staged.stagedDir)).toEqual(await readTree(repo.bundleDir('1.1.0')));
    expect(new Set(repo.server.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer repo-only']));
    expect(cdn.requests.map((r) => [r.path.replace(/[0-9a-f]{64}\./, ''), r.headers.authorization])).toEqual([[`/targets/linux-x64/${APP}-1.1.0.patch`, undefined]]);
  });
});

describe('a patch the server cannot deliver', () => {
  let repo: TestRepo;

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.publishAll(['1.0.0', '1.1.0']);
  });
  afterAll(() => repo.cleanup());
  afterEach(() => {
    repo.server.behave();
    repo.server.requests.splice(0);
  });

  it.each<[string, Misbehaviour]>([
    ['is missing (404)', { kind: 'status', status: 404 }],
    ['fails with 503 on every try', { kind: 'status', status: 503 }],
    ['drops the connection on every try', { kind: 'reset' }],
  ])('%s: the full archive is staged instead', async (_what, does) => {
    repo.server.on({ pathEnd: '.patch', does });
    const { client } = await repo.client('1.0.0', { retries: 1 });
    const info = (await client.checkForUpdates())!;
    expect(info.plan.strategy).toBe('patch');
    const staged = await client.downloadUpdate(info);
    expect(staged).toMatchObject({ version: '1.1.0', strategy: 'full', downloadedBytes: info.plan.fullSize });
    expect(await readTree(staged.stagedDir)).toEqual(await readTree(repo.bundleDir('1.1.0')));
    expect(repo.server.requestsFor('.tar.gz').map((r) => r.status)).toEqual([200]);
  });
});
