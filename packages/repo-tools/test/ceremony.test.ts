import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addBundle,
  beginRootCeremony,
  initRepository,
  KeyObjectSigner,
  loadRepository,
  publishRootCeremony,
  signRootCeremony,
  verifyRepository,
} from '../src/index.js';
import { codeOf, tempDir, treeHash } from './helpers/fixtures.js';

describe('root ceremony (library)', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  let rootSigner: KeyObjectSigner;
  const pending = (): string => join(repoDir, 'root.pending.json');

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repoDir = join(tmp, 'repo');
    keysDir = join(tmp, 'keys');
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    // The root key leaves the online keys folder, as it should.
    const file = (await readdir(keysDir)).find((f) => f.startsWith('root.')) ?? '';
    const offline = join(tmp, 'offline');
    await mkdir(offline);
    await rename(join(keysDir, file), join(offline, file));
    rootSigner = new KeyObjectSigner(createPrivateKey(await readFile(join(offline, file), 'utf8')));
    await mkdir(join(tmp, 'app'));
    await writeFile(join(tmp, 'app', 'main.js'), 'console.log(1);\n'.repeat(200));
    await addBundle({ repoDir, keysDir, bundleDir: join(tmp, 'app'), version: '1.0.0', platform: 'linux', arch: 'x64' });
  });
  afterEach(() => cleanup());

  it('moves the targets role onto a new (ECDSA P-256, KMS-type) key and re-signs targets, snapshot and timestamp with it', async () => {
    const kms = new KeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const state = await loadRepository(repoDir);
    const oldTargets = state.root.signed.roles.targets?.keyIDs[0] ?? '';
    const pem = kms.publicKey.keyVal.public ?? '';
    const begun = await beginRootCeremony({ repoDir, keysDir, addKeys: [{ role: 'targets', publicKey: pem }], removeKeys: [{ role: 'targets', keyid: oldTargets }] });
    expect(begun.changes).toEqual(expect.arrayContaining([`targets: adds key ${kms.keyid} (ecdsa)`, `targets: removes key ${oldTargets}`]));
    const signed = await signRootCeremony({ file: pending(), signers: [rootSigner] });
    expect(signed.complete).toBe(true);

    // Without the new targets key at hand, publishing writes nothing.
    const before = await treeHash(repoDir);
    expect(await codeOf(publishRootCeremony({ repoDir, keysDir }))).toBe('MISSING_KEY');
    expect(await treeHash(repoDir)).toBe(before);

    const published = await publishRootCeremony({ repoDir, keysDir, signers: [kms] });
    expect(published.resigned).toEqual(['targets', 'snapshot', 'timestamp']);
    expect(published.metadata).toMatchObject({ root: 2, targets: 3 });
    const after = await loadRepository(repoDir);
    expect(Object.keys(after.targets.signatures)).toEqual([kms.keyid]);
    expect(after.config.roles.targets.keyids).toEqual([kms.keyid]);
    // tuf-js, trusting root v1, verifies root v2 and the ECDSA-signed targets.
    expect(await verifyRepository({ repoDir })).toMatchObject({ rootVersion: 2, targets: 2 });
  });

  it('refuses thresholds above the keys, and an expired ceremony', async () => {
    expect(await codeOf(beginRootCeremony({ repoDir, keysDir, thresholds: { root: 2 } }))).toBe('THRESHOLD');
    await beginRootCeremony({ repoDir, keysDir, expiresInDays: 1 });
    await signRootCeremony({ file: pending(), signers: [rootSigner] });
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(await codeOf(signRootCeremony({ file: pending(), signers: [rootSigner], now: later }))).toBe('CEREMONY_INVALID');
    expect(await codeOf(publishRootCeremony({ repoDir, keysDir, now: later }))).toBe('CEREMONY_INVALID');
  });

  it('a ceremony that only extends the expiry needs the root key and nothing else', async () => {
    const begun = await beginRootCeremony({ repoDir, keysDir, expiresInDays: 730 });
    expect(begun.changes).toHaveLength(1);
    expect(begun.changes[0]).toMatch(/^expires /);
    await signRootCeremony({ file: pending(), signers: [rootSigner] });
    const published = await publishRootCeremony({ repoDir, keysDir });
    expect(published).toMatchObject({ resigned: [], metadata: { root: 2, targets: 2 } });
    const days = (new Date((await loadRepository(repoDir)).root.signed.expires).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(730);
  });

  it('a garbled ceremony file is CEREMONY_INVALID, not a crash', async () => {
    await writeFile(pending(), '{"tufupRootCeremony": 1, "appName": "demo", "previous": {}, "root": {}}');
    expect(await codeOf(signRootCeremony({ file: pending(), signers: [rootSigner] }))).toBe('CEREMONY_INVALID');
    await writeFile(pending(), 'not json');
    expect(await codeOf(publishRootCeremony({ repoDir, keysDir }))).toBe('CEREMONY_INVALID');
    expect(await codeOf(publishRootCeremony({ repoDir, keysDir, files: [join(tmp, 'missing.json')] }))).toBe('CEREMONY_INVALID');
  });
});
