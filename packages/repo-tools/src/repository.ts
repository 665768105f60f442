import { readdir, rm } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { Root, Snapshot, Targets, Timestamp, MetaFile, Metadata } from '@tufjs/models';
import { checkName, messageOf } from '@tufup/bundle';
import {
  checkPositive,
  checkRepoUrl,
  CONFIG_FILE,
  DEFAULT_KEY_COUNTS,
  DEFAULT_THRESHOLDS,
  expiryDaysOf,
  ROLES,
  serializeConfig,
  type Logger,
  type RepoConfig,
  type RoleName,
} from './config.js';
import { fromBundleError, RepoError } from './error.js';
import { checkKeysOutside, generateKey, requireSigners, writeKeyFile, type KeySource } from './keystore.js';
import { expiresIn, SPEC_VERSION, type JSONObject } from './metadata.js';
import { KeyObjectSigner, type Signer } from './signer.js';
import { loadRepository, rolesOf, stageMetadata, withTransaction, type MetadataVersions, type RepoState, type RoleSigners } from './store.js';

/** Options every command on an existing repository takes. */
export interface RepoOptions extends KeySource {
  /** The repository folder (holds tufup-repo.json, metadata/ and targets/). */
  repoDir: string;
  /** Progress messages; silent when absent. */
  logger?: Logger;
  /** The clock, for expiry dates. @default new Date() */
  now?: Date;
}

/** Options of {@link initRepository}. */
export interface InitOptions extends RepoOptions {
  /** Where the new private keys are written; must lie outside `repoDir`. */
  keysDir: string;
  /** The app's name, as in archive names (`[A-Za-z0-9_-]+`). */
  appName: string;
  /** Base URL the repository will be served from; recorded in the config and the trust file apps ship. */
  url?: string;
  /** Days until each role's metadata expires. @default DEFAULT_EXPIRY_DAYS (root 365, targets 90, snapshot 30, timestamp 7) */
  expiryDays?: Partial<Record<RoleName, number>>;
  /** Signatures each role needs. @default 1 per role */
  thresholds?: Partial<Record<RoleName, number>>;
  /** Keys made per role. @default the role's threshold */
  keyCounts?: Partial<Record<RoleName, number>>;
  /** Encrypts the new key files (PKCS#8, AES-256-CBC); unencrypted when absent. */
  passphrase?: string;
}

/** One private key written by a command. */
export interface KeyInfo {
  role: RoleName;
  keyid: string;
  /** The PEM file, in the keys folder. */
  file: string;
}

/** What {@link initRepository} made. */
export interface InitResult {
  repoDir: string;
  appName: string;
  keys: KeyInfo[];
  metadata: MetadataVersions;
}

/** Creates keys, config and signed metadata of a new, empty repository; REPO_EXISTS when there is one. */
export async function initRepository(options: InitOptions): Promise<InitResult> {
  const { repoDir, keysDir } = options;
  try {
    checkName(options.appName);
  } catch (error) {
    throw fromBundleError(error);
  }
  checkKeysOutside(keysDir, repoDir);
  if (options.url !== undefined) checkRepoUrl(options.url);
  const expiryDays = expiryDaysOf(options.expiryDays);
  const thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const counts = Object.fromEntries(
    ROLES.map((role) => [role, options.keyCounts?.[role] ?? (options.thresholds?.[role] ?? DEFAULT_KEY_COUNTS[role])]),
  ) as Record<RoleName, number>;
  for (const role of ROLES) {
    checkPositive(thresholds[role], `the ${role} threshold`);
    checkPositive(counts[role], `the number of ${role} keys`);
    if (counts[role] < thresholds[role]) {
      throw new RepoError('THRESHOLD', `the ${role} threshold ${thresholds[role]} is more than its ${counts[role]} key(s)`);
    }
  }
  const existing: string[] = await readdir(repoDir).catch(() => []);
  if (existing.length > 0) {
    const what = existing.includes(CONFIG_FILE) ? 'a tufup repository' : 'files';
    throw new RepoError('REPO_EXISTS', `${repoDir} already holds ${what}; init refuses to overwrite it`);
  }

  const now = options.now ?? new Date();
  const keys = Object.fromEntries(ROLES.map((role) => [role, Array.from({ length: counts[role] }, () => generateKey())])) as Record<
    RoleName,
    ReturnType<typeof generateKey>[]
  >;
  const signers = Object.fromEntries(ROLES.map((role) => [role, keys[role].map((k): Signer => new KeyObjectSigner(k))])) as Record<RoleName, Signer[]>;
  const rootJson: JSONObject = {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresIn(expiryDays.root, now),
    consistent_snapshot: true,
    keys: Object.fromEntries(ROLES.flatMap((role) => signers[role].map((s) => [s.keyid, s.publicKey.toJSON()]))),
    roles: Object.fromEntries(ROLES.map((role) => [role, { keyids: signers[role].map((s) => s.keyid), threshold: thresholds[role] }])),
  };
  const root = Root.fromJSON(rootJson);
  const config: RepoConfig = {
    schema: 1,
    appName: options.appName,
    ...(options.url === undefined ? {} : { url: options.url }),
    keysDir: relative(resolve(repoDir), resolve(keysDir)),
    expiryDays,
    roles: rolesOf(root),
  };
  // Version-0 placeholders: stageMetadata writes their successors, version 1 of each role.
  const zero = { version: 0, specVersion: SPEC_VERSION, expires: expiresIn(0, now) };
  const state: RepoState = {
    repoDir,
    config,
    root: new Metadata(root),
    targets: new Metadata(new Targets(zero)),
    snapshot: new Metadata(new Snapshot({ ...zero, meta: {} })),
    timestamp: new Metadata(new Timestamp({ ...zero, snapshotMeta: new MetaFile({ version: 1 }) })),
  };
  const written: KeyInfo[] = [];
  try {
    return await withTransaction({ repoDir, logger: options.logger }, async (tx) => {
      await tx.put(CONFIG_FILE, serializeConfig(config));
      const metadata = await stageMetadata(tx, state, { root, targets: new Targets(zero), now }, signers);
      for (const role of ROLES) {
        for (const key of keys[role]) {
          const signer = new KeyObjectSigner(key);
          written.push({ role, keyid: signer.keyid, file: await writeKeyFile(keysDir, role, key, options.passphrase) });
        }
      }
      options.logger?.info(`created ${written.length} keys in ${keysDir} and a repository for ${options.appName} in ${repoDir}`);
      return { repoDir, appName: options.appName, keys: written, metadata };
    });
  } catch (error) {
    // Keys of a repository that never came to be are useless; leave no stray private keys behind.
    for (const key of written) {
      await rm(key.file, { force: true }).catch((cause: unknown) => {
        // Why init failed is what the user acts on; the key files left are named so they can be deleted by hand.
        options.logger?.warn(`could not remove ${key.file}, a key of the repository that was not made: ${messageOf(cause)}`);
      });
    }
    throw error;
  }
}

