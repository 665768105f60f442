import { createHash, createPublicKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute, sep } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, Root, Signature, type Key } from '@tufjs/models';
import { messageOf, writeFileAtomic } from '@tufup/bundle';
import { checkPositive, ROLES, type RoleName } from './config.js';
import { fromBundleError, RepoError } from './error.js';
import { generateKey, requireSigners, writeKeyFile } from './keystore.js';
import { expiresIn, type JSONObject } from './metadata.js';
import { nextRoot, type RepoOptions } from './repository.js';
import { parsePublicKey, tufKeyOf, type Signer } from './signer.js';
import { loadRepository, stageMetadata, withTransaction, type MetadataVersions, type RoleSigners } from './store.js';

/**
 * The offline root ceremony: the next root is written unsigned to a file (`begin`), the file travels to
 * each root key holder, who adds one signature on their own machine (`sign`), and the repository
 * publishes it once the old root's threshold and the new root's threshold are both met (`publish`).
 * Clients trusting the old root then follow the chain to the new one.
 */

/** Default name of the ceremony file, in the repository folder (it holds no secret). */
export const CEREMONY_FILE = 'root.pending.json';

/** Format of the ceremony file. */
export const CEREMONY_FORMAT = 1;

/** The ceremony file: the root it follows, and the new root with the signatures collected so far. */
interface CeremonyJson {
  tufupRootCeremony: typeof CEREMONY_FORMAT;
  appName: string;
  /** The root metadata (signed + signatures) published when the ceremony began. */
  previous: JSONObject;
  /** The new root metadata: `signed` fixed at begin, `signatures` collected. */
  root: JSONObject;
}

/** One threshold the new root must meet: the old root's (clients in the field) or its own. */
export interface ThresholdStatus {
  /** `previous`: keys of the root being replaced; `new`: keys of the new root. */
  of: 'previous' | 'new';
  /** Version of the root whose root keys these are. */
  version: number;
  threshold: number;
  /** Key IDs whose valid signature is on the new root. */
  signed: string[];
  /** Key IDs of that root's root role that have not signed. */
  unsigned: string[];
  met: boolean;
}

/** What a ceremony file holds, for the people about to sign it. */
export interface CeremonyStatus {
  file: string;
  appName: string;
  /** Version of the new root, and of the root it replaces. */
  version: number;
  previousVersion: number;
  expires: string;
  /** sha256 of the canonical JSON of the new root's signed part: compare it aloud before signing. */
  fingerprint: string;
  /** What the new root changes, one line each. */
  changes: string[];
  thresholds: ThresholdStatus[];
  /** Signatures in the file that do not verify (changed after signing, or made for another root). */
  invalid: string[];
  /** Both thresholds are met: `publish` will accept it. */
  complete: boolean;
}

/** A key to add to a role, as a PEM (or base64 DER) public key. */
export interface NewKey {
  role: RoleName;
  publicKey: string;
  /** Where the key came from, for errors. */
  source?: string;
}

/** Options of {@link beginRootCeremony}. */
export interface BeginOptions extends RepoOptions {
  /** Where to write the ceremony file. @default `<repoDir>/root.pending.json` */
  file?: string;
  addKeys?: NewKey[];
  /** Keys to drop: full IDs or unique prefixes (8+ characters) of the role's keys. */
  removeKeys?: { role: RoleName; keyid: string }[];
  thresholds?: Partial<Record<RoleName, number>>;
  /** Days until the new root expires. @default the configured root expiry */
  expiresInDays?: number;
  /** Replace a ceremony file that is already there. @default false */
  force?: boolean;
}

/** The default ceremony file of a repository. */
export function ceremonyFileOf(repoDir: string): string {
  return join(repoDir, CEREMONY_FILE);
}

/**
 * Writes the next root (version + 1, new keys, thresholds, expiry), unsigned, to the ceremony file.
 * CEREMONY_PENDING when a ceremony file is already there (unless `force`).
 */
