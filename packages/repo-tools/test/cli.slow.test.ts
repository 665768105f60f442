import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer } from '@tufup/testkit';
import { FieldClient } from './helpers/client.js';
import { cliOk, listFiles, runCli, tempDir, writeBundle } from './helpers/fixtures.js';

interface Json {
  [key: string]: unknown;
}

async function readJson(path: string): Promise<Json> {
  return JSON.parse(await readFile(path, 'utf8')) as Json;
}

// One repository through its life, driven by the real CLI; after each step clients in the field,
// served over HTTP, refresh and download and verify the newest archive and patch of their platform.
describe('tufup-repo, from init to prune, as clients in the field see it', () => {
  let cleanup: () => Promise<void>;
  let tmp: string;
  let repo: string;
  let keys: string;
  const server = { current: undefined as LoopbackServer | undefined };
  let linux: FieldClient;
  let darwin: FieldClient;
  let freshCount = 0;
  const outputs: string[] = [];

  const cli = async (...args: string[]): Promise<string> => {
    const run = await cliOk([...args, '--repo', repo, '--keys-dir', keys]);
    outputs.push(run.stdout, run.stderr);
    return run.stdout;
  };
  const cliJson = async (...args: string[]): Promise<Json> => JSON.parse(await cli(...args, '--json')) as Json;
  const bundle = (step: number): Promise<string> => writeBundle(join(tmp, `bundle-${step}`), step);
  /** A client installed just now with the root shipped in the app (1.root.json). */
  const freshClient = async (platform = 'linux', arch = 'x64'): Promise<FieldClient> =>
    FieldClient.install(join(tmp, `fresh-${++freshCount}`), server.current?.url ?? '', join(repo, 'metadata/1.root.json'), platform, arch);

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
    keys = join(tmp, 'keys');
    server.current = new LoopbackServer(repo);
    await server.current.start();
  });

  afterAll(async () => {
    await server.current?.close();
    await cleanup();
  });

  it('init creates keys outside the repository and signed metadata with consistent snapshots', async () => {
    const result = await cliJson('init', '--app-name', 'demo');
    expect((result.keys as unknown[]).length).toBe(4);
    expect(await listFiles(join(repo, 'metadata'))).toEqual(['1.root.json', '1.snapshot.json', '1.targets.json', 'root.json', 'timestamp.json']);
    const root = await readJson(join(repo, 'metadata/root.json'));
    expect((root.signed as Json).consistent_snapshot).toBe(true);
    expect((root.signed as Json).expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await listFiles(keys)).filter((f) => f.endsWith('.pem'))).toHaveLength(4);
    linux = await freshClient('linux', 'x64');
    darwin = await freshClient('darwin', 'arm64');
  });

  it('add publishes the first version as an archive, without a patch', async () => {
    const out = await cli('add', await bundle(0), '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64', '--notes', await writeNotes('First release'));
    expect(out).toContain('added demo 1.0.0 for linux-x64');
    const seen = await linux.check();
    expect(seen.version).toBe('1.0.0');
    expect(seen.patch).toBeUndefined();
    expect(seen.archive.tufup.releaseNotes).toBe('First release');
  });

  it('add publishes the next versions with a patch from the one before, and reports the saving', async () => {
    const out = await cli('add', await bundle(1), '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64', '--custom', '{"channel":"stable"}');
    expect(out).toMatch(/patch .* from 1\.0\.0, saves .* over the archive/);
    let seen = await linux.check();
    expect(seen.version).toBe('1.1.0');
    expect(seen.patch?.tufup.base?.version).toBe('1.0.0');
    expect(seen.archive.user).toEqual({ channel: 'stable' });

    const third = await cliJson('add', await bundle(2), '--version', '1.2.0', '--platform', 'linux', '--arch', 'x64', '--required');
    const patch = third.patch as { size: number; base: string };
    const archive = third.archive as { size: number; file: string };
    expect(patch.base).toBe('1.1.0');
    expect(patch.size).toBeLessThan(archive.size);
    expect((await stat(join(repo, archive.file))).size).toBe(archive.size);
    seen = await linux.check();
    expect(seen).toMatchObject({ version: '1.2.0', versions: ['1.0.0', '1.1.0', '1.2.0'] });
    expect(seen.archive.tufup.required).toBe(true);
    expect(seen.patch?.tufup.base?.version).toBe('1.1.0');
  });

  it('keeps a separate patch chain per platform/arch, and each client sees only its own', async () => {
    await cli('add', await bundle(1), '--version', '1.1.0', '--platform', 'darwin', '--arch', 'arm64');
    const mac = await darwin.check();
    expect(mac).toMatchObject({ version: '1.1.0', versions: ['1.1.0'] });
    expect(mac.patch).toBeUndefined();
    expect((await linux.check()).versions).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    const files = await listFiles(join(repo, 'targets'));
    // The first version of a platform: its archive and its entry list, no patch.
    expect(files.filter((f) => f.startsWith('darwin-arm64/')).map((f) => f.replace(/[0-9a-f]{64}\./, '')).sort()).toEqual(['darwin-arm64/demo-1.1.0.entries', 'darwin-arm64/demo-1.1.0.tar.gz']);
    expect(files.every((f) => /^[a-z0-9]+-[a-z0-9]+\/[0-9a-f]{64}\.demo-[^/]+\.(tar\.gz|patch|entries)$/.test(f))).toBe(true);
  });

  it('keys rotate targets: a new root lists the new key and clients verify targets signed with it', async () => {
    const before = ((await readJson(join(repo, 'metadata/root.json'))).signed as Json).roles as Record<string, { keyids: string[] }>;
    const result = await cliJson('keys', 'rotate', 'targets');
    const root = (await readJson(join(repo, 'metadata/2.root.json'))).signed as Json;
    const roles = root.roles as Record<string, { keyids: string[] }>;
    expect(roles.targets?.keyids).toEqual(result.keyids);
    expect(roles.targets?.keyids).not.toEqual(before.targets?.keyids);
    expect((await linux.check()).rootVersion).toBe(2);
    expect((await (await freshClient()).check()).version).toBe('1.2.0');
  });

  it('keys rotate root: the new root is signed by the old and the new key, so clients follow the chain', async () => {
    await cli('keys', 'rotate', 'root');
    const v3 = await readJson(join(repo, 'metadata/3.root.json'));
    expect(v3.signatures as unknown[]).toHaveLength(2);
    expect(await readFile(join(repo, 'metadata/root.json'))).toEqual(await readFile(join(repo, 'metadata/3.root.json')));
    expect((await linux.check()).rootVersion).toBe(3);
    const fresh = await (await freshClient()).check();
    expect(fresh).toMatchObject({ rootVersion: 3, version: '1.2.0' });
  });

  it('keys rotate snapshot and timestamp: clients accept metadata signed by the new keys', async () => {
    await cli('keys', 'rotate', 'snapshot');
    await cli('keys', 'rotate', 'timestamp');
    expect(await linux.check()).toMatchObject({ rootVersion: 5, version: '1.2.0' });
    expect((await (await freshClient()).check()).rootVersion).toBe(5);
  });

  it('sign refreshes the timestamp expiry, and clients accept the new timestamp', async () => {
    const before = ((await readJson(join(repo, 'metadata/timestamp.json'))).signed as Json).version as number;
    const result = await cliJson('sign', '--expires-in', '2');
    const after = (await readJson(join(repo, 'metadata/timestamp.json'))).signed as Json;
    expect(after.version).toBe(before + 1);
    expect((result.expires as Json).timestamp).toBe(after.expires);
    const days = (new Date(after.expires as string).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(2);
    expect((await linux.check()).version).toBe('1.2.0');
  });

  it('sign --role targets re-signs targets, snapshot and timestamp', async () => {
    const result = await cliJson('sign', '--role', 'targets');
    expect(result.roles).toEqual(['targets', 'snapshot', 'timestamp']);
    expect((await linux.check()).version).toBe('1.2.0');
  });

  it('prune keeps the newest versions and deletes the files of the others', async () => {
    const result = await cliJson('prune', '--keep', '2');
    const removed = result.removed as { version: string; files: string[] }[];
    expect(removed.map((r) => r.version)).toEqual(['1.0.0']);
    // Its archive and its entry list (the first version had no patch).
    expect(removed[0]?.files.map((f) => f.replace(/^.*[0-9a-f]{64}\./, '')).sort()).toEqual(['demo-1.0.0.entries', 'demo-1.0.0.tar.gz']);
    for (const file of removed.flatMap((r) => r.files)) await expect(stat(join(repo, file))).rejects.toThrow();
    const seen = await linux.check();
    expect(seen).toMatchObject({ version: '1.2.0', versions: ['1.1.0', '1.2.0'] });
    expect(seen.patch?.tufup.base?.version).toBe('1.1.0');
    expect((await darwin.check()).versions).toEqual(['1.1.0']);
  });

  it('remove drops one version of one platform', async () => {
    await cli('remove', '1.1.0', '--platform', 'darwin', '--arch', 'arm64');
    await expect(darwin.check()).rejects.toThrow(/no versions/);
    expect((await linux.check()).versions).toEqual(['1.1.0', '1.2.0']);
  });

  it('status and verify describe and check the whole repository', async () => {
    const status = await cliJson('status');
    expect(status.appName).toBe('demo');
    const roles = status.roles as { role: string; version: number }[];
    expect(roles.find((r) => r.role === 'root')?.version).toBe(5);
    expect(status.platforms).toMatchObject([{ platform: 'linux', arch: 'x64', versions: [{ version: '1.1.0' }, { version: '1.2.0' }] }]);
    const verified = await cliJson('verify');
    // 1.1.0 keeps its patch from the pruned 1.0.0 (clients still on 1.0.0 use it); only 1.2.0's base is here to apply.
    // Each version's entry list is checked against its archive.
    expect(verified).toMatchObject({ rootVersion: 5, targets: 6, patchesApplied: 1, entryListsChecked: 2, warnings: [] });
  });

  it('never prints or publishes private key material', async () => {
    const pems = await Promise.all((await listFiles(keys)).map((f) => readFile(join(keys, f), 'utf8')));
    const secrets = pems.map((p) => p.split('\n')[1] ?? '').filter((line) => line.length > 20);
    expect(secrets.length).toBeGreaterThan(0);
    const published = await Promise.all((await listFiles(repo)).map((f) => readFile(join(repo, f), 'latin1')));
    for (const text of [...outputs, ...published]) {
      expect(text).not.toContain('PRIVATE KEY');
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  it('every command answers --help, and failures exit non-zero with the reason on stderr', async () => {
    for (const command of ['init', 'add', 'sign', 'keys', 'threshold', 'remove', 'prune', 'status', 'verify']) {
      const run = await runCli([command, '--help']);
      expect(run.code, command).toBe(0);
      expect(run.stdout, command).toContain(`tufup-repo ${command}`);
    }
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown command');
  });

  it('a file named on the command line that cannot be read is an IO error naming it, and nothing changes', async () => {
    const missing = join(tmp, 'no-such-file');
    const before = await listFiles(repo);
    const cases: [string[], string][] = [
      [['add', await bundle(9), '--version', '9.0.0', '--notes', missing], 'release notes'],
      [['keys', 'add', 'targets', '--public-key', missing], 'public key'],
      [['sign', '--passphrase-file', missing], 'passphrase file'],
    ];
    for (const [args, what] of cases) {
      const run = await runCli([...args, '--repo', repo, '--keys-dir', keys]);
      expect(run.code, what).toBe(1);
      expect(run.stderr, what).toContain(`cannot read the ${what} ${missing} [IO]`);
    }
    expect(await listFiles(repo)).toEqual(before);
  });

  async function writeNotes(text: string): Promise<string> {
    const path = join(tmp, 'notes.md');
    await import('node:fs/promises').then((fs) => fs.writeFile(path, text));
    return path;
  }
});
