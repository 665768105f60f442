import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TargetFile, Targets } from '@tufjs/models';
import {
  BundleError,
  compareVersions,
  createArchive,
  createPatchFile,
  CUSTOM_SCHEMA,
  digestBuffer,
  FULL_ROLLOUT,
  gunzipFile,
  isSystemError,
  messageOf,
  parseTargetCustom,
  parseVersion,
  platformKey,
  sameDigest,
  serializeEntryList,
  targetPath,
  type Digest,
  type PatchOptions,
  type TargetCustom,
  type TargetKind,
} from '@tufup/bundle';
import { checkPositive, TARGETS_DIR, type Logger } from './config.js';
import { fromBundleError, RepoError } from './error.js';
import { signersFor, type RepoOptions } from './repository.js';
import { loadRepository, stageMetadata, withTransaction, type MetadataVersions, type RepoState } from './store.js';
import type { JSONObject } from './metadata.js';

type JSONValue = NonNullable<ConstructorParameters<typeof TargetFile>[0]['unrecognizedFields']>[string];

/** One update file in the repository. */
export interface TargetEntry {
  /** The TUF target path (`linux-x64/app-1.2.0.tar.gz`): what clients ask for. */
  path: string;
  /** Where the file lies, relative to the repository (`targets/linux-x64/<sha256>.app-1.2.0.tar.gz`). */
  file: string;
  size: number;
  sha256: string;
  custom: TargetCustom;
}

/**
 * One version of one platform/arch: its archive, unless it was the first its patch, and (when published
 * by this version of repo-tools or later) its entry list.
 */
export interface ReleaseEntry {
  version: string;
  platform: string;
  arch: string;
  archive?: TargetEntry;
  patch?: TargetEntry;
  /** The archive's entry list, for clients whose install folder holds files the archive did not. */
  entries?: TargetEntry;
}

/** The file path of a target under consistent snapshots: the hash prefixes the base name. */
export function targetFile(path: string, sha256: string): string {
  const slash = path.lastIndexOf('/');
  return `${TARGETS_DIR}/${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`;
}

/** Every tufup target of the repository by platform key (`linux-x64`), oldest version first. */
export function releasesOf(state: RepoState): Map<string, ReleaseEntry[]> {
  const byKey = new Map<string, Map<string, ReleaseEntry>>();
  for (const [path, info] of Object.entries(state.targets.signed.targets)) {
    let custom: TargetCustom;
    try {
      custom = parseTargetCustom(info.custom, path);
    } catch (cause) {
      throw new RepoError('METADATA_CORRUPT', messageOf(cause), { cause });
    }
    const { platform, arch, version, kind } = custom.tufup;
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined) throw new RepoError('METADATA_CORRUPT', `target ${path} has no sha256 hash`);
    const key = platformKey(platform, arch);
    const versions = byKey.get(key) ?? new Map<string, ReleaseEntry>();
    byKey.set(key, versions);
    const release = versions.get(version) ?? { version, platform, arch };
    versions.set(version, release);
    release[kind] = { path, file: targetFile(path, sha256), size: info.length, sha256, custom };
  }
  const result = new Map<string, ReleaseEntry[]>();
  for (const key of [...byKey.keys()].sort()) {
    result.set(key, [...(byKey.get(key)?.values() ?? [])].sort((a, b) => compareVersions(a.version, b.version)));
  }
  return result;
}

/** Options of {@link addBundle}. */
export interface AddOptions extends RepoOptions {
  /** The app folder to publish (what gets installed). */
  bundleDir: string;
  /** Strict semver, greater than every version of this platform/arch (`1.2.0`, `1.3.0-beta.1`). */
  version: string;
  /** @default process.platform */
  platform?: string;
  /** @default process.arch */
  arch?: string;
  /** Clients must install this update. @default false */
  required?: boolean;
  releaseNotes?: string;
  /** The publisher's own fields, stored as `custom.user` of both targets. */
  custom?: Record<string, unknown>;
  /** zstd level of the patch. @default 19 */
  patchLevel?: number;
  /** Staged rollout: the whole percentage (0-100) of installs offered this version. @default 100 */
  rollout?: number;
  /**
   * Also write the base version's entry list into the patch header (a few KB), as repo-tools did before
   * the entries target: clients that predate that target then still patch installs an installer added
   * files to (NSIS's uninstaller), where they would otherwise download the full archive. Current clients
   * fetch the base version's entries target instead, and only for such installs.
   * @default false
   */
  entriesInPatch?: boolean;
}

