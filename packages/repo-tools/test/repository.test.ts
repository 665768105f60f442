import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metadata, Targets, type Root } from '@tufjs/models';
import { targetPath, parseTargetCustom } from '@tufup/bundle';
import { signersFor } from '../src/repository.js';
import { stageMetadata, withTransaction } from '../src/store.js';
import {
  addBundle,
  addKey,
  initRepository,
  KeyObjectSigner,
  loadRepository,
  removeKey,
  removeVersion,
  RepoError,
  repositoryStatus,
  setThreshold,
  signRepository,
  verifyRepository,
  type Signer,
} from '../src/index.js';
import { rejectionOf } from '@tufup/testkit';
import { listFiles, tempRepo, treeHash } from './helpers/fixtures.js';

async function smallBundle(dir: string, version: string, extra = ''): Promise<string> {
  await mkdir(join(dir, 'resources'), { recursive: true });
  await writeFile(join(dir, 'resources', 'app.js'), `console.log(${JSON.stringify(version)});\n${'// filler line\n'.repeat(2000)}${extra}`);
  await writeFile(join(dir, 'version.txt'), version);
  return dir;
}

describe('the library API', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  const bundle = (name: string, version: string, extra = ''): Promise<string> => smallBundle(join(tmp, 'bundles', name), version, extra);

  beforeEach(async () => {
    ({ tmp, repoDir, keysDir, cleanup } = await tempRepo());
  });
  afterEach(() => cleanup());

  it('initRepository + addBundle write the layout and target names of the contract', async () => {
    const init = await initRepository({ repoDir, keysDir, appName: 'demo' });
    expect(init.metadata).toEqual({ root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    const first = await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'win32', arch: 'arm64' });
    const second = await addBundle({
      repoDir,
      keysDir,
      bundleDir: await bundle('b', '1.1.0-beta.1', 'new'),
      version: '1.1.0-beta.1',
      platform: 'win32',
      arch: 'arm64',
      required: true,
      releaseNotes: 'Beta',
      custom: { rollout: '0.5', cohort: [1, 2], beta: true },
    });
    expect(first.archive.path).toBe(targetPath({ name: 'demo', version: '1.0.0', kind: 'archive', platform: 'win32', arch: 'arm64' }));
    expect(first.archive.file).toBe(`targets/win32-arm64/${first.archive.sha256}.demo-1.0.0.tar.gz`);
    expect(second.patch?.file).toBe(`targets/win32-arm64/${second.patch?.sha256}.demo-1.1.0-beta.1.patch`);
    expect(await listFiles(join(repoDir, 'metadata'))).toEqual([
      '1.root.json', '1.snapshot.json', '1.targets.json', '2.snapshot.json', '2.targets.json', '3.snapshot.json', '3.targets.json', 'root.json', 'timestamp.json',
    ]);
    const state = await loadRepository(repoDir);
    const patch = state.targets.signed.targets[second.patch?.path ?? ''];
    const custom = parseTargetCustom(patch?.custom, second.patch?.path ?? '');
    expect(custom.tufup).toMatchObject({ kind: 'patch', version: '1.1.0-beta.1', required: true, releaseNotes: 'Beta', tar: second.tar });
    expect(custom.tufup.base).toEqual({ version: '1.0.0', ...first.tar });
    expect(custom.user).toEqual({ rollout: '0.5', cohort: [1, 2], beta: true });
    // Canonical JSON has no floats, so a client could never verify them: refused up front.
    await expect(
      addBundle({ repoDir, keysDir, bundleDir: await bundle('c', '1.2.0'), version: '1.2.0', platform: 'win32', arch: 'arm64', custom: { rollout: 0.5 } }),
    ).rejects.toMatchObject({ code: 'INVALID_CUSTOM' });
  });

  it('patches from the latest earlier version of the same platform/arch only', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('l1', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('m2', '2.0.0'), version: '2.0.0', platform: 'darwin', arch: 'x64' });
    // Lower than darwin's 2.0.0, but linux has its own chain.
    const linux = await addBundle({ repoDir, keysDir, bundleDir: await bundle('l2', '1.5.0'), version: '1.5.0', platform: 'linux', arch: 'x64' });
    expect(linux.patch?.base).toBe('1.0.0');
    const darwinFirst = await addBundle({ repoDir, keysDir, bundleDir: await bundle('ma', '1.0.0'), version: '1.0.0', platform: 'darwin', arch: 'arm64' });
    expect(darwinFirst.patch).toBeUndefined();
    const status = await repositoryStatus({ repoDir, keysDir });
    expect(status.platforms.map((p) => `${p.platform}-${p.arch}:${p.versions.map((v) => v.version).join(',')}`)).toEqual([
      'darwin-arm64:1.0.0', 'darwin-x64:2.0.0', 'linux-x64:1.0.0,1.5.0',
    ]);
  });

  it('a failing signer (a KMS that is down) leaves the repository byte-identical', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    const state = await loadRepository(repoDir);
    const timestampId = state.root.signed.roles.timestamp?.keyIDs[0] ?? '';
    const real = (await readdir(keysDir)).find((n) => n.startsWith('timestamp.')) ?? '';
    const pem = await readFile(join(keysDir, real), 'utf8');
    const { createPrivateKey } = await import('node:crypto');
    const inner = new KeyObjectSigner(createPrivateKey(pem));
    const down: Signer = { keyid: timestampId, publicKey: inner.publicKey, sign: () => Promise.reject(new Error('KMS unavailable')) };
    const before = await treeHash(repoDir);
    await expect(
      addBundle({ repoDir, keysDir, signers: [down], bundleDir: await bundle('b', '1.1.0', 'x'), version: '1.1.0', platform: 'linux', arch: 'x64' }),
    ).rejects.toThrow('KMS unavailable');
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('a failure half-way through moving files in rolls back what was moved', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    // Something in the way of the next snapshot file: a non-empty folder cannot be renamed over.
    await mkdir(join(repoDir, 'metadata', '2.snapshot.json', 'blocker'), { recursive: true });
    const before = await treeHash(repoDir);
    await expect(addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' })).rejects.toMatchObject({
      code: 'IO',
    });
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('init makes the configured number of keys and thresholds, and adds need that many signatures', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo', thresholds: { targets: 2 }, keyCounts: { targets: 3 }, expiryDays: { timestamp: 1 } });
    const state = await loadRepository(repoDir);
    expect(state.root.signed.roles.targets).toMatchObject({ threshold: 2 });
    expect(state.root.signed.roles.targets?.keyIDs).toHaveLength(3);
    const days = (new Date(state.timestamp.signed.expires).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(1);
    const targetsKeys = (await readdir(keysDir)).filter((n) => n.startsWith('targets.'));
    const { rm } = await import('node:fs/promises');
    await rm(join(keysDir, targetsKeys[0] ?? ''));
    await rm(join(keysDir, targetsKeys[1] ?? ''));
    await expect(addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0' })).rejects.toMatchObject({ code: 'MISSING_KEY' });
    await expect(initRepository({ repoDir: join(tmp, 'r2'), keysDir, appName: 'demo', thresholds: { root: 2 }, keyCounts: { root: 1 } })).rejects.toMatchObject({
      code: 'THRESHOLD',
    });
    await expect(initRepository({ repoDir: join(tmp, 'r3'), keysDir, appName: 'bad name' })).rejects.toMatchObject({ code: 'INVALID_NAME' });
  });

  it('keys add, threshold and keys remove chain new roots that clients accept', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    const added = await addKey({ repoDir, keysDir, role: 'snapshot' });
    expect(added.keyids).toHaveLength(2);
    const raised = await setThreshold({ repoDir, keysDir, role: 'snapshot', threshold: 2 });
    expect(raised.metadata.root).toBe(3);
    const signed = await signRepository({ repoDir, keysDir, roles: ['snapshot'] });
    expect(signed.roles).toEqual(['snapshot', 'timestamp']);
    const state = await loadRepository(repoDir);
    expect(Object.keys(state.snapshot.signatures)).toHaveLength(2);
    await expect(removeKey({ repoDir, keysDir, role: 'snapshot', keyid: added.added[0]?.keyid ?? '' })).rejects.toMatchObject({ code: 'THRESHOLD' });
    await setThreshold({ repoDir, keysDir, role: 'snapshot', threshold: 1 });
    const removed = await removeKey({ repoDir, keysDir, role: 'snapshot', keyid: (added.added[0]?.keyid ?? '').slice(0, 12) });
    expect(removed.removed).toEqual([added.added[0]?.keyid]);
    const verified = await verifyRepository({ repoDir });
    expect(verified.rootVersion).toBe(5);
  });

  it('keys add takes a public key held elsewhere, whose holder then signs through a Signer', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const { generateKeyPairSync } = await import('node:crypto');
    const kmsKey = generateKeyPairSync('ed25519');
    const kms = new KeyObjectSigner(kmsKey.privateKey);
    const publicKeyPem = kmsKey.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await addKey({ repoDir, keysDir, role: 'timestamp', publicKeyPem });
    const old = (await loadRepository(repoDir)).root.signed.roles.timestamp?.keyIDs.find((id) => id !== kms.keyid) ?? '';
    // The timestamp must be re-signed by the keys that remain, so the holder signs.
    await expect(removeKey({ repoDir, keysDir, role: 'timestamp', keyid: old })).rejects.toMatchObject({ code: 'MISSING_KEY' });
    await removeKey({ repoDir, keysDir, role: 'timestamp', keyid: old, signers: [kms] });
    await expect(signRepository({ repoDir, keysDir })).rejects.toMatchObject({ code: 'MISSING_KEY' });
    await signRepository({ repoDir, keysDir, signers: [kms] });
    expect(Object.keys((await loadRepository(repoDir)).timestamp.signatures)).toEqual([kms.keyid]);
  });

  it('verify finds a target file whose bytes changed on disk', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const added = await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    const file = join(repoDir, added.archive.file);
    const bytes = await readFile(file);
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    await expect(verifyRepository({ repoDir })).rejects.toMatchObject({ code: 'VERIFY_FAILED' });
  });

  it('removeVersion drops the files, and refuses an unknown version', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    const second = await addBundle({ repoDir, keysDir, bundleDir: await bundle('b', '1.1.0', 'b'), version: '1.1.0', platform: 'linux', arch: 'x64' });
    await expect(removeVersion({ repoDir, keysDir, version: '9.9.9' })).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    await removeVersion({ repoDir, keysDir, version: '1.1.0' });
    const files = await listFiles(join(repoDir, 'targets'));
    expect(files.some((f) => f.includes('1.1.0'))).toBe(false);
    // The next add patches from what is left.
    const third = await addBundle({ repoDir, keysDir, bundleDir: await bundle('c', '1.2.0', 'c'), version: '1.2.0', platform: 'linux', arch: 'x64' });
    expect(third.patch?.base).toBe('1.0.0');
    expect(second.patch?.base).toBe('1.0.0');
  });

  it('removeVersion refuses a malformed platform with its own INVALID_NAME, changing nothing', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    const before = await treeHash(repoDir);
    const error: unknown = await removeVersion({ repoDir, keysDir, version: '1.0.0', platform: 'Linux', arch: 'x64' }).catch((e: unknown) => e);
    // The CLI reports the code of a RepoError only; any other error class would reach users as "ERROR".
    expect(error).toBeInstanceOf(RepoError);
    expect(error).toMatchObject({ code: 'INVALID_NAME' });
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('status warns about metadata that expires soon or has expired', async () => {
    const now = new Date(Date.UTC(2026, 0, 1));
    await initRepository({ repoDir, keysDir, appName: 'demo', now });
    expect((await repositoryStatus({ repoDir, keysDir, now })).warnings).toEqual([]);
    const soon = await repositoryStatus({ repoDir, keysDir, now: new Date(Date.UTC(2026, 0, 7, 12)) });
    expect(soon.warnings).toHaveLength(1);
    expect(soon.warnings[0]).toMatch(/^timestamp metadata expires on 2026-01-08T00:00:00Z/);
    const late = await repositoryStatus({ repoDir, keysDir, now: new Date(Date.UTC(2026, 0, 20)) });
    expect(late.warnings.some((w) => w.startsWith('timestamp metadata expired'))).toBe(true);
    expect(late.roles.find((r) => r.role === 'timestamp')?.daysLeft).toBeLessThan(0);
  });

  it('verify warns about files in targets/ that no metadata names', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
    await writeFile(join(repoDir, 'targets', 'linux-x64', 'stray.bin'), 'x');
    const result = await verifyRepository({ repoDir });
    expect(result.warnings).toEqual(['targets/linux-x64/stray.bin is not named by the current targets metadata']);
  });

  it('a root with a 2-of-2 threshold needs both root keys, and clients follow the chain to it', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await addKey({ repoDir, keysDir, role: 'root' });
    await setThreshold({ repoDir, keysDir, role: 'root', threshold: 2 });
    const rootKeys = (await readdir(keysDir)).filter((n) => n.startsWith('root.'));
    expect(rootKeys).toHaveLength(2);
    const { rename } = await import('node:fs/promises');
    await mkdir(join(tmp, 'safe'));
    await rename(join(keysDir, rootKeys[0] ?? ''), join(tmp, 'safe', rootKeys[0] ?? ''));
    await expect(signRepository({ repoDir, keysDir, roles: ['root'] })).rejects.toMatchObject({ code: 'MISSING_KEY' });
    await rename(join(tmp, 'safe', rootKeys[0] ?? ''), join(keysDir, rootKeys[0] ?? ''));
    await signRepository({ repoDir, keysDir, roles: ['root'] });
    const state = await loadRepository(repoDir);
    expect(Object.keys(state.root.signatures)).toHaveLength(2);
    expect((await verifyRepository({ repoDir })).rootVersion).toBe(4);
  });

  it('key commands refuse to write new keys into the repository', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const { cp } = await import('node:fs/promises');
    const inside = join(repoDir, 'keys');
    await cp(keysDir, inside, { recursive: true });
    const before = await treeHash(repoDir);
    await expect(addKey({ repoDir, keysDir: inside, role: 'targets' })).rejects.toMatchObject({ code: 'KEYS_IN_REPO' });
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('key commands refuse a keys folder that is a symlink into the repository', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const { cp, symlink } = await import('node:fs/promises');
    // The published metadata folder, reached through a link whose own path lies outside the repository.
    await cp(keysDir, join(repoDir, 'metadata'), { recursive: true });
    const link = join(tmp, 'keys-link');
    await symlink(join(repoDir, 'metadata'), link);
    const before = await treeHash(repoDir);
    await expect(addKey({ repoDir, keysDir: link, role: 'targets' })).rejects.toMatchObject({ code: 'KEYS_IN_REPO' });
    expect(await treeHash(repoDir)).toBe(before);
    // init too, where the keys folder does not exist yet: the link is on its way.
    await mkdir(join(tmp, 'r2'));
    await symlink(join(tmp, 'r2'), join(tmp, 'r2-link'));
    await expect(initRepository({ repoDir: join(tmp, 'r2'), keysDir: join(tmp, 'r2-link', 'keys'), appName: 'demo' })).rejects.toMatchObject({ code: 'KEYS_IN_REPO' });
    expect(await readdir(join(tmp, 'r2'))).toEqual([]);
  });

  it('verify names a signed base archive that is not gzip as VERIFY_FAILED, also when its patch is checked first', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const base = await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.9.0'), version: '1.9.0', platform: 'linux', arch: 'x64' });
    await addBundle({ repoDir, keysDir, bundleDir: await bundle('b', '1.10.0', 'b'), version: '1.10.0', platform: 'linux', arch: 'x64' });
    // A publisher signs an archive that is not gzip: its hash matches, so only tufup's own checks can tell.
    // Paths sort "1.10.0.patch" before "1.9.0.tar.gz", so the patch reaches the archive first.
    const garbage = Buffer.from('not a gzip stream\n'.repeat(100));
    const sha256 = createHash('sha256').update(garbage).digest('hex');
    const state = await loadRepository(repoDir);
    const json = state.targets.signed.toJSON();
    const entries = { ...(json.targets as Record<string, { length: number; hashes: Record<string, string> }>) };
    entries[base.archive.path] = { ...entries[base.archive.path], length: garbage.length, hashes: { sha256 } };
    const signers = await signersFor({ keysDir }, state, ['targets', 'snapshot', 'timestamp'], 'test');
    await withTransaction({ repoDir }, async (tx) => {
      await tx.put(`targets/linux-x64/${sha256}.demo-1.9.0.tar.gz`, garbage);
      await stageMetadata(tx, state, { targets: Targets.fromJSON({ ...json, targets: entries }) }, signers);
    });
    const error: unknown = await verifyRepository({ repoDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepoError);
    expect(error).toMatchObject({ code: 'VERIFY_FAILED' });
  });

  it('init into a keys folder that cannot be made fails with IO and leaves no repository', async () => {
    await writeFile(join(tmp, 'not-a-folder'), 'x');
    const error: unknown = await initRepository({ repoDir, keysDir: join(tmp, 'not-a-folder', 'keys'), appName: 'demo' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepoError);
    expect(error).toMatchObject({ code: 'IO' });
    expect((await readdir(tmp)).sort()).toEqual(['not-a-folder']);
  });

  it('refuses to work while another live command holds the lock (REPO_BUSY), changing nothing', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const lock = join(tmp, '.repo.tufup-lock');
    // This test's process is alive: the lock is another command's, still working.
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'live', since: '2026-11-26T10:00:00.000Z' }));
    const before = await treeHash(repoDir);
    const error = await rejectionOf(signRepository({ repoDir, keysDir }), RepoError);
    expect([error.code, error.message]).toEqual(['REPO_BUSY', `the repository ${repoDir} is in use by process ${process.pid} (since 2026-11-26T10:00:00.000Z), another tufup-repo command; try again later`]);
    expect(await treeHash(repoDir)).toBe(before);
    await rm(lock);
    await expect(signRepository({ repoDir, keysDir })).resolves.toMatchObject({ roles: ['timestamp'] });
  });

  it('breaks the lock of a command that died on this machine, with a warning, and works', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const dead = spawnSync('true').pid;
    await writeFile(join(tmp, '.repo.tufup-lock'), JSON.stringify({ pid: dead, host: hostname(), nonce: 'dead', since: '2026-11-26T10:00:00.000Z' }));
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (m: string) => warnings.push(m) };
    await expect(signRepository({ repoDir, keysDir, logger })).resolves.toMatchObject({ roles: ['timestamp'] });
    expect(warnings).toEqual([`removed the lock of process ${dead}, which no longer runs: ${join(tmp, '.repo.tufup-lock')}`]);
    expect((await readdir(tmp)).filter((n) => n.startsWith('.repo.'))).toEqual([]);
  });

  it('never breaks a lock taken on another machine: REPO_BUSY says whose it is and how to clear it', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const lock = join(tmp, '.repo.tufup-lock');
    await writeFile(lock, JSON.stringify({ pid: spawnSync('true').pid, host: 'ci-runner-7', nonce: 'remote', since: '2026-11-26T10:00:00.000Z' }));
    const error = await rejectionOf(signRepository({ repoDir, keysDir }), RepoError);
    expect(error.code).toBe('REPO_BUSY');
    expect(error.message).toContain('on ci-runner-7 (since 2026-11-26T10:00:00.000Z), another tufup-repo command');
    expect(error.message).toContain(`a lock taken on another machine is never broken from this one: if nothing runs there any more, delete ${lock}`);
  });

  it('refuses to commit over a change another command committed after this one read the repository', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const state = await loadRepository(repoDir);
    const signers = await signersFor({ keysDir }, state, ['timestamp'], 'test');
    await signRepository({ repoDir, keysDir });
    const before = await treeHash(repoDir);
    const stale = withTransaction({ repoDir }, (tx) => stageMetadata(tx, state, { timestamp: true }, signers));
    const error = await rejectionOf(stale, RepoError);
    expect([error.code, error.message]).toEqual(['REPO_BUSY', expect.stringContaining('changed while this command was working on it')]);
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('verify checks the signatures of the targets metadata a fixed number of times, not once per target', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    // Each verification of targets by its delegator canonicalizes the whole map: once per target was quadratic.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `call` on the instance
    const original = Metadata.prototype.verifyDelegate;
    let checks = 0;
    Metadata.prototype.verifyDelegate = function (this: Metadata<Root>, role, delegated) {
      if (role === 'targets') checks++;
      original.call(this, role, delegated);
    };
    try {
      const checksAt = async (): Promise<[number, number]> => {
        checks = 0;
        const result = await verifyRepository({ repoDir });
        return [result.targets, checks];
      };
      await addBundle({ repoDir, keysDir, bundleDir: await bundle('a', '1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
      const [one, checksOne] = await checksAt();
      for (const [i, version] of ['1.1.0', '1.2.0', '1.3.0'].entries()) {
        await addBundle({ repoDir, keysDir, bundleDir: await bundle(`v${i}`, version, `v${version}`), version, platform: 'linux', arch: 'x64' });
      }
      const [many, checksMany] = await checksAt();
      // Three more archives and patches (and entry lists): several times as many targets, the same checks.
      expect(many).toBeGreaterThanOrEqual(one + 6);
      expect(checksMany).toBe(checksOne);
      expect(checksOne).toBeLessThanOrEqual(3);
    } finally {
      Metadata.prototype.verifyDelegate = original;
    }
  });

  it('verify refuses a repository that the trusted root does not sign', async () => {
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    const other = join(tmp, 'other');
    await initRepository({ repoDir: other, keysDir: join(tmp, 'other-keys'), appName: 'demo' });
    await expect(verifyRepository({ repoDir, trustedRoot: join(other, 'metadata', '1.root.json') })).rejects.toMatchObject({ code: 'VERIFY_FAILED' });
    await expect(verifyRepository({ repoDir, trustedRoot: join(repoDir, 'metadata', 'root.json') })).resolves.toMatchObject({ rootVersion: 1 });
  });
});