export async function beginRootCeremony(options: BeginOptions): Promise<CeremonyStatus> {
  const file = options.file ?? ceremonyFileOf(options.repoDir);
  if (options.expiresInDays !== undefined) checkPositive(options.expiresInDays, 'expires-in days', false);
  for (const [role, n] of Object.entries(options.thresholds ?? {})) checkPositive(n, `the ${role} threshold`);
  const state = await loadRepository(options.repoDir);
  if (options.force !== true && (await exists(file))) {
    const pending = await readCeremony(file).catch(() => undefined);
    const what = pending === undefined ? '' : ` for root v${pending.root.signed.version}`;
    throw new RepoError('CEREMONY_PENDING', `a root ceremony${what} is under way (${file}): publish it, or begin again with --force`);
  }
  const now = options.now ?? new Date();
  const added = (options.addKeys ?? []).map((k) => ({ role: k.role, key: parsePublicKey(k.publicKey, k.source ?? `the new ${k.role} key`) }));
  const root = nextRoot(state, expiresIn(options.expiresInDays ?? state.config.expiryDays.root, now), (json) => {
    const keys = { ...(json.keys as JSONObject) };
    const roles = structuredClone(json.roles as JSONObject) as Record<RoleName, { keyids: string[]; threshold: number }>;
    for (const { role, keyid } of options.removeKeys ?? []) {
      const id = resolveKeyId(roles[role].keyids, role, keyid);
      roles[role].keyids = roles[role].keyids.filter((k) => k !== id);
    }
    for (const { role, key } of added) {
      if (roles[role].keyids.includes(key.keyID)) throw new RepoError('USAGE', `key ${key.keyID} is already a ${role} key`);
      roles[role].keyids.push(key.keyID);
      keys[key.keyID] = key.toJSON();
    }
    for (const role of ROLES) {
      const threshold = options.thresholds?.[role];
      if (threshold !== undefined) roles[role].threshold = threshold;
      if (roles[role].keyids.length < roles[role].threshold) {
        throw new RepoError('THRESHOLD', `the ${role} role would have ${roles[role].keyids.length} key(s) for a threshold of ${roles[role].threshold}`);
      }
    }
    const used = new Set(ROLES.flatMap((r) => roles[r].keyids));
    json.keys = Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id)));
    json.roles = roles;
  });
  const ceremony: CeremonyJson = {
    tufupRootCeremony: CEREMONY_FORMAT,
    appName: state.config.appName,
    previous: state.root.toJSON(),
    root: new Metadata(root).toJSON(),
  };
  await writeCeremony(file, ceremony);
  options.logger?.info(`wrote root v${root.version} to ${file}: each root key holder now signs it with "tufup-repo root sign"`);
  return statusOf(file, parseCeremony(ceremony, file));
}

/** Options of {@link signRootCeremony}. */
export interface CeremonySignOptions {
  /** The ceremony file; signed in place unless `out` is given. */
  file: string;
  /** Where to write the signed file (to send back a copy). @default `file` */
  out?: string;
  /** The key(s) signing: each must be a root key of the previous or of the new root. */
  signers: readonly Signer[];
  now?: Date;
}

/**
 * Adds one signature per signer to the new root in the ceremony file (replacing an older one of the same
 * key). Works on any machine with the file: it needs no repository. BAD_KEY for a key that is a root key
 * of neither root; CEREMONY_INVALID for a malformed, inconsistent or expired ceremony.
 */
export async function signRootCeremony(options: CeremonySignOptions): Promise<CeremonyStatus> {
  if (options.signers.length === 0) throw new RepoError('USAGE', 'give the key to sign with (--key FILE or --signer-command CMD)');
  const now = options.now ?? new Date();
  const ceremony = await readCeremony(options.file);
  checkCurrent(ceremony, options.file, now);
  const rootKeys = new Set([...rootKeyIds(ceremony.previous.signed), ...rootKeyIds(ceremony.root.signed)]);
  const data = Buffer.from(canonicalize(ceremony.root.signed.toJSON()));
  const signatures: Record<string, Signature> = { ...ceremony.root.signatures };
  for (const signer of options.signers) {
    if (!rootKeys.has(signer.keyid)) {
      throw new RepoError('BAD_KEY', `key ${signer.keyid} is not a root key of root v${ceremony.previous.signed.version} or of the new root v${ceremony.root.signed.version}`);
    }
    const { keyid, sig } = await signer.sign(data, { role: 'root' });
    signatures[keyid] = new Signature({ keyID: keyid, sig });
    const signed = new Metadata(ceremony.root.signed, signatures);
    try {
      signer.publicKey.verifySignature(signed);
    } catch (cause) {
      throw new RepoError('BAD_KEY', `the signer for key ${signer.keyid} made a signature that does not verify`, { cause });
    }
  }
  const out = options.out ?? options.file;
  const json = ceremonyJson(ceremony, new Metadata(ceremony.root.signed, signatures));
  await writeCeremony(out, json);
  return statusOf(out, parseCeremony(json, out));
}

/** What a ceremony file holds and which signatures it still needs; reads only. */
export async function showRootCeremony(file: string): Promise<CeremonyStatus> {
  return statusOf(file, await readCeremony(file));
}