/** Options of {@link signRepository}. */
export interface SignOptions extends RepoOptions {
  /** Roles to re-sign; later roles in root -> targets -> snapshot -> timestamp follow. @default ['timestamp'] */
  roles?: RoleName[];
  /** Days until the named roles expire, instead of the configured ones. */
  expiresInDays?: number;
}

/** What {@link signRepository} re-signed. */
export interface SignResult {
  roles: RoleName[];
  metadata: MetadataVersions;
  expires: Record<RoleName, string>;
}

/** Re-signs roles with fresh expiry dates (a CI cron keeps timestamp.json fresh this way). */
export async function signRepository(options: SignOptions): Promise<SignResult> {
  const roles = new Set(options.roles ?? ['timestamp']);
  if (roles.size === 0) roles.add('timestamp');
  if (options.expiresInDays !== undefined) checkPositive(options.expiresInDays, 'expires-in days', false);
  const state = await loadRepository(options.repoDir);
  if (roles.has('targets')) roles.add('snapshot');
  if (roles.has('snapshot') || roles.has('root')) roles.add('timestamp');
  const ordered = ROLES.filter((r) => roles.has(r));
  const signers = await signersFor(options, state, ordered, `re-signing ${ordered.join(', ')}`);
  const expiryDays: Partial<Record<RoleName, number>> = {};
  if (options.expiresInDays !== undefined) for (const role of options.roles ?? ['timestamp']) expiryDays[role] = options.expiresInDays;
  const now = options.now ?? new Date();
  const root = roles.has('root') ? nextRoot(state, expiresIn(expiryDays.root ?? state.config.expiryDays.root, now)) : undefined;
  const metadata = await withTransaction(options, (tx) =>
    stageMetadata(
      tx,
      state,
      { ...(root === undefined ? {} : { root }), ...(roles.has('targets') ? { targets: true as const } : {}), snapshot: roles.has('snapshot'), timestamp: true, expiryDays, now },
      signers,
    ),
  );
  const after = await loadRepository(options.repoDir);
  options.logger?.info(`re-signed ${ordered.join(', ')}`);
  return { roles: ordered, metadata, expires: expiriesOf(after) };
}

/** The next root version with the same keys and a new expiry. */
export function nextRoot(state: RepoState, expires: string, edit?: (json: JSONObject) => void): Root {
  const json = state.root.signed.toJSON();
  json.version = state.root.signed.version + 1;
  json.expires = expires;
  edit?.(json);
  try {
    return Root.fromJSON(json);
  } catch (cause) {
    throw new RepoError('THRESHOLD', `the new root would be invalid: ${messageOf(cause)}`, { cause });
  }
}

/** Loads the signers of each role, failing with MISSING_KEY before anything is written. */
export async function signersFor(source: KeySource, state: RepoState, roles: readonly RoleName[], why: string): Promise<RoleSigners> {
  const result: RoleSigners = {};
  for (const role of roles) {
    const r = state.root.signed.roles[role];
    if (r === undefined) throw new RepoError('METADATA_CORRUPT', `root.json has no ${role} role`);
    result[role] = await requireSigners(source, role, r.keyIDs, r.threshold, why);
  }
  return result;
}

/** Each role's expiry date. */
export function expiriesOf(state: RepoState): Record<RoleName, string> {
  return {
    root: state.root.signed.expires,
    targets: state.targets.signed.expires,
    snapshot: state.snapshot.signed.expires,
    timestamp: state.timestamp.signed.expires,
  };
}
