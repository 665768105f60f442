import { copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer } from '@tufup/testkit';
import { FieldClient } from './helpers/client.js';
import { cliOk, errorCode, runCli, tempDir, treeHash, writeBundle, type CliRun } from './helpers/fixtures.js';

interface Json {
  [key: string]: unknown;
}

interface CeremonyStatusJson {
  version: number;
  complete: boolean;
  fingerprint: string;
  changes: string[];
  thresholds: { of: string; threshold: number; signed: string[]; unsigned: string[]; met: boolean }[];
}

// A 2-of-3 root whose three keys live in three folders (three people, three machines); one holder's key
// is rotated through the offline ceremony, driven by the real CLI, while a client in the field, served
// over HTTP and trusting only the first root, keeps updating.
describe('the offline root ceremony, 2-of-3 root keys in three folders, one rotated', () => {
  let cleanup: () => Promise<void>;
  let tmp: string;
  let repo: string;
  let keys: string;
  const holders: Record<'alice' | 'bob' | 'carol', { dir: string; keyid: string; file: string }> = {
    alice: { dir: '', keyid: '', file: '' },
    bob: { dir: '', keyid: '', file: '' },
    carol: { dir: '', keyid: '', file: '' },
  };
  let carolNew: { keyid: string; privateFile: string; publicFile: string };
  const server = new LoopbackServer('');
  let client: FieldClient;

  const cli = (...args: string[]): Promise<CliRun> => cliOk([...args, '--repo', repo, '--keys-dir', keys]);
  const cliJson = async (...args: string[]): Promise<Json> => JSON.parse((await cli(...args, '--json')).stdout) as Json;
  /** `root sign` on a holder's machine: only the ceremony file and their key, no repository, no keys folder. */
  const holderSigns = async (file: string, keyFile: string): Promise<CeremonyStatusJson> =>
    JSON.parse((await cliOk(['root', 'sign', file, '--key', keyFile, '--json'], { cwd: tmp })).stdout) as CeremonyStatusJson;

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
    keys = join(tmp, 'online-keys');
    await cli('init', '--app-name', 'demo', '--threshold', 'root=2', '--key-count', 'root=3');
    // Hand each root key to its holder: the release machine keeps only the online keys.
    const rootFiles = (await readdir(keys)).filter((f) => f.startsWith('root.')).sort();
    expect(rootFiles).toHaveLength(3);
    for (const [i, name] of (['alice', 'bob', 'carol'] as const).entries()) {
      const file = rootFiles[i] ?? '';
      const dir = join(tmp, name);
      await mkdir(dir);
      await rename(join(keys, file), join(dir, file));
      holders[name] = { dir, keyid: file.split('.')[1] ?? '', file: join(dir, file) };
    }
    await cli('add', await writeBundle(join(tmp, 'bundle-0'), 0), '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64');
    Object.assign(server, new LoopbackServer(repo));
    await server.start();
    client = await FieldClient.install(join(tmp, 'client'), server.url, join(repo, 'metadata/1.root.json'), 'linux', 'x64');
    expect(await client.check()).toMatchObject({ rootVersion: 1, version: '1.0.0' });
  });

  afterAll(async () => {
    await server.close();
    await cleanup();
  });

  it('keygen makes carol a new key on her machine: the private key stays, the .pub travels', async () => {
    const out = JSON.parse((await cliOk(['root', 'keygen', '--keys-dir', join(tmp, 'carol-new'), '--json'])).stdout) as typeof carolNew;
    carolNew = out;
    expect(await readFile(out.publicFile, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(await readFile(out.privateFile, 'utf8')).toMatch(/PRIVATE KEY/);
  });

  it('begin writes the next root unsigned, with the rotation in it, and changes nothing published', async () => {
    const before = await treeHash(join(repo, 'metadata'));
    const status = (await cliJson('root', 'begin', '--remove-key', `root=${holders.carol.keyid.slice(0, 12)}`, '--add-key', `root=${carolNew.publicFile}`)) as unknown as CeremonyStatusJson;
    expect(status).toMatchObject({ version: 2, complete: false });
    expect(status.changes).toEqual(expect.arrayContaining([`root: adds key ${carolNew.keyid} (ed25519)`, `root: removes key ${holders.carol.keyid}`]));
    const pending = JSON.parse(await readFile(join(repo, 'root.pending.json'), 'utf8')) as { root: { signatures: unknown[] } };
    expect(pending.root.signatures).toEqual([]);
    expect(await treeHash(join(repo, 'metadata'))).toBe(before);
    // A second ceremony cannot start over the first by accident.
    const again = await runCli(['root', 'begin', '--repo', repo, '--keys-dir', keys, '--json']);
    expect(errorCode(again)).toBe('CEREMONY_PENDING');
  });

  it('holders sign copies on their own machines; publish refuses until both thresholds are met, naming what is missing', async () => {
    // The file travels: each holder gets a copy (mail, USB stick), signs it and sends it back.
    const copy = async (name: string): Promise<string> => {
      const file = join(tmp, `${name}-copy.json`);
      await copyFile(join(repo, 'root.pending.json'), file);
      return file;
    };
    const aliceCopy = await copy('alice');
    const carolCopy = await copy('carol');
    const afterAlice = await holderSigns(aliceCopy, holders.alice.file);
    expect(afterAlice.thresholds.map((t) => t.signed.length)).toEqual([1, 1]);
    const afterCarol = await holderSigns(carolCopy, carolNew.privateFile);
    // Carol's new key counts only towards the new root; the rotated-out key counts only towards the old.
    expect(afterCarol.thresholds.find((t) => t.of === 'new')?.signed).toEqual([carolNew.keyid]);
    expect(afterCarol.thresholds.find((t) => t.of === 'previous')?.signed).toEqual([]);

    const before = await treeHash(repo);
    const refused = await runCli(['root', 'publish', aliceCopy, carolCopy, '--repo', repo, '--keys-dir', keys]);
    expect(refused.code).toBe(1);
    expect(errorCode(refused)).toBe('MISSING_SIGNATURES');
    // The new root's own threshold is met (alice + carol's new key); the old root's is not: one of bob's or carol's old key.
    expect(refused.stderr).toContain("1 more signature(s) of the current root v1's root keys");
    expect(refused.stderr).toContain(holders.bob.keyid);
    expect(refused.stderr).toContain(holders.carol.keyid);
    expect(refused.stderr).not.toContain("the new root v2's own root keys");
    expect(await treeHash(repo)).toBe(before);

    const bobCopy = await copy('bob');
    const afterBob = await holderSigns(bobCopy, holders.bob.file);
    expect(afterBob.thresholds.find((t) => t.of === 'previous')?.met).toBe(false);

    const published = await cliJson('root', 'publish', aliceCopy, carolCopy, bobCopy);
    expect(published).toMatchObject({ metadata: { root: 2 }, resigned: [] });
    const v2 = JSON.parse(await readFile(join(repo, 'metadata/2.root.json'), 'utf8')) as { signed: Json; signatures: { keyid: string }[] };
    expect(v2.signatures.map((s) => s.keyid).sort()).toEqual([holders.alice.keyid, holders.bob.keyid, carolNew.keyid].sort());
    expect(((v2.signed.roles as Json).root as { keyids: string[] }).keyids.sort()).toEqual([holders.alice.keyid, holders.bob.keyid, carolNew.keyid].sort());
    expect(await readFile(join(repo, 'metadata/root.json'), 'utf8')).toBe(await readFile(join(repo, 'metadata/2.root.json'), 'utf8'));
    // Apps built from now on ship the new root: the trust file changed in the same transaction.
    const trust = JSON.parse(await readFile(join(repo, 'tufup.json'), 'utf8')) as { root: Json };
    expect(trust.root).toEqual(JSON.parse(await readFile(join(repo, 'metadata/2.root.json'), 'utf8')));
    // The pending file in the repository is gone with the publish; copies elsewhere are the holders' business.
    await expect(readFile(join(repo, 'root.pending.json'))).rejects.toThrow();
  });

  it('the client that trusts only the old root follows the rotation, and takes releases made after it', async () => {
    expect(await client.check()).toMatchObject({ rootVersion: 2, version: '1.0.0' });
    await cli('add', await writeBundle(join(tmp, 'bundle-1'), 1), '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64');
    expect(await client.check()).toMatchObject({ rootVersion: 2, version: '1.1.0' });
    const fresh = await FieldClient.install(join(tmp, 'fresh'), server.url, join(repo, 'metadata/1.root.json'), 'linux', 'x64');
    expect(await fresh.check()).toMatchObject({ rootVersion: 2, version: '1.1.0' });
    expect(await cliJson('verify')).toMatchObject({ rootVersion: 2 });
  });

  it('the rotated-out key can no longer sign a root, and a stale ceremony file cannot be published', async () => {
    await cli('root', 'begin', '--expires-in', '400');
    const pending = join(repo, 'root.pending.json');
    const retired = await runCli(['root', 'sign', pending, '--key', holders.carol.file, '--json']);
    expect(errorCode(retired)).toBe('BAD_KEY');
    expect(retired.stderr).toContain('is not a root key of root v2 or of the new root v3');
    // A copy of the v2 ceremony, already published, is refused: the repository moved on.
    const stale = await runCli(['root', 'publish', join(tmp, 'bob-copy.json'), '--repo', repo, '--keys-dir', keys, '--json']);
    expect(errorCode(stale)).toBe('CEREMONY_INVALID');
  });

  it('a signature on a file changed after signing does not count', async () => {
    const pending = join(repo, 'root.pending.json');
    await holderSigns(pending, holders.alice.file);
    await holderSigns(pending, carolNew.privateFile);
    const json = JSON.parse(await readFile(pending, 'utf8')) as { root: { signed: Json } };
    json.root.signed.expires = '2099-01-01T00:00:00Z';
    await writeFile(pending, JSON.stringify(json));
    const shown = (await cliJson('root', 'show')) as unknown as CeremonyStatusJson & { invalid: string[] };
    expect(shown.complete).toBe(false);
    expect(shown.invalid.sort()).toEqual([holders.alice.keyid, carolNew.keyid].sort());
    const before = await treeHash(repo);
    expect(errorCode(await runCli(['root', 'publish', '--repo', repo, '--keys-dir', keys, '--json']))).toBe('MISSING_SIGNATURES');
    expect(await treeHash(repo)).toBe(before);
  });
});