/** A file {@link addBundle} made. */
export interface AddedFile {
  /** TUF target path. */
  path: string;
  /** Location relative to the repository folder. */
  file: string;
  size: number;
  sha256: string;
}

/** What {@link addBundle} made. */
export interface AddResult {
  name: string;
  version: string;
  platform: string;
  arch: string;
  /** Digest of the uncompressed tar of the bundle. */
  tar: Digest;
  archive: AddedFile;
  /** The archive's entry list (`<name>-<version>.entries`). */
  entries: AddedFile;
  /** The patch from the previous version of this platform/arch; absent for the first version. */
  patch?: AddedFile & {
    /** The version the patch applies to. */
    base: string;
    /** Bytes a client saves by downloading the patch instead of the archive (negative if it costs more). */
    saving: number;
  };
  /** The staged rollout: percentage of installs offered the version (100: everyone). */
  rollout: number;
  metadata: MetadataVersions;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Publishes a version of a bundle folder for one platform/arch: its archive, its entry list, and the
 * patch from the latest earlier version of the same platform/arch, as signed targets; then re-signs
 * targets, snapshot and timestamp. Refuses malformed, duplicate and not-newer versions.
 */
export async function addBundle(options: AddOptions): Promise<AddResult> {
  const { bundleDir, platform = process.platform, arch = process.arch, ...rest } = options;
  const [result] = await addRelease({ ...rest, bundles: [{ bundleDir, platform, arch }] });
  if (result === undefined) throw new RepoError('BUNDLE', 'no bundle was added');
  return result;
}

/** One platform/arch of a release: the folder that gets installed. */
export interface ReleaseBundle {
  bundleDir: string;
  platform: string;
  arch: string;
}

/** Options of {@link addRelease}: those of {@link addBundle}, with several bundles of one version. */
export interface AddReleaseOptions extends Omit<AddOptions, 'bundleDir' | 'platform' | 'arch'> {
  /** One bundle per platform/arch. */
  bundles: readonly ReleaseBundle[];
}

/**
 * Publishes one version for several platforms/archs at once (what one electron-builder or Forge run
 * builds), as {@link addBundle} does for one, in one transaction: clients of every platform see the
 * release appear together, and a failure for one platform adds nothing for any.
 */
export async function addRelease(options: AddReleaseOptions): Promise<AddResult[]> {
  let version: string;
  const keys: string[] = [];
  try {
    version = parseVersion(options.version, 'the version to add');
    for (const b of options.bundles) keys.push(platformKey(b.platform, b.arch));
  } catch (error) {
    throw fromBundleError(error);
  }
  if (options.bundles.length === 0) throw new RepoError('USAGE', 'a release needs at least one bundle');
  const twice = keys.find((key, i) => keys.indexOf(key) !== i);
  if (twice !== undefined) throw new RepoError('USAGE', `two bundles for ${twice} in one release`);
  if (options.custom !== undefined) {
    if (!isPlainObject(options.custom)) throw new RepoError('INVALID_CUSTOM', 'custom fields must be a JSON object');
    checkCanonical(options.custom, 'custom');
  }
  const rollout = options.rollout === undefined ? FULL_ROLLOUT : checkPercent(options.rollout);
  const state = await loadRepository(options.repoDir);
  const name = state.config.appName;
  const all = releasesOf(state);
  const plans = options.bundles.map((bundle, i) => {
    const key = keys[i] ?? '';
    const releases = all.get(key) ?? [];
    if (releases.some((r) => r.version === version)) {
      throw new RepoError('DUPLICATE_VERSION', `${name} ${version} for ${key} is already in the repository`);
    }
    const latest = releases.at(-1);
    if (latest !== undefined && compareVersions(version, latest.version) <= 0) {
      throw new RepoError('VERSION_NOT_NEWER', `${version} is not newer than ${latest.version}, the latest ${name} for ${key}`);
    }
    return { ...bundle, key, base: [...releases].reverse().find((r) => r.archive !== undefined) };
  });
  const signers = await signersFor(options, state, ['targets', 'snapshot', 'timestamp'], `adding ${name} ${version}`);

  return withTransaction(options, async (tx) => {
    const targetsJson = state.targets.signed.toJSON();
    const entries = { ...(targetsJson.targets as JSONObject) };
    const staged: Omit<AddResult, 'metadata'>[] = [];
    for (const { bundleDir, platform, arch, key, base } of plans) {
      const tarPath = tx.scratch('new.tar');
      const archiveScratch = tx.scratch('archive.tar.gz');
      options.logger?.info(`packing ${bundleDir}`);
      const info = await createArchive(bundleDir, archiveScratch, tarPath).catch((e: unknown) => {
        throw fromBundleError(e);
      });
      const tufup = (kind: TargetKind): TargetCustom => {
        const custom: TargetCustom = {
          tufup: { schema: CUSTOM_SCHEMA, kind, name, version, platform, arch, tar: info.tar, required: options.required === true },
        };
        if (options.releaseNotes !== undefined) custom.tufup.releaseNotes = options.releaseNotes;
        // The rollout decides who is offered the version: it lives on the archive, the one target per version.
        if (kind === 'archive' && rollout < FULL_ROLLOUT) custom.tufup.rollout = rollout;
        if (options.custom !== undefined) custom.user = options.custom;
        return custom;
      };
      /** Names a target in the new targets metadata; the caller stages its file at the `file` returned. */
      const stage = (kind: TargetKind, digest: Digest, custom: TargetCustom): AddedFile => {
        const path = targetPath({ name, version, kind, platform, arch });
        const file = targetFile(path, digest.sha256);
        entries[path] = new TargetFile({
          path,
          length: digest.size,
          hashes: { sha256: digest.sha256 },
          unrecognizedFields: { custom: custom as unknown as JSONValue },
        }).toJSON();
        return { path, file, size: digest.size, sha256: digest.sha256 };
      };
      const archive = stage('archive', info.archive, tufup('archive'));
      tx.putFile(archive.file, archiveScratch);
      // The entry list says nothing about the release (no notes, rollout or the publisher's fields): the
      // targets metadata every client downloads stays as small as it can.
      const listBytes = serializeEntryList(info.tar, info.entries);
      const list = stage('entries', digestBuffer(listBytes), { tufup: { schema: CUSTOM_SCHEMA, kind: 'entries', name, version, platform, arch, tar: info.tar, required: options.required === true } });
      await tx.put(list.file, listBytes);
      let patch: AddResult['patch'];
      if (base?.archive !== undefined) {
        const baseTar = tx.scratch('base.tar');
        const baseArchive = join(options.repoDir, ...base.archive.file.split('/'));
        options.logger?.info(`making the patch from ${base.version} for ${key}`);
        const baseDigest = await gunzipFile(baseArchive, baseTar).catch((e: unknown) => {
          if (failedWriting(e, baseTar)) throw fromBundleError(e);
          throw new RepoError('METADATA_CORRUPT', `${base.archive?.file}, the archive of ${base.version}, is missing or unreadable`, { cause: e });
        });
        if (!sameDigest(baseDigest, base.archive.custom.tufup.tar)) {
          throw new RepoError('METADATA_CORRUPT', `${base.archive.file} does not hold the tar its metadata records`);
        }
        const patchScratch = tx.scratch('patch');
        const patchOptions: PatchOptions = { baseEntries: options.entriesInPatch === true, ...(options.patchLevel === undefined ? {} : { level: options.patchLevel }) };
        const onProgress = diffProgress(options.logger, key);
        if (onProgress !== undefined) patchOptions.onProgress = onProgress;
        const patchDigest = await createPatchFile(baseTar, tarPath, patchScratch, patchOptions).catch((e: unknown) => {
          throw fromBundleError(e);
        });
        const custom = tufup('patch');
        custom.tufup.base = { version: base.version, ...baseDigest };
        const added = stage('patch', patchDigest, custom);
        tx.putFile(added.file, patchScratch);
        patch = { ...added, base: base.version, saving: archive.size - added.size };
        // The scratch tars of one platform are not needed for the next; a release of five platforms must
        // not hold ten tars in scratch space at once.
        await rm(baseTar, { force: true });
      }
      await rm(tarPath, { force: true });
      staged.push({ name, version, platform, arch, tar: info.tar, archive, entries: list, rollout, ...(patch === undefined ? {} : { patch }) });
    }
    const targets = Targets.fromJSON({ ...targetsJson, targets: entries });
    const metadata = await stageMetadata(tx, state, { targets, ...(options.now === undefined ? {} : { now: options.now }) }, signers);
    options.logger?.info(`added ${name} ${version} for ${plans.map((p) => p.key).join(', ')}`);
    return staged.map((r) => ({ ...r, metadata }));
  });
}

/**
 * Logs a diff's progress at every tenth of the new tar once the tar is large enough for the diff to take
 * a while (a 200 MB runtime takes minutes), so `tufup-repo add` does not sit silent.
 */
function diffProgress(logger: Logger | undefined, key: string): PatchOptions['onProgress'] {
  if (logger === undefined) return undefined;
  let shown = 0;
  return (done, total) => {
    const tenth = Math.floor((10 * done) / total);
    if (total < 32 * 2 ** 20 || tenth <= shown) return;
    shown = tenth;
    logger.info(`diffing ${key}: ${tenth * 10}% of ${(total / 2 ** 20).toFixed(0)} MB`);
  };
}

/**
 * Whether unpacking the base archive failed on the scratch tar rather than on the archive: a full or
 * failing disk must be reported as such, not blamed on the repository.
 */
function failedWriting(error: unknown, scratch: string): boolean {
  if (!(error instanceof BundleError)) return false;
  if (error.code === 'DISK_FULL') return true;
  const cause = error.cause;
  // Only the scratch side writes or syncs; the archive side reads and names the archive.
  return error.code === 'IO' && isSystemError(cause) && (cause.syscall === 'write' || cause.syscall === 'fsync' || cause.path?.startsWith(scratch) === true);
}

/**
 * Throws INVALID_CUSTOM unless `value` survives canonical JSON, which signatures are made over: strings,
 * integers, booleans, null, arrays and plain objects only (no fractions, so clients can verify them).
 */
function checkCanonical(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return;
    throw new RepoError('INVALID_CUSTOM', `${where} is ${value}: canonical JSON has whole numbers only; write it as a string`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkCanonical(item, `${where}[${i}]`));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkCanonical(item, `${where}.${key}`);
    return;
  }
  throw new RepoError('INVALID_CUSTOM', `${where} is not a JSON value`);
}

