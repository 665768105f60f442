import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { errnoOf, messageOf, syncFolder } from '@tufup/bundle';
import { KEY_ENV, PASSPHRASE_ENV, type RoleName } from './config.js';
import { ioError, RepoError } from './error.js';
import { KeyObjectSigner, type Signer } from './signer.js';

/** Where a command finds private keys; every source is optional, and the root key may stay offline. */
export interface KeySource {
  /** Folder of PEM key files (`<role>.<keyid>.pem`), outside the repository. */
  keysDir?: string;
  /** Passphrase of encrypted key files and environment keys. @default env TUFUP_KEY_PASSPHRASE */
  passphrase?: string;
  /** Extra signers (KMS, hardware tokens), used for the roles whose key IDs they match. */
  signers?: readonly Signer[];
  /** Where the `TUFUP_KEY_<ROLE>` variables are read from. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/** A fresh ed25519 key pair. */
export function generateKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** The PEM (PKCS#8) of a private key, encrypted with AES-256-CBC when a passphrase is given. */
export function exportPrivateKey(key: KeyObject, passphrase?: string): string {
  if (passphrase === undefined || passphrase === '') return key.export({ type: 'pkcs8', format: 'pem' }) as string;
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** File name of a role's key: the role tells people which file to keep offline, the key ID finds it. */
export function keyFileName(role: RoleName, keyid: string): string {
  return `${role}.${keyid}.pem`;
}

/** Writes a private key file readable by its owner only, atomically. Returns its path. */
export async function writeKeyFile(keysDir: string, role: RoleName, key: KeyObject, passphrase?: string): Promise<string> {
  const signer = new KeyObjectSigner(key);
  const path = join(keysDir, keyFileName(role, signer.keyid));
  const partial = `${path}.partial-${process.pid}`;
  try {
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
    const handle = await open(partial, 'wx', 0o600);
    try {
      await handle.writeFile(exportPrivateKey(key, passphrase));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, path);
    // A key lost to a power cut right after it was made would leave metadata naming a key no one has.
    await syncFolder(keysDir);
  } catch (cause) {
    // A failed clean-up (the folder was never made) must not replace the error the caller acts on.
    await rm(partial, { force: true }).catch(() => undefined);
    throw ioError(`could not write the ${role} key file in ${keysDir}`, cause);
  }
  return path;
}

/** What {@link protectKeysDir} found and did. */
export interface KeysDirProtection {
  /** The folder's permission bits as found (e.g. 0o777). */
  was: number;
  /** Set when the folder could not be made 0700: why (an errno code or a message). */
  failed?: string;
}

/**
 * Makes the keys folder private to its owner (0700) when other users may open it: they could list the
 * key files, and with write access delete them or plant their own. Key files are written 0600, but that
 * does not help files copied in by hand. Returns undefined when there was nothing to do: no folder, a
 * private one, or Windows, where POSIX permission bits mean nothing.
 */
export async function protectKeysDir(keysDir: string): Promise<KeysDirProtection | undefined> {
  if (process.platform === 'win32') return undefined;
  let was: number;
  try {
    const found = await stat(keysDir);
    if (!found.isDirectory()) return undefined;
    was = found.mode & 0o777;
  } catch {
    // No folder (keys from the environment), or one that cannot be read: reading the keys says why.
    return undefined;
  }
  if ((was & 0o077) === 0) return undefined;
  try {
    await chmod(keysDir, 0o700);
    return { was };
  } catch (cause) {
    return { was, failed: errnoOf(cause) ?? messageOf(cause) };
  }
}

/** What became of the private key files of a key that no role lists any more. */
export interface RetiredKey {
  keyid: string;
  /** Its private key files, deleted from the keys folder. */
  deleted: string[];
  /** Its private key files that could not be deleted, and why. */
  kept: { file: string; reason: string }[];
}

/**
 * Deletes the private key files (`<role>.<keyid>.pem`) of retired keys from the keys folder. A retired
 * key left beside the live ones travels with every copy of the folder, and a retired root key can
 * still sign a root that clients which have not caught up yet would accept.
 */
export async function deleteRetiredKeys(keysDir: string | undefined, keyids: readonly string[]): Promise<RetiredKey[]> {
  const names = keysDir === undefined ? [] : await readdir(keysDir).catch((): string[] => []);
  const retired: RetiredKey[] = [];
  for (const keyid of keyids) {
    const entry: RetiredKey = { keyid, deleted: [], kept: [] };
    for (const name of names.filter((n) => n.endsWith(`.${keyid}.pem`))) {
      const file = join(keysDir ?? '', name);
      try {
        await rm(file);
        entry.deleted.push(file);
      } catch (cause) {
        entry.kept.push({ file, reason: errnoOf(cause) ?? messageOf(cause) });
      }
    }
    retired.push(entry);
  }
  return retired;
}

/** Parses one PEM private key; the error names where it came from, never its content. */
export function parsePrivateKey(pem: string, where: string, passphrase: string | undefined): KeyObject {
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new RepoError('BAD_PASSPHRASE', `${where} is encrypted: give its passphrase (${PASSPHRASE_ENV} or --passphrase-file)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
  } catch (cause) {
    if (encrypted) throw new RepoError('BAD_PASSPHRASE', `the passphrase does not decrypt ${where}`, { cause });
    throw new RepoError('BAD_KEY', `${where} is not a PEM private key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RepoError('BAD_KEY', `${where} is not an ed25519 key`);
  return key;
}

/**
 * Throws KEYS_IN_REPO when the keys folder lies inside the repository, where it would get published:
 * by its path, or by where its path leads once symlinks are followed (a linked keys folder).
 */
export function checkKeysOutside(keysDir: string, repoDir: string): void {
  const inside = (keys: string, repo: string): boolean => {
    const rel = relative(repo, keys);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  if (inside(resolve(keysDir), resolve(repoDir)) || inside(realPath(keysDir), realPath(repoDir))) {
    throw new RepoError('KEYS_IN_REPO', `the keys folder ${keysDir} is inside the repository ${repoDir}; keep private keys out of what you publish`);
  }
}

/** The absolute path with every symlink followed, for paths whose last parts do not exist yet too. */
function realPath(path: string): string {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(at), ...missing.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return resolve(path);
      missing.push(basename(at));
      at = parent;
    }
  }
}

/** Finds the signers available for the given key IDs of a role, from every source; missing ones are skipped. */
export async function findSigners(source: KeySource, role: RoleName, keyids: readonly string[]): Promise<Signer[]> {
  const wanted = new Set(keyids);
  const found = new Map<string, Signer>();
  const add = (signer: Signer): void => {
    if (wanted.has(signer.keyid) && !found.has(signer.keyid)) found.set(signer.keyid, signer);
  };
  const env = source.env ?? process.env;
  const passphrase = source.passphrase ?? env[PASSPHRASE_ENV];
  for (const signer of source.signers ?? []) add(signer);
  const fromEnv = env[KEY_ENV[role]];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const blocks = fromEnv.replace(/\\n/g, '\n').match(PEM_BLOCK) ?? [];
    if (blocks.length === 0) throw new RepoError('BAD_KEY', `${KEY_ENV[role]} holds no PEM private key`);
    blocks.forEach((pem, i) => add(new KeyObjectSigner(parsePrivateKey(pem, `key ${i + 1} in ${KEY_ENV[role]}`, passphrase))));
  }
  if (source.keysDir !== undefined) {
    let names: string[] = [];
    try {
      names = await readdir(source.keysDir);
    } catch {
      // A keys folder that does not exist simply holds no keys (CI passes keys in the environment).
    }
    for (const keyid of wanted) {
      if (found.has(keyid)) continue;
      const name = names.find((n) => n.endsWith(`.${keyid}.pem`));
      if (name === undefined) continue;
      const path = join(source.keysDir, name);
      const pem = await readFile(path, 'utf8').catch((e: unknown) => {
        throw ioError(`could not read the key file ${path}`, e);
      });
      const signer = new KeyObjectSigner(parsePrivateKey(pem, `the key file ${path}`, passphrase));
      if (signer.keyid !== keyid) throw new RepoError('BAD_KEY', `the key file ${path} holds key ${signer.keyid}, not ${keyid}`);
      add(signer);
    }
  }
  return keyids.flatMap((id) => found.get(id) ?? []);
}

/**
 * The signers of a role, at least `threshold` of them; MISSING_KEY (naming the role, the key IDs and why
 * the command needs them) when too few are at hand.
 */
export async function requireSigners(source: KeySource, role: RoleName, keyids: readonly string[], threshold: number, why: string): Promise<Signer[]> {
  const signers = await findSigners(source, role, keyids);
  if (signers.length < threshold) {
    const where = source.keysDir === undefined ? KEY_ENV[role] : `${source.keysDir} or ${KEY_ENV[role]}`;
    const missing = keyids.filter((id) => !signers.some((s) => s.keyid === id));
    throw new RepoError(
      'MISSING_KEY',
      `${why} needs ${threshold} ${role} key(s), found ${signers.length} in ${where}; missing key id(s): ${missing.join(', ')}`,
    );
  }
  return signers;
}