/** Options of {@link publishRootCeremony}. */
export interface CeremonyPublishOptions extends RepoOptions {
  /** Ceremony files whose signatures are merged (copies signed in parallel). @default [`<repoDir>/root.pending.json`] */
  files?: string[];
}

/** What {@link publishRootCeremony} published. */
export interface CeremonyPublishResult {
  status: CeremonyStatus;
  /** Roles re-signed because the new root changed their keys or threshold. */
  resigned: RoleName[];
  metadata: MetadataVersions;
}

/**
 * Publishes the new root of a ceremony as `N.root.json` and `root.json` when its signatures meet the old
 * root's threshold and its own; MISSING_SIGNATURES naming the key IDs still needed otherwise, and
 * CEREMONY_INVALID when the repository's root moved on since the ceremony began. Roles whose keys or
 * threshold changed are re-signed with their new keys. The ceremony file, when in the repository, goes.
 */
export async function publishRootCeremony(options: CeremonyPublishOptions): Promise<CeremonyPublishResult> {
  const files = options.files !== undefined && options.files.length > 0 ? options.files : [ceremonyFileOf(options.repoDir)];
  const now = options.now ?? new Date();
  const [first, ...rest] = await Promise.all(files.map((f) => readCeremony(f)));
  if (first === undefined) throw new RepoError('USAGE', 'no ceremony file given');
  const fingerprint = fingerprintOf(first.root.signed);
  const signatures: Record<string, Signature> = { ...first.root.signatures };
  for (const [i, other] of rest.entries()) {
    if (fingerprintOf(other.root.signed) !== fingerprint) {
      throw new RepoError('CEREMONY_INVALID', `${files[i + 1] ?? ''} holds another root than ${files[0] ?? ''} (fingerprints differ): only copies of one ceremony can be merged`);
    }
    for (const [id, sig] of Object.entries(other.root.signatures)) signatures[id] ??= sig;
  }
  const ceremony: Ceremony = { ...first, root: new Metadata(first.root.signed, signatures) };
  const file = files[0] ?? '';
  checkCurrent(ceremony, file, now);
  const state = await loadRepository(options.repoDir);
  if (state.config.appName !== ceremony.appName) {
    throw new RepoError('CEREMONY_INVALID', `${file} is a ceremony of ${ceremony.appName}, not of ${state.config.appName}`);
  }
  if (fingerprintOf(state.root.signed) !== fingerprintOf(ceremony.previous.signed)) {
    throw new RepoError(
      'CEREMONY_INVALID',
      `${file} began from root v${ceremony.previous.signed.version}, but the repository's root is now v${state.root.signed.version}: begin the ceremony again`,
    );
  }
  const status = statusOf(file, ceremony);
  if (!status.complete) throw new RepoError('MISSING_SIGNATURES', missingText(status));

  // Only signatures that count go out: a stray or broken one in the file would make clients' logs noisy.
  const valid = new Set(status.thresholds.flatMap((t) => t.signed));
  const keyOf = (id: string): Key | undefined => ceremony.root.signed.keys[id] ?? ceremony.previous.signed.keys[id];
  const rootSigners: Signer[] = [...valid].flatMap((id) => {
    const key = keyOf(id);
    const sig = signatures[id];
    return key === undefined || sig === undefined ? [] : [presigned(key, sig)];
  });
  const resigned = rolesToResign(ceremony.previous.signed, ceremony.root.signed);
  const signers: RoleSigners = { root: rootSigners };
  for (const role of resigned) {
    const def = ceremony.root.signed.roles[role];
    if (def === undefined) continue;
    signers[role] = await requireSigners(options, role, def.keyIDs, def.threshold, `publishing root v${status.version} (re-signing ${role} with its new keys)`);
  }
  // The ceremony is over: its files in the repository go (the default pending file too, when it is this
  // ceremony and copies signed elsewhere were published); copies elsewhere are their holders' business.
  const done = new Set(files.flatMap((f) => relativeInside(options.repoDir, f) ?? []));
  const pending = ceremonyFileOf(options.repoDir);
  const pendingNow = await readCeremony(pending).catch(() => undefined);
  if (pendingNow !== undefined && fingerprintOf(pendingNow.root.signed) === fingerprint) done.add(CEREMONY_FILE);
  const metadata = await withTransaction(options, async (tx) => {
    const versions = await stageMetadata(
      tx,
      state,
      {
        root: ceremony.root.signed,
        ...(resigned.includes('targets') ? { targets: true as const } : {}),
        snapshot: resigned.includes('snapshot'),
        timestamp: resigned.includes('timestamp'),
        now,
      },
      signers,
    );
    for (const rel of done) tx.delete(rel);
    return versions;
  });
  options.logger?.info(`published root v${metadata.root}`);
  return { status, resigned, metadata };
}