/** Options of {@link removeVersion}. */
export interface RemoveOptions extends RepoOptions {
  version: string;
  /** Only this platform (with `arch`); every platform/arch that has the version when absent. */
  platform?: string;
  arch?: string;
}

/** What {@link removeVersion} and {@link pruneVersions} dropped. */
export interface RemoveResult {
  removed: { version: string; platform: string; arch: string; files: string[] }[];
  metadata: MetadataVersions;
}

/**
 * Drops a version's archive, patch and entry list from the targets. The next version's patch stays:
 * clients in the field still run the removed version and can use it (from a folder that scans clean, or a
 * cached tar: without the entry list, an install an installer added files to takes the full archive).
 */
export async function removeVersion(options: RemoveOptions): Promise<RemoveResult> {
  const { version, only } = versionAndPlatform(options, 'the version to remove');
  const state = await loadRepository(options.repoDir);
  return dropReleases(options, state, selectReleases(state, version, only), `removing ${version}`);
}

/**
 * The releases of `version` (of every platform/arch, or of the one `platformKey` names); VERSION_NOT_FOUND
 * when there is none.
 */
export function selectReleases(state: RepoState, version: string, only: string | undefined): ReleaseEntry[] {
  const found: ReleaseEntry[] = [];
  for (const [key, releases] of releasesOf(state)) {
    if (only !== undefined && key !== only) continue;
    found.push(...releases.filter((r) => r.version === version));
  }
  if (found.length === 0) throw new RepoError('VERSION_NOT_FOUND', `${version} is not in the repository${only === undefined ? '' : ` for ${only}`}`);
  return found;
}

