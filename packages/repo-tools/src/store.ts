import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { acquireLock, BundleError, messageOf, serializeTrustFile, TRUST_FILE, useLinearTargetsCodec } from '@tufup/bundle';
import { CONFIG_FILE, METADATA_DIR, readConfig, serializeConfig, type Logger, type RepoConfig, type RoleName } from './config.js';
import { dropJournal, makeFolders, missingFolders, moveIn, recoverInterrupted, rollBack, rollForward, scratchPrefix, writeJournal, type CommitJournal, type JournalEntry } from './journal.js';
import { fromBundleError, ioError, RepoError } from './error.js';
import { metadataFileName, metaFileOf, nextVersion, parseMetadata, serializeMetadata, signMetadata, expiresIn, type AnySigned } from './metadata.js';
import type { Signer } from './signer.js';

/** A repository as read from disk, every file checked against the signatures root.json requires. */
export interface RepoState {
  repoDir: string;
  config: RepoConfig;
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
}

async function readMetadataFile(repoDir: string, name: string): Promise<Buffer> {
  const path = join(repoDir, METADATA_DIR, name);
  try {
    return await readFile(path);
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${path} is missing or unreadable`, { cause });
  }
}

function checkSigned(root: Metadata<Root>, role: RoleName, metadata: Metadata<AnySigned>, file: string): void {
  try {
    root.verifyDelegate(role, metadata);
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${file} is not signed by enough ${role} keys of root.json: ${messageOf(cause)}`, { cause });
  }
}

/**
 * Reads the repository the way a client would: root, then timestamp, then the snapshot and targets
 * versions they name, checking signatures and the hashes each file records of the next.
 */
export async function loadRepository(repoDir: string): Promise<RepoState> {
  // Every command starts here: @tufjs/models' own targets conversion is quadratic in the number of targets.
  useLinearTargetsCodec();
  const config = await readConfig(repoDir);
  const rootBytes = await readMetadataFile(repoDir, 'root.json');
  const root = parseMetadata('root', rootBytes, 'root.json');
  checkSigned(root, 'root', root, 'root.json');
  const versioned = await readMetadataFile(repoDir, metadataFileName('root', root.signed.version));
  if (!versioned.equals(rootBytes)) {
    throw new RepoError('METADATA_CORRUPT', `root.json differs from ${metadataFileName('root', root.signed.version)}`);
  }
  const timestampBytes = await readMetadataFile(repoDir, 'timestamp.json');
  const timestamp = parseMetadata('timestamp', timestampBytes, 'timestamp.json');
  checkSigned(root, 'timestamp', timestamp, 'timestamp.json');
  const snapshotName = metadataFileName('snapshot', timestamp.signed.snapshotMeta.version);
  const snapshotBytes = await readMetadataFile(repoDir, snapshotName);
  verifyMetaFile(timestamp.signed.snapshotMeta, snapshotBytes, snapshotName);
  const snapshot = parseMetadata('snapshot', snapshotBytes, snapshotName);
  checkSigned(root, 'snapshot', snapshot, snapshotName);
  const targetsMeta = snapshot.signed.meta['targets.json'];
  if (targetsMeta === undefined) throw new RepoError('METADATA_CORRUPT', `${snapshotName} does not list targets.json`);
  const targetsName = metadataFileName('targets', targetsMeta.version);
  const targetsBytes = await readMetadataFile(repoDir, targetsName);
  verifyMetaFile(targetsMeta, targetsBytes, targetsName);
  const targets = parseMetadata('targets', targetsBytes, targetsName);
  checkSigned(root, 'targets', targets, targetsName);
  const state: RepoState = { repoDir, config, root, targets, snapshot, timestamp };
  readFrom.set(state, { root: rootBytes, timestamp: timestampBytes });
  return state;
}

/**
 * The root.json and timestamp.json each loaded state was read from (together they pin every other file).
 * Commands load the repository before they take its lock, so a change is staged only after checking,
 * holding the lock, that no other command committed in between (its change would be lost) and that no
 * half-done commit of a killed command was undone under the state.
 */
const readFrom = new WeakMap<RepoState, { root: Buffer; timestamp: Buffer }>();

