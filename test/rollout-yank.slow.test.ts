import { execFile } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, UpdateError, type CoreOptions, type UpdateInfo } from '@tufup/electron-client/core';
import { rejectionOf } from '@tufup/testkit';
import { APP, readTree, Repo, writeBundle, type Tree } from './helpers/fixture.js';
import { Summary } from './helpers/summary.js';

// Staged rollouts and yanks (issue 15 items 1-2), decided by the publisher with the real CLI
// (`tufup-repo add/rollout/yank/unyank`) and taken by real clients of @tufup/electron-client over HTTP on
// 127.0.0.1. Every decision comes from signed targets metadata.

const CLI = fileURLToPath(new URL('../packages/repo-tools/bin/tufup-repo.js', import.meta.url));
const run = promisify(execFile);
const summary = new Summary('Staged rollouts and yanks: what each install is offered');

/** An install: its own cache folder (so its own id), running `version`. */
interface Install {
  options: CoreOptions;
  client: UpdateClient;
}

/** What a check offered, in a word or two. */
function offered(info: UpdateInfo | undefined): string {
  if (info === undefined) return 'nothing';
  const d = info.decision;
  return `${info.version} (${d.reason}${d.downgrade ? ', downgrade' : ''}, rollout ${d.rollout}%)`;
}

