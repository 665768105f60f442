import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClient, type CoreOptions, type StagedUpdate } from '@tufup/electron-client/core';
import { removeVersion } from '@tufup/repo-tools';
import { readTree } from '@tufup/testkit';
import { APP, BUILD, TestRepo } from '@tufup/testkit/repo';

/** What an NSIS install adds to the unpacked app: the folder no longer scans to the archive's tar. */
async function addUninstaller(installDir: string): Promise<void> {
  await writeFile(join(installDir, `Uninstall ${APP}.exe`), 'MZ the uninstaller NSIS wrote\n');
  await mkdir(join(installDir, 'logs'), { recursive: true });
  await writeFile(join(installDir, 'logs', 'main.log'), 'started\n');
}

/** A logger that keeps the client's warnings and infos, to tell how a base was found. */
function recorder(): { logger: NonNullable<CoreOptions['logger']>; lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string): void => void lines.push(message);
  return { logger: { debug: () => undefined, info: keep, warn: keep, error: keep }, lines };
}

async function expectStaged(fixture: TestRepo, staged: StagedUpdate): Promise<void> {
  expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir(staged.version)));
}

const entriesOf = (version: string): string => `${APP}-${version}.entries`;

// Patches carry no entry list: a client rebuilds the base tar by scanning its install folder, and only
// when an installer added files there does it fetch the running version's signed entry list.
describe('the patch base of an install folder that holds more than the archive', () => {
  let fixture: TestRepo;

  beforeAll(async () => (fixture = await TestRepo.published(['1.0.0', '1.1.0', '1.2.0'])));
  afterAll(() => fixture.cleanup());
  afterEach(() => fixture.server.behave());

  it('is rebuilt following the entry list fetched once, then kept for the next update from the same version', async () => {
    const { logger, lines } = recorder();
    const installDir = await fixture.install('1.0.0');
    await addUninstaller(installDir);
    const before = fixture.server.requests.length;
    const client = new UpdateClient(fixture.clientOptions('1.0.0', installDir, { logger }));
    const info = (await client.checkForUpdates())!;
    expect(info.plan.strategy).toBe('patch');
    const staged = await client.downloadUpdate(info);
    expect(staged).toMatchObject({ version: '1.2.0', strategy: 'patch' });
    await expectStaged(fixture, staged);
    const seen = fixture.server.requests.slice(before);
    // One request for the list of the running version, and no archive.
    const lists = seen.filter((r) => r.path.endsWith('.entries'));
    expect(lists.map((r) => [r.path.replace(/[0-9a-f]{64}\./, ''), r.status])).toEqual([[`/targets/${BUILD}/${entriesOf('1.0.0')}`, 200]]);
    expect(seen.filter((r) => r.path.endsWith('.tar.gz'))).toEqual([]);
    const listBytes = lists[0]!.bytesSent;
    // Counted as downloaded: it is what the user's connection carried.
    expect(staged.downloadedBytes).toBe(info.plan.downloadSize + listBytes);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`does not match version 1\\.0\\.0.*following its signed entry list ${BUILD}/${entriesOf('1.0.0')}`)));

    // 1.2.0 is staged but not installed when 1.3.0 comes out: the client patches from 1.0.0 again.
    await fixture.publish('1.3.0');
    const again = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(again).toMatchObject({ version: '1.3.0', strategy: 'patch' });
    await expectStaged(fixture, again);
    const all = fixture.server.requests.slice(before);
    expect(all.filter((r) => r.path.endsWith('.entries'))).toHaveLength(1);
    expect(all.filter((r) => r.path.endsWith('.tar.gz'))).toEqual([]);
  });

  it('kept in the cache while its version runs, and pruned once another version runs', async () => {
    const installDir = await fixture.install('1.1.0');
    await addUninstaller(installDir);
    const options = fixture.clientOptions('1.1.0', installDir);
    const client = new UpdateClient(options);
    const { version } = await client.downloadUpdate((await client.checkForUpdates())!);
    const downloads = join(options.cacheDir, 'targets', BUILD);
    // The new version's tar (the next patch base) and the running version's list.
    expect((await readdir(downloads)).sort()).toEqual([entriesOf('1.1.0'), `${APP}-${version}.tar`]);
    // Once installed, the new version runs; the next staging (from its cached tar) prunes the list of 1.1.0.
    await fixture.publish('1.4.0');
    const next = new UpdateClient({ ...options, currentVersion: version, installDir: fixture.bundleDir(version) });
    const staged = await next.downloadUpdate((await next.checkForUpdates())!);
    expect(staged).toMatchObject({ version: '1.4.0', strategy: 'patch' });
    expect(await readdir(downloads)).toEqual([`${APP}-1.4.0.tar`]);
  });

  it('is never fetched for a folder that scans clean', async () => {
    const before = fixture.server.requests.length;
    const { client } = await fixture.client('1.1.0');
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('patch');
    await expectStaged(fixture, staged);
    expect(fixture.server.requests.slice(before).filter((r) => r.path.endsWith('.entries'))).toEqual([]);
  });

  it('tampered on the server, is refused by TUF, never kept, and the update takes the full archive', async () => {
    const { logger, lines } = recorder();
    const installDir = await fixture.install('1.0.0');
    await addUninstaller(installDir);
    const options = fixture.clientOptions('1.0.0', installDir, { logger });
    const path = (await readdir(join(fixture.repoDir, 'targets', BUILD))).find((n) => n.endsWith(entriesOf('1.0.0')))!;
    const genuine = await readFile(join(fixture.repoDir, 'targets', BUILD, path));
    // Same length, one byte changed: only the signed hash can tell.
    const forged = Buffer.from(genuine);
    forged[forged.length - 5]! ^= 0x01;
    fixture.server.on({ pathEnd: entriesOf('1.0.0'), does: { kind: 'replace', body: forged } });
    const client = new UpdateClient(options);
    const info = (await client.checkForUpdates())!;
    const staged = await client.downloadUpdate(info);
    expect(staged.strategy).toBe('full');
    await expectStaged(fixture, staged);
    expect(lines).toContainEqual(expect.stringMatching(/entries.*(verif|hash)|(verif|hash).*entries/i));
    expect((await readdir(join(options.cacheDir, 'targets', BUILD))).filter((n) => n.includes('.entries'))).toEqual([]);
  });

  it('missing on the server (404), the update takes the full archive', async () => {
    const installDir = await fixture.install('1.0.0');
    await addUninstaller(installDir);
    fixture.server.on({ pathEnd: entriesOf('1.0.0'), does: { kind: 'status', status: 404 } });
    const before = fixture.server.requests.length;
    const client = new UpdateClient(fixture.clientOptions('1.0.0', installDir));
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('full');
    await expectStaged(fixture, staged);
    const seen = fixture.server.requests.slice(before);
    expect(seen.filter((r) => r.path.endsWith('.entries')).map((r) => r.status)).toContain(404);
    expect(seen.filter((r) => r.path.endsWith('.tar.gz')).length).toBeGreaterThan(0);
  });

  it('changed in a file the archive has, the folder takes the full archive even with the list', async () => {
    const installDir = await fixture.install('1.0.0');
    await addUninstaller(installDir);
    await writeFile(join(installDir, 'version.txt'), '1.0.0 patched by hand\n');
    const client = new UpdateClient(fixture.clientOptions('1.0.0', installDir));
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('full');
    await expectStaged(fixture, staged);
  });
});

