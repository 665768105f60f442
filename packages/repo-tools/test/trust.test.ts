import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTrustFile, TRUST_FILE } from '@tufup/bundle';
import { LoopbackServer } from '@tufup/testkit';
import { addBundle, checkTrustFile, initRepository, rotateKey, setThreshold, signRepository, trustFileOf, writeTrustFile } from '../src/index.js';
import { FieldClient } from './helpers/client.js';
import { codeOf, tempRepo, treeHash, writeBundle } from './helpers/fixtures.js';

describe('the trust file apps ship (tufup.json)', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  const trustOf = async (dir = repoDir): Promise<ReturnType<typeof parseTrustFile>> => parseTrustFile(await readFile(join(dir, TRUST_FILE)));
  const rootJson = async (name = 'root.json'): Promise<unknown> => JSON.parse(await readFile(join(repoDir, 'metadata', name), 'utf8'));
  const json = (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes).toString('utf8'));

  beforeEach(async () => {
    ({ tmp, repoDir, keysDir, cleanup } = await tempRepo());
  });
  afterEach(() => cleanup());

  it('init writes it next to the metadata: the app name, the URL and root.json', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app', url: 'https://updates.example.com/my-app' });
    const trust = await trustOf();
    expect(trust).toMatchObject({ appName: 'my-app', url: 'https://updates.example.com/my-app', rootVersion: 1 });
    expect(json(trust.root)).toEqual(await rootJson());
    await expect(initRepository({ repoDir: join(tmp, 'other'), keysDir: join(tmp, 'k2'), appName: 'x', url: 'file:///srv/updates' })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('follows every change of root.json, in the same transaction', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app' });
    expect((await trustOf()).url).toBeUndefined();
    await rotateKey({ repoDir, keysDir, role: 'timestamp' });
    expect((await trustOf()).rootVersion).toBe(2);
    await setThreshold({ repoDir, keysDir, role: 'root', threshold: 1 });
    await signRepository({ repoDir, keysDir, roles: ['root'] });
    const trust = await trustOf();
    expect(trust.rootVersion).toBe(4);
    expect(json(trust.root)).toEqual(await rootJson('4.root.json'));
    // A change that signs no new root leaves the file as it was.
    const before = await readFile(join(repoDir, TRUST_FILE));
    await signRepository({ repoDir, keysDir, roles: ['targets'] });
    expect(await readFile(join(repoDir, TRUST_FILE))).toEqual(before);
  });

  it('a root change that fails leaves it, and root.json, as they were', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app' });
    const before = await treeHash(repoDir);
    // Without the root key: refused before anything is written.
    const noRoot = join(tmp, 'no-root-keys');
    await mkdir(noRoot);
    expect(await codeOf(rotateKey({ repoDir, keysDir: noRoot, role: 'timestamp' }))).toBe('MISSING_KEY');
    // Something in the way of 2.root.json: the commit fails half-way and rolls back.
    await mkdir(join(repoDir, 'metadata', '2.root.json', 'blocker'), { recursive: true });
    const blocked = await treeHash(repoDir);
    expect(await codeOf(rotateKey({ repoDir, keysDir, role: 'timestamp' }))).toBe('IO');
    expect(await treeHash(repoDir)).toBe(blocked);
    await rm(join(repoDir, 'metadata', '2.root.json'), { recursive: true });
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('trustFileOf and writeTrustFile make it for any repository, with another URL if asked', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app', url: 'https://a.example.com/' });
    // A repository made before tufup.json existed has none; the command makes it from root.json.
    await rm(join(repoDir, TRUST_FILE));
    const made = await trustFileOf({ repoDir });
    expect(made).toMatchObject({ appName: 'my-app', url: 'https://a.example.com/', rootVersion: 1 });
    const out = join(tmp, 'build', 'tufup.json');
    const written = await writeTrustFile({ repoDir, out, url: 'https://cdn.example.com/my-app' });
    expect(written.file).toBe(out);
    expect(parseTrustFile(await readFile(out))).toMatchObject({ appName: 'my-app', url: 'https://cdn.example.com/my-app' });
    expect(await codeOf(trustFileOf({ repoDir, url: 'updates.example.com' }))).toBe('USAGE');
    expect(await codeOf(trustFileOf({ repoDir: join(tmp, 'nothing') }))).toBe('REPO_NOT_FOUND');
  });

  it('checkTrustFile accepts this repository’s current or earlier roots and names what is wrong otherwise', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app' });
    const v1 = join(tmp, 'v1-tufup.json');
    await writeFile(v1, await readFile(join(repoDir, TRUST_FILE)));
    await rotateKey({ repoDir, keysDir, role: 'snapshot' });
    expect((await checkTrustFile(repoDir, join(repoDir, TRUST_FILE))).rootVersion).toBe(2);
    // An app built before the rotation still follows the chain: its file is fine.
    expect((await checkTrustFile(repoDir, v1)).rootVersion).toBe(1);

    const other = join(tmp, 'other');
    await initRepository({ repoDir: other, keysDir: join(tmp, 'other-keys'), appName: 'my-app' });
    const mismatch = async (file: string, message: RegExp): Promise<void> => {
      const error = await checkTrustFile(repoDir, file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'TRUST_MISMATCH' });
      expect((error as Error).message).toMatch(message);
    };
    await mismatch(join(other, TRUST_FILE), /\(version 1\) is not 1\.root\.json of the repository/);
    await mismatch(join(tmp, 'missing.json'), /missing: the app would ship without its trust file/);
    await mismatch(join(repoDir, 'metadata', 'root.json'), /it is a root\.json/);
    const renamed = join(tmp, 'renamed.json');
    await writeFile(renamed, (await readFile(v1, 'utf8')).replace('"appName": "my-app"', '"appName": "other-app"'));
    await mismatch(renamed, /for the app "other-app", but the repository .* is for "my-app"/);
  });

  it('a TUF client that starts from the embedded root follows a key rotation to the newest release', async () => {
    await initRepository({ repoDir, keysDir, appName: 'my-app' });
    const shipped = await trustOf();
    await addBundle({ repoDir, keysDir, bundleDir: await writeBundle(join(tmp, 'b1'), 0), version: '1.0.0', platform: 'linux', arch: 'x64' });
    await rotateKey({ repoDir, keysDir, role: 'root' });
    await rotateKey({ repoDir, keysDir, role: 'timestamp' });
    await addBundle({ repoDir, keysDir, bundleDir: await writeBundle(join(tmp, 'b2'), 1), version: '1.1.0', platform: 'linux', arch: 'x64' });
    const server = new LoopbackServer(repoDir);
    const { url } = await server.start();
    try {
      const trustedRoot = join(tmp, 'shipped-root.json');
      await writeFile(trustedRoot, shipped.root);
      const client = await FieldClient.install(join(tmp, 'client'), url, trustedRoot, 'linux', 'x64');
      const check = await client.check();
      expect(check).toMatchObject({ version: '1.1.0', rootVersion: 3 });
    } finally {
      await server.close();
    }
  });
});