/** Options of {@link generateKeyFiles}. */
export interface KeygenOptions {
  /** Folder for the private key (`<role>.<keyid>.pem`, mode 600) and its public key (`<role>.<keyid>.pub`). */
  keysDir: string;
  role: RoleName;
  /** Encrypts the private key file. */
  passphrase?: string;
}

/** What {@link generateKeyFiles} wrote. */
export interface KeygenResult {
  role: RoleName;
  keyid: string;
  privateFile: string;
  /** The PEM public key: the file that travels to `root begin --add-key`. */
  publicFile: string;
}

/** Makes a new ed25519 key on this machine: the private key stays here, the public key travels. */
export async function generateKeyFiles(options: KeygenOptions): Promise<KeygenResult> {
  const key = generateKey();
  const tuf = tufKeyOf(key);
  const privateFile = await writeKeyFile(options.keysDir, options.role, key, options.passphrase);
  const publicFile = join(options.keysDir, `${options.role}.${tuf.keyID}.pub`);
  const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
  await writeFileAtomic(publicFile, [Buffer.from(pem)]).catch((e: unknown) => {
    throw fromBundleError(e);
  });
  return { role: options.role, keyid: tuf.keyID, privateFile, publicFile };
}

// ---------------------------------------------------------------------------------------------------

/** A parsed ceremony file. */
interface Ceremony {
  appName: string;
  previous: Metadata<Root>;
  root: Metadata<Root>;
}

function invalid(file: string, why: string, cause?: unknown): RepoError {
  return new RepoError('CEREMONY_INVALID', `${file} is not a usable root ceremony file: ${why}`, cause === undefined ? undefined : { cause });
}

async function readCeremony(file: string): Promise<Ceremony> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RepoError('CEREMONY_INVALID', `cannot read the root ceremony file ${file}; "tufup-repo root begin" writes it`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw invalid(file, 'it is not JSON', cause);
  }
  return parseCeremony(json, file);
}

function parseCeremony(json: unknown, file: string): Ceremony {
  const c = json as Partial<CeremonyJson> | null;
  if (c === null || typeof c !== 'object' || c.tufupRootCeremony !== CEREMONY_FORMAT || typeof c.appName !== 'string') {
    throw invalid(file, `it has no "tufupRootCeremony": ${CEREMONY_FORMAT} header`);
  }
  let previous: Metadata<Root>;
  let root: Metadata<Root>;
  try {
    previous = Metadata.fromJSON(MetadataKind.Root, c.previous as JSONObject);
    root = Metadata.fromJSON(MetadataKind.Root, c.root as JSONObject);
  } catch (cause) {
    throw invalid(file, `its roots are not valid root metadata: ${messageOf(cause)}`, cause);
  }
  if (root.signed.version !== previous.signed.version + 1) {
    throw invalid(file, `the new root is v${root.signed.version}, not the version after v${previous.signed.version}`);
  }
  return { appName: c.appName, previous, root };
}

function ceremonyJson(ceremony: Ceremony, root: Metadata<Root>): CeremonyJson {
  return { tufupRootCeremony: CEREMONY_FORMAT, appName: ceremony.appName, previous: ceremony.previous.toJSON(), root: root.toJSON() };
}

async function writeCeremony(file: string, json: CeremonyJson): Promise<void> {
  await writeFileAtomic(file, [Buffer.from(`${JSON.stringify(json, null, 2)}\n`)]).catch((e: unknown) => {
    throw fromBundleError(e);
  });
}

/** Refuses an expired ceremony: clients reject an expired root, so it must be begun again. */
function checkCurrent(ceremony: Ceremony, file: string, now: Date): void {
  if (ceremony.root.signed.isExpired(now)) {
    throw invalid(file, `the new root expired on ${ceremony.root.signed.expires}; begin the ceremony again`);
  }
}

function rootKeyIds(root: Root): string[] {
  return [...(root.roles.root?.keyIDs ?? [])];
}

function fingerprintOf(root: Root): string {
  return createHash('sha256').update(canonicalize(root.toJSON())).digest('hex');
}

