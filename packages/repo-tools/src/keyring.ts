import type { KeyObject } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { checkPositive, PASSPHRASE_ENV, ROLES, type RoleName } from './config.js';
import { RepoError } from './error.js';
import { checkKeysOutside, deleteRetiredKeys, findSigners, generateKey, requireSigners, writeKeyFile, type RetiredKey } from './keystore.js';
import type { JSONObject } from './metadata.js';
import { expiresIn } from './metadata.js';
import { nextRoot, type KeyInfo, type RepoOptions } from './repository.js';
import { KeyObjectSigner, parsePublicKey, tufKeyOf, type Signer } from './signer.js';
import { loadRepository, stageMetadata, withTransaction, type MetadataVersions, type RepoState, type RoleSigners } from './store.js';

/** Options of every key command. */
export interface KeyCommandOptions extends RepoOptions {
  role: RoleName;
}

/** What a key command changed. The new root is `N.root.json`, signed by the old and the new root keys. */
export interface KeyChangeResult {
  role: RoleName;
  added: KeyInfo[];
  /** Key IDs no longer in the role. */
  removed: string[];
  /**
   * The removed keys that no role lists any more, and what became of their private key files in the
   * keys folder (deleted once the new root is in place; other copies are the publisher's to destroy).
   */
  retired: RetiredKey[];
  keyids: string[];
  threshold: number;
  metadata: MetadataVersions;
}

interface RoleEdit {
  keyids: string[];
  threshold: number;
  /** New keys with their private part, to write into the keys folder. */
  newKeys: KeyObject[];
  /** New public keys without a private part here (KMS, another person's key). */
  publicKeys?: ReturnType<typeof tufKeyOf>[];
}

/** Finds a role's key by full ID or unique prefix (at least 8 characters). */
function resolveKeyId(state: RepoState, role: RoleName, keyid: string): string {
  const ids = state.root.signed.roles[role]?.keyIDs ?? [];
  const matches = keyid.length >= 8 ? ids.filter((id) => id.startsWith(keyid)) : ids.filter((id) => id === keyid);
  const [match] = matches;
  if (matches.length !== 1 || match === undefined) throw new RepoError('USAGE', `${keyid} does not name exactly one ${role} key; see "tufup-repo status"`);
  return match;
}

async function changeRole(options: KeyCommandOptions, why: string, edit: (state: RepoState, current: { keyids: string[]; threshold: number }) => RoleEdit): Promise<KeyChangeResult> {
  const { role } = options;
  const state = await loadRepository(options.repoDir);
  const current = state.root.signed.roles[role];
  if (current === undefined) throw new RepoError('METADATA_CORRUPT', `root.json has no ${role} role`);
  const change = edit(state, { keyids: [...current.keyIDs], threshold: current.threshold });
  if (change.keyids.length < change.threshold) {
    throw new RepoError('THRESHOLD', `the ${role} role would have ${change.keyids.length} key(s) for a threshold of ${change.threshold}`);
  }
  const generated = change.newKeys.map((k) => new KeyObjectSigner(k));
  const known = [...generated.map((s) => s.publicKey), ...(change.publicKeys ?? [])];
  const now = options.now ?? new Date();
  const root = nextRoot(state, expiresIn(state.config.expiryDays.root, now), (json) => {
    const keys = { ...(json.keys as JSONObject) };
    const roles = { ...(json.roles as JSONObject) };
    for (const key of known) keys[key.keyID] = key.toJSON();
    roles[role] = { keyids: change.keyids, threshold: change.threshold };
    const used = new Set(ROLES.flatMap((r) => ((roles[r] as { keyids: string[] } | undefined)?.keyids ?? [])));
    json.keys = Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id)));
    json.roles = roles;
  });

  // The new root must verify against the old root (clients in the field hold it) and against itself.
  const source = { ...options, signers: [...(options.signers ?? []), ...generated] };
  const oldRoot = state.root.signed.roles.root;
  const newRoot = root.roles.root;
  if (oldRoot === undefined || newRoot === undefined) throw new RepoError('METADATA_CORRUPT', 'root.json has no root role');
  const rootSigners = new Map<string, Signer>();
  for (const s of await requireSigners(source, 'root', oldRoot.keyIDs, oldRoot.threshold, `${why} (signing with the current root key)`)) rootSigners.set(s.keyid, s);
  for (const s of await requireSigners(source, 'root', newRoot.keyIDs, newRoot.threshold, `${why} (signing with the new root key)`)) rootSigners.set(s.keyid, s);
  const signers: RoleSigners = { root: [...rootSigners.values()] };
  // A role whose keys changed must be re-signed with them, and so must the roles that list it.
  const resign: readonly RoleName[] = { root: [], targets: ['targets', 'snapshot', 'timestamp'], snapshot: ['snapshot', 'timestamp'], timestamp: ['timestamp'] }[role] as RoleName[];
  for (const r of resign) {
    const roleDef = root.roles[r];
    if (roleDef === undefined) continue;
    signers[r] = await requireSigners(source, r, roleDef.keyIDs, roleDef.threshold, `${why} (re-signing ${r})`);
  }
  const removed = current.keyIDs.filter((id) => !change.keyids.includes(id));
  const keysDir = options.keysDir;
  if (generated.length > 0) {
    if (keysDir === undefined) throw new RepoError('USAGE', `${why} makes new keys: give a keys folder (--keys-dir)`);
    checkKeysOutside(keysDir, options.repoDir);
  }
  const added: KeyInfo[] = [];
  let metadata: MetadataVersions;
  try {
    metadata = await withTransaction(options, async (tx) => {
      const result = await stageMetadata(
        tx,
        state,
        {
          root,
          ...(resign.includes('targets') ? { targets: true as const } : {}),
          snapshot: resign.includes('snapshot'),
          timestamp: resign.includes('timestamp'),
          now,
        },
        signers,
      );
      const passphrase = options.passphrase ?? (options.env ?? process.env)[PASSPHRASE_ENV];
      for (const key of change.newKeys) {
        const signer = new KeyObjectSigner(key);
        added.push({ role, keyid: signer.keyid, file: await writeKeyFile(keysDir ?? '', role, key, passphrase) });
      }
      return result;
    });
  } catch (error) {
    for (const key of added) await rm(key.file, { force: true });
    throw error;
  }
  options.logger?.info(`${why}: root is now version ${metadata.root}`);
  // Only after the new root is in place: a failed change must leave every key where it was.
  const listed = new Set(ROLES.flatMap((r) => root.roles[r]?.keyIDs ?? []));
  const retired = await deleteRetiredKeys(keysDir, removed.filter((id) => !listed.has(id)));
  for (const key of retired) {
    for (const file of key.deleted) options.logger?.info(`deleted the retired key file ${file}`);
    for (const { file, reason } of key.kept) options.logger?.warn(`could not delete the retired key file ${file} (${reason}): delete it yourself`);
  }
  return { role, added, removed, retired, keyids: change.keyids, threshold: change.threshold, metadata };
}

