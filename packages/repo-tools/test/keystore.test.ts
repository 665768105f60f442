import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportPrivateKey, findSigners, generateKey, tufKeyOf } from '../src/index.js';
import { checkKeysOutside, requireSigners, writeKeyFile } from '../src/keystore.js';
import { tempDir } from './helpers/fixtures.js';

describe('key files and environment keys', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('writes a key file only its owner can read, named after role and key ID', async () => {
    const key = generateKey();
    const path = await writeKeyFile(dir, 'targets', key);
    const { keyID } = tufKeyOf(key);
    expect(path).toBe(join(dir, `targets.${keyID}.pem`));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const [signer] = await findSigners({ keysDir: dir, env: {} }, 'targets', [keyID]);
    expect(signer?.keyid).toBe(keyID);
  });

  it('encrypts key files with a passphrase and refuses a wrong or missing one', async () => {
    const key = generateKey();
    const path = await writeKeyFile(dir, 'root', key, 'secret');
    expect(await readFile(path, 'utf8')).toContain('ENCRYPTED PRIVATE KEY');
    const ids = [tufKeyOf(key).keyID];
    await expect(findSigners({ keysDir: dir, env: {}, passphrase: 'secret' }, 'root', ids)).resolves.toHaveLength(1);
    await expect(findSigners({ keysDir: dir, env: {}, passphrase: 'wrong' }, 'root', ids)).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    await expect(findSigners({ keysDir: dir, env: {} }, 'root', ids)).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    await expect(findSigners({ keysDir: dir, env: { TUFUP_KEY_PASSPHRASE: 'secret' } }, 'root', ids)).resolves.toHaveLength(1);
  });

  it('reads keys from TUFUP_KEY_<ROLE>, several PEMs in one variable, with escaped newlines too', async () => {
    const a = generateKey();
    const b = generateKey();
    const escaped = (exportPrivateKey(a) + exportPrivateKey(b, 'pw')).replace(/\n/g, '\\n');
    const ids = [tufKeyOf(a).keyID, tufKeyOf(b).keyID];
    const found = await findSigners({ env: { TUFUP_KEY_SNAPSHOT: escaped, TUFUP_KEY_PASSPHRASE: 'pw' } }, 'snapshot', ids);
    expect(found.map((s) => s.keyid)).toEqual(ids);
    // A role only reads its own variable.
    await expect(findSigners({ env: { TUFUP_KEY_SNAPSHOT: escaped, TUFUP_KEY_PASSPHRASE: 'pw' } }, 'timestamp', ids)).resolves.toEqual([]);
  });

  it('says which role, key and source are missing (MISSING_KEY), without key material', async () => {
    const key = generateKey();
    const id = tufKeyOf(key).keyID;
    const error = await requireSigners({ keysDir: dir, env: {} }, 'timestamp', [id], 1, 'refreshing the timestamp').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MISSING_KEY' });
    expect((error as Error).message).toContain(id);
    expect((error as Error).message).toContain('TUFUP_KEY_TIMESTAMP');
    expect((error as Error).message).toContain('refreshing the timestamp');
  });

  it('refuses garbage in a key variable (BAD_KEY)', async () => {
    await expect(findSigners({ env: { TUFUP_KEY_ROOT: 'not a key' } }, 'root', ['x'])).rejects.toMatchObject({ code: 'BAD_KEY' });
  });

  it('refuses a keys folder inside the repository', () => {
    expect(() => checkKeysOutside(join(dir, 'repo', 'keys'), join(dir, 'repo'))).toThrow(expect.objectContaining({ code: 'KEYS_IN_REPO' }));
    expect(() => checkKeysOutside(join(dir, 'repo'), join(dir, 'repo'))).toThrow(expect.objectContaining({ code: 'KEYS_IN_REPO' }));
    expect(() => checkKeysOutside(join(dir, 'repo-keys'), join(dir, 'repo'))).not.toThrow();
  });
});