describe('staged rollouts and yanks', () => {
  let repo: Repo;
  let trees: Record<string, Tree>;
  let installs: Install[];
  const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [CLI, ...args, '--repo', repo.repoDir, '--keys-dir', repo.keysDir])).stdout;
  const checkAll = (): Promise<(UpdateInfo | undefined)[]> => Promise.all(installs.map((i) => i.client.checkForUpdates()));
  const newClients = (): void => {
    installs = installs.map((i) => ({ options: i.options, client: new UpdateClient(i.options) }));
  };

  beforeAll(async () => {
    repo = await Repo.create();
    trees = await repo.publishAll(['1.0.0']);
    // 1.1.0 goes out to 10% of installs, from `add` on.
    const dir = repo.bundleDir('1.1.0');
    await writeBundle(dir, '1.1.0');
    trees['1.1.0'] = await readTree(dir);
    await cli('add', dir, '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64', '--rollout', '10');
    const installDir = await repo.install('1.0.0');
    installs = [];
    for (let i = 0; i < 60; i++) {
      const options = repo.clientOptions('1.0.0', installDir);
      installs.push({ options, client: new UpdateClient(options) });
    }
  }, 120_000);
  afterAll(async () => {
    summary.print();
    await repo.cleanup();
  });

  let firstWave = new Set<number>();

  it('a 10% rollout reaches the installs whose bucket is under 10, and no other', async () => {
    const offers = await checkAll();
    firstWave = new Set(offers.flatMap((o, i) => (o?.version === '1.1.0' ? [i] : [])));
    for (const o of offers) if (o !== undefined) expect(o.decision).toEqual({ reason: 'newer', rollout: 10, downgrade: false });
    // 60 installs at 10%: 6 expected; anything from 1 to 15 is a fair draw (p < 0.001 outside).
    expect(firstWave.size).toBeGreaterThanOrEqual(1);
    expect(firstWave.size).toBeLessThanOrEqual(15);
    summary.record({ case: '1.1.0 added with --rollout 10; 60 installs on 1.0.0 check', expected: 'about 6 offered 1.1.0', observed: `${firstWave.size} offered` });
  });

  it('each install keeps its id through cache clean-ups, so its answer does not change', async () => {
    const id = await readFile(join(installs[0]!.options.cacheDir, 'install-id'), 'utf8');
    await rm(join(installs[0]!.options.cacheDir, 'targets'), { recursive: true, force: true });
    await rm(join(installs[0]!.options.cacheDir, 'metadata'), { recursive: true, force: true });
    newClients();
    const again = await checkAll();
    expect(new Set(again.flatMap((o, i) => (o?.version === '1.1.0' ? [i] : [])))).toEqual(firstWave);
    expect(await readFile(join(installs[0]!.options.cacheDir, 'install-id'), 'utf8')).toBe(id);
  });

  it('widening to 50% only adds installs', async () => {
    await cli('rollout', '1.1.0', '50');
    const offers = await checkAll();
    const wave = new Set(offers.flatMap((o, i) => (o?.version === '1.1.0' ? [i] : [])));
    for (const i of firstWave) expect(wave.has(i)).toBe(true);
    expect(wave.size).toBeGreaterThan(firstWave.size);
    expect(wave.size).toBeLessThanOrEqual(45);
    summary.record({ case: 'tufup-repo rollout 1.1.0 50', expected: 'a superset of the 10% wave', observed: `${wave.size} offered, all ${firstWave.size} of the first wave among them` });
  });

  it('pausing (0%) stops new installs, and one that already downloaded it keeps it', async () => {
    const early = [...firstWave][0]!;
    const staged = await installs[early]!.client.downloadUpdate((await installs[early]!.client.checkForUpdates())!);
    expect(staged.version).toBe('1.1.0');
    await cli('rollout', '1.1.0', '0');
    newClients();
    const offers = await checkAll();
    expect(offers.map((o, i) => (i === early ? offered(o) : o === undefined ? 'nothing' : offered(o)))).toEqual(
      offers.map((_, i) => (i === early ? '1.1.0 (staged, rollout 0%)' : 'nothing')),
    );
    // The download it asks for again is the staged copy, not a refusal.
    expect((await installs[early]!.client.downloadUpdate(offers[early]!)).stagedDir).toBe(staged.stagedDir);
    // Another install asking for 1.1.0 anyway is told why not.
    const other = installs.findIndex((_, i) => i !== early);
    const refused = await rejectionOf(installs[other]!.client.downloadUpdate({ ...offers[early]!, version: '1.1.0' }), UpdateError);
    expect([refused.code, refused.message]).toEqual(['NO_UPDATE', '1.1.0 is rolled out to 0% of installs, and this install is not among them yet']);
    summary.record({ case: 'tufup-repo rollout 1.1.0 0', expected: 'only the install that staged it keeps it', observed: offers.map(offered).filter((o) => o !== 'nothing').join(', ') || 'nothing' });
  });

  it('a required release ignores the rollout', async () => {
    const dir = repo.bundleDir('1.2.0');
    await writeBundle(dir, '1.2.0');
    trees['1.2.0'] = await readTree(dir);
    await cli('add', dir, '--version', '1.2.0', '--platform', 'linux', '--arch', 'x64', '--rollout', '0', '--required');
    const offers = await checkAll();
    expect(new Set(offers.map(offered))).toEqual(new Set(['1.2.0 (required, rollout 0%)']));
    expect(offers.every((o) => o?.required === true)).toBe(true);
    summary.record({ case: '1.2.0 added --required --rollout 0', expected: 'every install offered 1.2.0', observed: [...new Set(offers.map(offered))].join(', ') });
  });

  it('yanked, a release is offered to no one: installs below get the newest good one, and a staged copy of it is removed', async () => {
    const early = [...firstWave][0]!;
    const before = await installs[early]!.client.downloadUpdate((await installs[early]!.client.checkForUpdates())!);
    expect(before.version).toBe('1.2.0');
    await cli('yank', '1.2.0', '--reason', 'corrupts settings on first start');
    await cli('rollout', '1.1.0', '100');
    newClients();
    const offers = await checkAll();
    expect(new Set(offers.map(offered))).toEqual(new Set(['1.1.0 (newer, rollout 100%)']));
    expect(offers.every((o) => o?.required === false)).toBe(true);
    // The staged 1.2.0 is gone (it would have been installed at the next quit); 1.1.0 is offered instead.
    expect(await findStagedUpdate(installs[early]!.options.cacheDir, '1.0.0')).toBeUndefined();
    expect(await readdir(join(installs[early]!.options.cacheDir, 'staged'))).toEqual([]);
    const refused = await rejectionOf(installs[1]!.client.downloadUpdate({ ...offers[1]!, version: '1.2.0' }), UpdateError);
    expect([refused.code, refused.message]).toEqual(['NO_UPDATE', '1.2.0 was yanked by its publisher: corrupts settings on first start']);
    summary.record({ case: 'tufup-repo yank 1.2.0 (required) --reason ...', expected: 'installs on 1.0.0 offered 1.1.0; staged 1.2.0 removed', observed: [...new Set(offers.map(offered))].join(', ') });
  });

  it('an install running the yanked release is offered the newest good one, lower, and stages it from the full archive', async () => {
    const installDir = await repo.install('1.2.0');
    const options = repo.clientOptions('1.2.0', installDir);
    const client = new UpdateClient(options);
    const info = await client.checkForUpdates();
    expect(info).toMatchObject({ version: '1.1.0', required: true, plan: { strategy: 'full' } });
    expect(info?.decision).toMatchObject({ reason: 'replaces-yanked', rollout: 100, downgrade: true, yankedCurrent: { reason: 'corrupts settings on first start' } });
    expect(info?.decision.yankedCurrent?.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const staged = await client.downloadUpdate(info!);
    expect(staged).toMatchObject({ version: '1.1.0', strategy: 'full', replacesYanked: '1.2.0' });
    expect(await readTree(staged.stagedDir)).toEqual(trees['1.1.0']);
    // At the next launch of the yanked version it is what gets installed; for any other version it does not count.
    expect(await findStagedUpdate(options.cacheDir, '1.2.0')).toMatchObject({ version: '1.1.0' });
    summary.record({ case: 'an install running the yanked 1.2.0', expected: '1.1.0, a signed downgrade by full archive', observed: `${offered(info)}, staged ${staged.version} (${staged.strategy})` });
  });

  it('patch chains pass through the yanked release: its tar is verified, never installed', async () => {
    await repo.publish('1.3.0');
    trees['1.3.0'] = await readTree(repo.bundleDir('1.3.0'));
    const { client } = await repo.client('1.1.0');
    const info = await client.checkForUpdates();
    expect(info?.version).toBe('1.3.0');
    expect(info?.plan.files.map((f) => f.targetPath)).toEqual([`linux-x64/${APP}-1.2.0.patch`, `linux-x64/${APP}-1.3.0.patch`]);
    const staged = await client.downloadUpdate(info!);
    expect(staged).toMatchObject({ version: '1.3.0', strategy: 'patch' });
    expect(await readTree(staged.stagedDir)).toEqual(trees['1.3.0']);
    summary.record({ case: '1.3.0 published after the yanked 1.2.0; an install on 1.1.0', expected: '1.3.0 through the patch of 1.2.0', observed: `${offered(info)} by ${info?.plan.files.length} patches` });
  });

  it('unyanked, the release is offered again', async () => {
    await cli('unyank', '1.2.0');
    const { client } = await repo.client('1.1.0', { excludeVersions: ['1.3.0'] });
    expect(offered(await client.checkForUpdates())).toBe('1.2.0 (required, rollout 0%)');
  });

  it('a download asked for without a new check drops a staged copy yanked since, and stages what it was asked for', async () => {
    const installDir = await repo.install('1.0.0');
    const options = repo.clientOptions('1.0.0', installDir, { excludeVersions: ['1.2.0', '1.3.0'], busyTimeoutMs: 1_000 });
    const first = new UpdateClient(options);
    const old = await first.downloadUpdate((await first.checkForUpdates())!);
    expect(old.version).toBe('1.1.0');
    const info = (await new UpdateClient({ ...options, excludeVersions: ['1.2.0'] }).checkForUpdates())!;
    await cli('yank', '1.1.0', '--reason', 'superseded by a fix');
    const staged = await new UpdateClient({ ...options, excludeVersions: ['1.2.0'] }).downloadUpdate(info);
    expect(staged.version).toBe('1.3.0');
    expect((await readdir(join(options.cacheDir, 'staged'))).sort()).toEqual(['1.3.0', '1.3.0.json']);
    await cli('unyank', '1.1.0');
  });
});