/** Which root keys of `verifier` have a valid signature on `metadata`. */
function thresholdOf(of: ThresholdStatus['of'], verifier: Root, metadata: Metadata<Root>): ThresholdStatus {
  const role = verifier.roles.root;
  const signed: string[] = [];
  const unsigned: string[] = [];
  for (const id of role?.keyIDs ?? []) {
    const key = verifier.keys[id];
    let ok = false;
    if (key !== undefined && metadata.signatures[id] !== undefined) {
      try {
        key.verifySignature(metadata);
        ok = true;
      } catch {
        ok = false;
      }
    }
    (ok ? signed : unsigned).push(id);
  }
  const threshold = role?.threshold ?? 1;
  return { of, version: verifier.version, threshold, signed, unsigned, met: signed.length >= threshold };
}

function statusOf(file: string, ceremony: Ceremony): CeremonyStatus {
  const { previous, root } = ceremony;
  const thresholds = [thresholdOf('previous', previous.signed, root), thresholdOf('new', root.signed, root)];
  const counted = new Set(thresholds.flatMap((t) => t.signed));
  const known = new Set([...rootKeyIds(previous.signed), ...rootKeyIds(root.signed)]);
  const invalidSigs = Object.keys(root.signatures).filter((id) => !counted.has(id));
  return {
    file,
    appName: ceremony.appName,
    version: root.signed.version,
    previousVersion: previous.signed.version,
    expires: root.signed.expires,
    fingerprint: fingerprintOf(root.signed),
    changes: changesOf(previous.signed, root.signed),
    thresholds,
    invalid: invalidSigs.map((id) => (known.has(id) ? id : `${id} (not a root key)`)),
    complete: thresholds.every((t) => t.met),
  };
}

/** Human lines: keys added and removed per role, thresholds and expiry that changed. */
function changesOf(before: Root, after: Root): string[] {
  const lines: string[] = [];
  for (const role of ROLES) {
    const a = before.roles[role];
    const b = after.roles[role];
    for (const id of b?.keyIDs ?? []) {
      if (!(a?.keyIDs ?? []).includes(id)) lines.push(`${role}: adds key ${id} (${after.keys[id]?.keyType ?? '?'})`);
    }
    for (const id of a?.keyIDs ?? []) if (!(b?.keyIDs ?? []).includes(id)) lines.push(`${role}: removes key ${id}`);
    if (a?.threshold !== b?.threshold) lines.push(`${role}: threshold ${String(a?.threshold)} -> ${String(b?.threshold)}`);
  }
  lines.push(`expires ${after.expires} (was ${before.expires})`);
  return lines;
}

/** The message of MISSING_SIGNATURES: per unmet threshold, how many more and from which key IDs. */
export function missingText(status: CeremonyStatus): string {
  const parts = status.thresholds
    .filter((t) => !t.met)
    .map((t) => {
      const need = t.threshold - t.signed.length;
      const whose = t.of === 'previous' ? `the current root v${t.version}'s root keys (the threshold clients in the field check)` : `the new root v${t.version}'s own root keys`;
      return `${need} more signature(s) of ${whose}, ${t.signed.length} of ${t.threshold} so far; not yet signed: ${t.unsigned.join(', ')}`;
    });
  const bad = status.invalid.length === 0 ? '' : `; signatures that do not verify (not counted): ${status.invalid.join(', ')}`;
  return `root v${status.version} cannot be published yet: it needs ${parts.join(', and ')}${bad}`;
}

/** Roles whose keys or threshold differ between two roots, with the roles that list their metadata. */
function rolesToResign(before: Root, after: Root): RoleName[] {
  const differs = (role: RoleName): boolean => {
    const a = before.roles[role];
    const b = after.roles[role];
    return a?.threshold !== b?.threshold || [...(a?.keyIDs ?? [])].sort().join() !== [...(b?.keyIDs ?? [])].sort().join();
  };
  if (differs('targets')) return ['targets', 'snapshot', 'timestamp'];
  if (differs('snapshot')) return ['snapshot', 'timestamp'];
  if (differs('timestamp')) return ['timestamp'];
  return [];
}

/** A signer that hands back a signature collected during the ceremony. */
function presigned(key: Key, signature: Signature): Signer {
  return { keyid: key.keyID, publicKey: key, sign: () => Promise.resolve({ keyid: key.keyID, sig: signature.sig }) };
}

function resolveKeyId(ids: readonly string[], role: RoleName, keyid: string): string {
  const matches = keyid.length >= 8 ? ids.filter((id) => id.startsWith(keyid)) : ids.filter((id) => id === keyid);
  const [match] = matches;
  if (matches.length !== 1 || match === undefined) throw new RepoError('USAGE', `${keyid} does not name exactly one ${role} key; see "tufup-repo status"`);
  return match;
}

/** `file` relative to the repository (`/`-separated) when it lies inside it. */
function relativeInside(repoDir: string, file: string): string | undefined {
  const rel = relative(resolve(repoDir), resolve(file));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