describe('patches published before the entry list target, and versions without one', () => {
  let fixture: TestRepo;

  beforeAll(async () => {
    fixture = await TestRepo.create();
  });
  afterAll(() => fixture.cleanup());

  it('a patch carrying the list in its header is applied to such a folder without fetching the list', async () => {
    await fixture.publish('1.0.0');
    await fixture.publish('1.1.0', { entriesInPatch: true });
    const installDir = await fixture.install('1.0.0');
    await addUninstaller(installDir);
    const before = fixture.server.requests.length;
    const client = new UpdateClient(fixture.clientOptions('1.0.0', installDir));
    const staged = await client.downloadUpdate((await client.checkForUpdates())!);
    expect(staged.strategy).toBe('patch');
    await expectStaged(fixture, staged);
    expect(fixture.server.requests.slice(before).filter((r) => r.path.endsWith('.entries'))).toEqual([]);
  });

  it('a running version removed from the repository (its list gone with it) takes the full archive from such a folder, and a patch from a clean one', async () => {
    await fixture.publish('1.2.0');
    await removeVersion({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, version: '1.1.0' });
    const before = fixture.server.requests.length;
    const dirty = await fixture.install('1.1.0');
    await addUninstaller(dirty);
    const first = new UpdateClient(fixture.clientOptions('1.1.0', dirty));
    const info = (await first.checkForUpdates())!;
    // 1.2.0's patch from 1.1.0 stays for installs still running it.
    expect(info.plan.strategy).toBe('patch');
    expect((await first.downloadUpdate(info)).strategy).toBe('full');
    expect(fixture.server.requests.slice(before).filter((r) => r.path.endsWith('.entries'))).toEqual([]);
    const { client } = await fixture.client('1.1.0');
    expect((await client.downloadUpdate((await client.checkForUpdates())!)).strategy).toBe('patch');
  });
});