async function checkCurrent(state: RepoState): Promise<void> {
  const seen = readFrom.get(state);
  if (seen === undefined) return;
  const [root, timestamp] = await Promise.all([readMetadataFile(state.repoDir, 'root.json'), readMetadataFile(state.repoDir, 'timestamp.json')]);
  if (!root.equals(seen.root) || !timestamp.equals(seen.timestamp)) {
    throw new RepoError('REPO_BUSY', `${state.repoDir} changed while this command was working on it (another tufup-repo command committed first); nothing was written: run it again`);
  }
}

function verifyMetaFile(meta: { verify(data: Buffer): void }, bytes: Buffer, name: string): void {
  try {
    meta.verify(bytes);
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${name} does not match the length or hash recorded for it`, { cause });
  }
}

/**
 * All changes of one command, staged in a temporary folder next to the repository (same volume, so
 * moving them in is a rename) and moved in by {@link Transaction.commit}: targets first, then
 * versioned metadata, root.json, the config and the trust file, timestamp.json last, then deletions. A failure before
 * or during the commit leaves the repository as it was; so does a command killed in the middle of its
 * commit, once the next command has read the commit journal it left (src/journal.ts). Durable in that
 * order: each file is fsynced before its rename and its folder after it, before the next file moves, so
 * after a power cut timestamp.json never names metadata or targets that did not reach the disk.
 */
export class Transaction {
  private readonly staged = new Map<string, string>();
  private readonly deletions = new Set<string>();
  private counter = 0;
  /** Set when a failed commit could not be undone either: the scratch folder keeps its journal for the next command. */
  private unfinished = false;

  private constructor(
    readonly repoDir: string,
    /** Scratch space for the command, removed by dispose(). */
    readonly tmpDir: string,
    private readonly release: () => Promise<void>,
  ) {}

  /**
   * Takes the repository's lock and makes the scratch folder. REPO_BUSY when another command holds the
   * lock; a lock left by a command that died on this machine is broken (with a warning), and what that
   * command left half done is undone first (see src/journal.ts).
   */
  static async begin(target: TransactionTarget): Promise<Transaction> {
    const { repoDir, logger } = target;
    const dir = resolve(repoDir);
    const parent = dirname(dir);
    const lockPath = join(parent, `.${basename(dir)}.tufup-lock`);
    let release: () => Promise<void>;
    try {
      await mkdir(parent, { recursive: true });
      release = await acquireLock(lockPath, { what: `the repository ${repoDir}`, holderIs: 'another tufup-repo command', logger });
    } catch (cause) {
      if (cause instanceof BundleError && cause.code === 'BUSY') throw new RepoError('REPO_BUSY', cause.message, { cause });
      throw ioError(`could not lock ${repoDir}`, cause);
    }
    const tmpDir = join(parent, `${scratchPrefix(dir)}${randomBytes(6).toString('hex')}`);
    try {
      await recoverInterrupted(dir, logger);
      await mkdir(join(tmpDir, 'files'), { recursive: true });
    } catch (cause) {
      await release().catch(() => undefined);
      throw ioError(`could not make a temporary folder next to ${repoDir}`, cause);
    }
    return new Transaction(dir, tmpDir, release);
  }

  /** A fresh scratch path for a file the command builds before deciding where it goes. */
  scratch(name: string): string {
    return join(this.tmpDir, `${this.counter++}-${name}`);
  }

  /** Stages `data` to appear at `relPath` (`/`-separated, relative to the repository) on commit. */
  async put(relPath: string, data: Buffer): Promise<void> {
    const path = this.scratch(basename(relPath));
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(data);
        // On disk before the rename that publishes it, so a power cut cannot leave an empty file.
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw ioError(`could not stage ${relPath}`, cause);
    }
    this.staged.set(relPath, path);
  }

  /** Stages a file already built in scratch space to appear at `relPath` on commit. */
  putFile(relPath: string, scratchPath: string): void {
    this.staged.set(relPath, scratchPath);
  }

  /** Deletes `relPath` after everything else is committed. */
  delete(relPath: string): void {
    this.deletions.add(relPath);
  }

  async commit(): Promise<void> {
    const rank = (p: string): number => {
      if (p === `${METADATA_DIR}/timestamp.json`) return 5;
      if (p === CONFIG_FILE || p === TRUST_FILE) return 4;
      if (p === `${METADATA_DIR}/root.json`) return 3;
      if (p.startsWith(`${METADATA_DIR}/`)) return 2;
      return 1;
    };
    const order = [...this.staged.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    let journal: CommitJournal;
    try {
      const entries: JournalEntry[] = [];
      for (const path of order) {
        const dest = join(this.repoDir, ...path.split('/'));
        const entry: JournalEntry = { path, scratch: relative(this.tmpDir, this.staged.get(path) ?? '') };
        if (await exists(dest)) {
          // The file it replaces stays reachable until the commit is complete, to be put back if it is not.
          const backup = this.scratch(`backup-${basename(path)}`);
          await link(dest, backup);
          entry.backup = relative(this.tmpDir, backup);
        }
        entries.push(entry);
      }
      journal = { entries, folders: await missingFolders(this.repoDir, order), deletions: [...this.deletions] };
      await writeJournal(this.tmpDir, journal);
    } catch (cause) {
      throw ioError(`could not update ${this.repoDir} (it was left as it was)`, cause);
    }
    try {
      await makeFolders(this.repoDir, journal);
      for (const entry of journal.entries) await moveIn(this.repoDir, this.tmpDir, entry);
    } catch (cause) {
      try {
        await rollBack(this.repoDir, this.tmpDir, journal);
        await dropJournal(this.tmpDir);
      } catch {
        this.unfinished = true;
        throw ioError(`could not update ${this.repoDir}, nor undo the part done: the next tufup-repo command on it will`, cause);
      }
      throw ioError(`could not update ${this.repoDir} (it was left as it was)`, cause);
    }
    // The new metadata no longer names these files, so from here on a failure only leaves litter.
    await rollForward(this.repoDir, journal);
    await dropJournal(this.tmpDir).catch(() => undefined);
  }

  /** Removes scratch space and the lock; call in `finally`. */
  async dispose(): Promise<void> {
    try {
      if (!this.unfinished) await rm(this.tmpDir, { recursive: true, force: true });
    } catch (cause) {
      throw ioError(`could not remove ${this.tmpDir}`, cause);
    } finally {
      // Also when the scratch space stays: a lock left behind would make every later command REPO_BUSY.
      await this.release().catch(() => undefined);
    }
  }
}

/** The repository a transaction works on, and where it says what it recovered. */
export interface TransactionTarget {
  repoDir: string;
  logger?: Logger | undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `work` inside a transaction and commits it; on any error nothing in the repository changes. */
export async function withTransaction<T>(target: TransactionTarget, work: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = await Transaction.begin(target);
  let result: T;
  try {
    result = await work(tx);
    await tx.commit();
  } catch (error) {
    // Why the command failed is what the user acts on; a clean-up failing too (a disk gone read-only) must not hide it.
    await tx.dispose().catch(() => undefined);
    throw error;
  }
  await tx.dispose();
  return result;
}

/** The signers for each role whose metadata a command re-signs. */
export type RoleSigners = Partial<Record<RoleName, readonly Signer[]>>;

/** What a command changes in the metadata; every later role in the chain is re-signed with it. */
export interface MetadataChange {
  /** The new root (already at its new version); signed by `signers.root`. */
  root?: Root;
  /** New targets content, or true to re-sign the current targets with a fresh expiry. */
  targets?: Targets | true;
  /** Re-sign snapshot (implied by a targets change). */
  snapshot?: boolean;
  /** Re-sign timestamp (implied by a targets or snapshot change; a root change alone does not need it). */
  timestamp?: boolean;
  /** Expiry days per role, for this command only. */
  expiryDays?: Partial<Record<RoleName, number>>;
  now?: Date;
}

/** Metadata versions a command wrote. */
export interface MetadataVersions {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

/**
 * Builds, signs and stages the next metadata after a change: targets -> snapshot -> timestamp, each
 * with the next version and a fresh expiry; a new root as `N.root.json` and `root.json`.
 */
export async function stageMetadata(tx: Transaction, state: RepoState, change: MetadataChange, signers: RoleSigners): Promise<MetadataVersions> {
  await checkCurrent(state);
  const days = { ...state.config.expiryDays, ...change.expiryDays };
  const now = change.now ?? new Date();
  const need = (role: RoleName): readonly Signer[] => {
    const list = signers[role];
    if (list === undefined || list.length === 0) throw new RepoError('MISSING_KEY', `no ${role} signer was given`);
    return list;
  };
  const versions: MetadataVersions = {
    root: state.root.signed.version,
    targets: state.targets.signed.version,
    snapshot: state.snapshot.signed.version,
    timestamp: state.timestamp.signed.version,
  };
  if (change.root !== undefined) {
    const root = await signMetadata(new Metadata(change.root), need('root'));
    const bytes = serializeMetadata(root);
    await tx.put(`${METADATA_DIR}/${metadataFileName('root', root.signed.version)}`, bytes);
    await tx.put(`${METADATA_DIR}/root.json`, bytes);
    versions.root = root.signed.version;
    const config: RepoConfig = { ...state.config, roles: rolesOf(change.root) };
    await tx.put(CONFIG_FILE, serializeConfig(config));
    // Apps built from now on ship the new root; in the same transaction, so the two never disagree.
    await tx.put(TRUST_FILE, trustFileBytes(config, bytes));
  }
  let snapshotSigned: Snapshot | undefined;
  if (change.targets !== undefined) {
    const base = change.targets === true ? state.targets.signed : change.targets;
    const targets = await signMetadata(
      new Metadata(nextVersion(base, expiresIn(days.targets, now), (json) => (json.version = state.targets.signed.version + 1))),
      need('targets'),
    );
    const bytes = serializeMetadata(targets);
    await tx.put(`${METADATA_DIR}/${metadataFileName('targets', targets.signed.version)}`, bytes);
    versions.targets = targets.signed.version;
    snapshotSigned = nextVersion(state.snapshot.signed, expiresIn(days.snapshot, now), (json) => {
      json.meta = { 'targets.json': metaFileOf(targets.signed.version, bytes).toJSON() };
    });
  } else if (change.snapshot === true) {
    snapshotSigned = nextVersion(state.snapshot.signed, expiresIn(days.snapshot, now));
  }
  let snapshotMeta = state.timestamp.signed.snapshotMeta;
  if (snapshotSigned !== undefined) {
    const snapshot = await signMetadata(new Metadata(snapshotSigned), need('snapshot'));
    const bytes = serializeMetadata(snapshot);
    await tx.put(`${METADATA_DIR}/${metadataFileName('snapshot', snapshot.signed.version)}`, bytes);
    versions.snapshot = snapshot.signed.version;
    snapshotMeta = metaFileOf(snapshot.signed.version, bytes);
  }
  if (snapshotSigned !== undefined || change.timestamp === true) {
    const timestampSigned = nextVersion(state.timestamp.signed, expiresIn(days.timestamp, now), (json) => {
      json.meta = { 'snapshot.json': snapshotMeta.toJSON() };
    });
    const timestamp = await signMetadata(new Metadata(timestampSigned), need('timestamp'));
    await tx.put(`${METADATA_DIR}/timestamp.json`, serializeMetadata(timestamp));
    versions.timestamp = timestamp.signed.version;
  }
  return versions;
}

/** The trust file (`tufup.json`) for a root.json of this repository: app name, URL and root, as apps ship it. */
export function trustFileBytes(config: RepoConfig, rootBytes: Uint8Array, url = config.url): Buffer {
  try {
    return serializeTrustFile({ appName: config.appName, root: rootBytes, ...(url === undefined ? {} : { url }) });
  } catch (error) {
    throw fromBundleError(error);
  }
}

/** The roles' key IDs and thresholds of a root, as the config file mirrors them. */
export function rolesOf(root: Root): RepoConfig['roles'] {
  const role = (name: RoleName): { keyids: string[]; threshold: number } => {
    const r = root.roles[name];
    return { keyids: [...(r?.keyIDs ?? [])], threshold: r?.threshold ?? 1 };
  };
  return { root: role('root'), targets: role('targets'), snapshot: role('snapshot'), timestamp: role('timestamp') };
}
