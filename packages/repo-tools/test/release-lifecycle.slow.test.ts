import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer } from '@tufup/testkit';
import { FieldClient } from './helpers/client.js';
import { cliOk, errorCode, runCli, tempDir, treeHash, writeBundle } from './helpers/fixtures.js';

interface VersionJson {
  version: string;
  rollout: number;
  offeredTo: number;
  required: boolean;
  yanked?: { reason: string; date?: string };
}

// Staged rollouts and yanks through the real CLI; a client in the field, over HTTP, reads each decision
// from the signed targets metadata it verified.
describe('tufup-repo add --rollout, rollout, yank, unyank and status', () => {
  let cleanup: () => Promise<void>;
  let tmp: string;
  let repo: string;
  let keys: string;
  const server = { current: undefined as LoopbackServer | undefined };
  let client: FieldClient;

  const cli = async (...args: string[]): Promise<string> => (await cliOk([...args, '--repo', repo, '--keys-dir', keys])).stdout;
  const run = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--repo', repo, '--keys-dir', keys]);
  const bundle = (step: number): Promise<string> => writeBundle(join(tmp, `bundle-${step}`), step);
  const versions = async (): Promise<VersionJson[]> => {
    const status = JSON.parse(await cli('status', '--json')) as { platforms: { versions: VersionJson[] }[] };
    return status.platforms[0]?.versions ?? [];
  };
  const version = async (v: string): Promise<VersionJson | undefined> => (await versions()).find((x) => x.version === v);

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
    keys = join(tmp, 'keys');
    await cli('init', '--app-name', 'demo');
    await cli('add', await bundle(0), '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64');
    server.current = new LoopbackServer(repo);
    await server.current.start();
    client = await FieldClient.install(join(tmp, 'client'), server.current.url, join(repo, 'metadata/1.root.json'), 'linux', 'x64');
  });

  afterAll(async () => {
    await server.current?.close();
    await cleanup();
  });

  it('add --rollout publishes to a share of installs; the signed percentage reaches the client', async () => {
    const out = await cli('add', await bundle(1), '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64', '--rollout', '10');
    expect(out).toContain('staged rollout: offered to 10% of installs');
    const seen = await client.check();
    expect(seen.version).toBe('1.1.0');
    expect(seen.archive.tufup.rollout).toBe(10);
    expect(await version('1.1.0')).toMatchObject({ rollout: 10, offeredTo: 10 });
    expect(await cli('status')).toMatch(/1\.1\.0 .*rollout 10%/);
  });

  it('rollout widens and pauses; the client sees each signed value', async () => {
    expect(await cli('rollout', '1.1.0', '50')).toContain('1.1.0 for linux-x64: rollout 50%');
    expect((await client.check()).archive.tufup.rollout).toBe(50);
    await cli('rollout', '1.1.0', '0');
    expect((await client.check()).archive.tufup.rollout).toBe(0);
    expect(await cli('rollout', '1.1.0', '0')).toContain('nothing changed');
    await cli('rollout', '1.1.0', '100');
    expect((await client.check()).archive.tufup).not.toHaveProperty('rollout');
    expect(await version('1.1.0')).toMatchObject({ rollout: 100, offeredTo: 100 });
  });

  it('bad rollout command lines exit 2 and change nothing', async () => {
    const before = await treeHash(repo);
    for (const args of [
      ['rollout', '1.1.0', '150'],
      ['rollout', '1.1.0', 'half'],
      ['rollout', '1.1.0'],
      ['yank', '1.1.0'],
      ['add', join(tmp, 'bundle-1'), '--version', '1.9.0', '--rollout', '7.5'],
    ]) {
      const r = await run(...args, '--json');
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorCode(r)).toBe('USAGE');
    }
    expect(errorCode(await run('rollout', '3.0.0', '5', '--json'))).toBe('VERSION_NOT_FOUND');
    expect(await treeHash(repo)).toBe(before);
  });

  it('yank signs the reason; the client and status see it; the next release patches through the yanked one', async () => {
    const out = await cli('yank', '1.1.0', '--reason', 'crashes on start on Windows 10');
    expect(out).toContain('YANKED: crashes on start on Windows 10');
    const seen = await client.check();
    expect(seen.archive.tufup.yanked?.reason).toBe('crashes on start on Windows 10');
    expect(await version('1.1.0')).toMatchObject({ offeredTo: 0, yanked: { reason: 'crashes on start on Windows 10' } });
    expect(await cli('status')).toMatch(/1\.1\.0 .*YANKED \d{4}-\d\d-\d\dT[\d:]+Z: crashes on start on Windows 10/);

    // The fix: its patch is made from 1.1.0, what yanked installs run; installs on 1.0.0 chain through it
    // (the 1.1.0 tar is only verified on the way, never installed), and the chain verifies end to end.
    await cli('add', await bundle(2), '--version', '1.2.0', '--platform', 'linux', '--arch', 'x64');
    const next = await client.check();
    expect(next.version).toBe('1.2.0');
    expect(next.patch?.tufup.base?.version).toBe('1.1.0');
    expect(JSON.parse(await cli('verify', '--json'))).toMatchObject({ patchesApplied: 2 });
  });

  it('unyank takes the mark back out', async () => {
    await cli('unyank', '1.1.0');
    expect((await client.check()).versions).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    expect(await version('1.1.0')).not.toHaveProperty('yanked');
    expect(await cli('unyank', '1.1.0')).toContain('nothing changed');
  });

  it('a required release ignores its rollout, and status says so', async () => {
    await cli('add', await bundle(3), '--version', '1.3.0', '--platform', 'linux', '--arch', 'x64', '--required', '--rollout', '20');
    expect(await version('1.3.0')).toMatchObject({ required: true, rollout: 20, offeredTo: 100 });
    expect(await cli('status')).toMatch(/1\.3\.0 .*rollout 20%, required \(rollout ignored: every install takes it\)/);
    const seen = await client.check();
    expect(seen.archive.tufup).toMatchObject({ required: true, rollout: 20 });
  });

  it('the new commands answer --help', async () => {
    for (const command of ['rollout', 'yank', 'unyank', 'root']) {
      const r = await runCli([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toContain(`tufup-repo ${command}`);
    }
  });
});