/** Options of {@link rotateKey}. */
export interface RotateOptions extends KeyCommandOptions {
  /** Replace only this key (ID or unique prefix); every key of the role when absent. */
  keyid?: string;
}

/** Replaces a role's key(s) with new ones and re-signs what they sign; for root, the chain continues. */
export async function rotateKey(options: RotateOptions): Promise<KeyChangeResult> {
  return changeRole(options, `rotating the ${options.role} key`, (state, current) => {
    const old = options.keyid === undefined ? current.keyids : [resolveKeyId(state, options.role, options.keyid)];
    const newKeys = old.map(() => generateKey());
    const newIds = newKeys.map((k) => tufKeyOf(k).keyID);
    return { keyids: [...current.keyids.filter((id) => !old.includes(id)), ...newIds], threshold: current.threshold, newKeys };
  });
}

/** Options of {@link addKey}. */
export interface AddKeyOptions extends KeyCommandOptions {
  /** A PEM (or base64 DER) public key held elsewhere (KMS, another maintainer); a new key pair is made when absent. */
  publicKeyPem?: string;
}

/** Adds a key to a role (the threshold stays). */
export async function addKey(options: AddKeyOptions): Promise<KeyChangeResult> {
  return changeRole(options, `adding a ${options.role} key`, (_state, current) => {
    if (options.publicKeyPem !== undefined) {
      // ed25519 or ECDSA P-256 (KMS keys); a private key given by mistake is refused, not silently reduced.
      const key = parsePublicKey(options.publicKeyPem, 'the public key');
      if (current.keyids.includes(key.keyID)) throw new RepoError('USAGE', `key ${key.keyID} is already a ${options.role} key`);
      return { keyids: [...current.keyids, key.keyID], threshold: current.threshold, newKeys: [], publicKeys: [key] };
    }
    const key = generateKey();
    return { keyids: [...current.keyids, tufKeyOf(key).keyID], threshold: current.threshold, newKeys: [key] };
  });
}

/** Options of {@link removeKey}. */
export interface RemoveKeyOptions extends KeyCommandOptions {
  /** The key's ID or a unique prefix of it (8+ characters). */
  keyid: string;
}

/** Removes a key from a role; THRESHOLD when fewer keys than the threshold would remain. */
export async function removeKey(options: RemoveKeyOptions): Promise<KeyChangeResult> {
  return changeRole(options, `removing a ${options.role} key`, (state, current) => {
    const id = resolveKeyId(state, options.role, options.keyid);
    return { keyids: current.keyids.filter((k) => k !== id), threshold: current.threshold, newKeys: [] };
  });
}

/** Options of {@link setThreshold}. */
export interface ThresholdOptions extends KeyCommandOptions {
  threshold: number;
}

/** Sets how many signatures a role needs (1 to its number of keys). */
export async function setThreshold(options: ThresholdOptions): Promise<KeyChangeResult> {
  checkPositive(options.threshold, 'the threshold');
  return changeRole(options, `setting the ${options.role} threshold`, (_state, current) => ({
    keyids: current.keyids,
    threshold: options.threshold,
    newKeys: [],
  }));
}

/** The key IDs of every role whose private key is at hand (for status output). */
export async function availableKeys(options: RepoOptions, state: RepoState): Promise<Record<RoleName, string[]>> {
  const result = {} as Record<RoleName, string[]>;
  for (const role of ROLES) {
    const ids = state.root.signed.roles[role]?.keyIDs ?? [];
    result[role] = await findSigners(options, role, ids).then(
      (s) => s.map((x) => x.keyid),
      () => [],
    );
  }
  return result;
}