/** The version and platform key a command on one version was given; INVALID_VERSION / INVALID_NAME when malformed. */
export function versionAndPlatform(options: { version: string; platform?: string; arch?: string }, what: string): { version: string; only: string | undefined } {
  try {
    const version = parseVersion(options.version, what);
    const only = options.platform === undefined && options.arch === undefined ? undefined : platformKey(options.platform ?? process.platform, options.arch ?? process.arch);
    return { version, only };
  } catch (error) {
    throw fromBundleError(error);
  }
}

/** Throws USAGE unless `value` is a whole percentage from 0 to 100. */
export function checkPercent(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > FULL_ROLLOUT) {
    throw new RepoError('USAGE', `a rollout is a whole percentage from 0 to ${FULL_ROLLOUT}, not ${String(value)}`);
  }
  return value;
}

/** Options of {@link pruneVersions}. */
export interface PruneOptions extends RepoOptions {
  /** Versions to keep per platform/arch, newest first. */
  keep: number;
}

/** Keeps the newest `keep` versions of every platform/arch and drops the rest, as {@link removeVersion} does. */
export async function pruneVersions(options: PruneOptions): Promise<RemoveResult> {
  checkPositive(options.keep, '--keep');
  const state = await loadRepository(options.repoDir);
  const drop = [...releasesOf(state).values()].flatMap((releases) => releases.slice(0, Math.max(0, releases.length - options.keep)));
  if (drop.length === 0) return { removed: [], metadata: versionsOf(state) };
  return dropReleases(options, state, drop, `pruning to ${options.keep} versions`);
}

async function dropReleases(options: RepoOptions, state: RepoState, drop: readonly ReleaseEntry[], why: string): Promise<RemoveResult> {
  const signers = await signersFor(options, state, ['targets', 'snapshot', 'timestamp'], why);
  const json = state.targets.signed.toJSON();
  const dropped = new Set(drop.flatMap((r) => [r.archive?.path, r.patch?.path, r.entries?.path]));
  const entries = Object.fromEntries(Object.entries(json.targets as JSONObject).filter(([path]) => !dropped.has(path)));
  const removed: RemoveResult['removed'] = [];
  return withTransaction(options, async (tx) => {
    for (const release of drop) {
      const files: string[] = [];
      for (const entry of [release.archive, release.patch, release.entries]) {
        if (entry === undefined) continue;
        tx.delete(entry.file);
        files.push(entry.file);
      }
      removed.push({ version: release.version, platform: release.platform, arch: release.arch, files });
    }
    const targets = Targets.fromJSON({ ...json, targets: entries });
    const metadata = await stageMetadata(tx, state, { targets, ...(options.now === undefined ? {} : { now: options.now }) }, signers);
    options.logger?.info(`${why}: dropped ${removed.length} release(s)`);
    return { removed, metadata };
  });
}

/** The metadata versions of a repository as it is (what a command that changed nothing reports). */
export function versionsOf(state: RepoState): MetadataVersions {
  return {
    root: state.root.signed.version,
    targets: state.targets.signed.version,
    snapshot: state.snapshot.signed.version,
    timestamp: state.timestamp.signed.version,
  };
}

