import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind, type TargetFile } from '@tufjs/models';
import type { Updater } from 'tuf-js';
import { channelOf, compareVersions, isPrerelease, messageOf, parseTargetCustom, parseTargetPath, sameDigest, verifiedTargetsOf, type Digest, type TargetCustom, type TargetKind } from '@tufup/bundle';
import type { ResolvedOptions } from './config.js';
import { UpdateError } from './error.js';

/** One signed update file of this app's build, as tuf-js verified it. */
export interface Target {
  path: string;
  length: number;
  custom: TargetCustom;
  info: TargetFile;
}

/** The signed update files of this app on this platform/arch, by the version they produce. */
export interface Catalog {
  archives: Map<string, Target>;
  /** Keyed by the version the patch produces. */
  patches: Map<string, Target>;
  /**
   * Each version's entry list (absent for versions published before it): fetched only to rebuild the
   * running version's tar from an install folder that holds files its archive did not.
   */
  entries: Map<string, Target>;
}

/** One file to download. */
export interface PlanFile {
  targetPath: string;
  size: number;
}

/** What an update costs to fetch. */
export interface DownloadPlan {
  /** `patch`: the chain of patches from the running version; `full`: the archive. */
  strategy: 'patch' | 'full';
  /** The files to download, in the order they are applied. */
  files: PlanFile[];
  /** Sum of `files` sizes. */
  downloadSize: number;
  /** Size of the full archive, for comparison. */
  fullSize: number;
  /** The full archive: what is downloaded instead when a patch cannot be used. */
  archive: PlanFile;
}

/** What the catalog needs of a refreshed tuf-js Updater: its one public way to read a verified target. */
export type TargetSource = Pick<Updater, 'getTargetInfo'>;

/** The verified target of one path, or undefined when the targets metadata does not list it. */
type Lookup = (path: string) => Promise<TargetFile | undefined>;

/**
 * Lists this app's targets for one platform/arch, in one pass over the targets metadata tuf-js verified
 * during this session's `refresh()`: everything used (path, length, hashes, custom) comes from that
 * verified object, never from a file on disk.
 */
export async function readCatalog(updater: TargetSource, options: ResolvedOptions): Promise<Catalog> {
  const catalog: Catalog = { archives: new Map(), patches: new Map(), entries: new Map() };
  const byKind: Record<TargetKind, Map<string, Target>> = { archive: catalog.archives, patch: catalog.patches, entries: catalog.entries };
  const { paths, lookup } = await verifiedTargets(updater, options);
  const prefix = `${options.platformKey}/`;
  // Names of other apps on this platform: a repository with only those means the app name is wrong.
  const others = new Set<string>();
  for (const path of paths) {
    if (!path.startsWith(prefix)) continue;
    let id;
    try {
      id = parseTargetPath(path);
    } catch {
      options.logger.debug(`tufup: ignoring target ${path}: not an update file name`);
      continue;
    }
    if (id.name !== options.appName) {
      others.add(id.name);
      continue;
    }
    const info = await lookup(path);
    if (info === undefined) continue;
    let custom: TargetCustom;
    try {
      custom = parseTargetCustom(info.custom, path);
    } catch (error) {
      options.logger.warn(`tufup: ignoring target ${path}: ${messageOf(error)}`);
      continue;
    }
    const t = custom.tufup;
    if (t.name !== id.name || t.version !== id.version || t.kind !== id.kind || t.platform !== id.platform || t.arch !== id.arch) {
      options.logger.warn(`tufup: ignoring target ${path}: its custom metadata describes another file`);
      continue;
    }
    byKind[id.kind].set(id.version, { path, length: info.length, custom, info });
  }
  if (catalog.archives.size === 0 && catalog.patches.size === 0 && others.size > 0) {
    // Silence here would mean never finding an update: say which names the repository has.
    const names = [...others].sort().map((n) => `"${n}"`).join(', ');
    throw new UpdateError(
      'CONFIG',
      `the repository publishes ${names} for ${options.platformKey}, not "${options.appName}": the app name must be the one given to tufup-repo init (ship the repository's tufup.json, which carries it)`,
    );
  }
  return catalog;
}

/**
 * The paths of the verified top-level targets metadata and a lookup into it: the object tuf-js verified
 * in `refresh()`, read once (`verifiedTargetsOf`; one `getTargetInfo` per target would verify the whole
 * targets metadata again each time: 77 s at 1,000 targets). If a tuf-js release moves that object, the
 * catalog takes the public, slow way: the paths from the saved `targets.json`, each resolved by
 * `getTargetInfo`.
 */
async function verifiedTargets(updater: TargetSource, options: ResolvedOptions): Promise<{ paths: string[]; lookup: Lookup }> {
  const targets = await verifiedTargetsOf(updater);
  if (targets !== undefined) return { paths: Object.keys(targets), lookup: (path) => Promise.resolve(targets[path]) };
  options.logger.warn('tufup: this tuf-js does not hold its verified targets where tufup expects; listing targets the slow way');
  let paths: string[];
  try {
    const json = JSON.parse(await readFile(join(options.metadataDir, 'targets.json'), 'utf8')) as Parameters<typeof Metadata.fromJSON>[1];
    paths = Object.keys(Metadata.fromJSON(MetadataKind.Targets, json).signed.targets);
  } catch (cause) {
    throw new UpdateError('VERIFICATION', `the verified targets metadata could not be read back from ${options.metadataDir}`, { cause });
  }
  return { paths, lookup: (path) => updater.getTargetInfo(path) };
}

/** Whether the channel policy offers `version`: releases always; prereleases of the channel, or all with `allowPrerelease`. */
export function allowedVersion(version: string, options: Pick<ResolvedOptions, 'channel' | 'allowPrerelease' | 'excludeVersions'>): boolean {
  if (options.excludeVersions.has(version)) return false;
  if (!isPrerelease(version) || options.allowPrerelease) return true;
  return options.channel !== 'latest' && channelOf(version) === options.channel;
}

/** True when `target` or any offered, not yanked version between the running one and it is marked required. */
export function isRequired(catalog: Catalog, current: string, target: string, options: Parameters<typeof allowedVersion>[1]): boolean {
  for (const [version, archive] of catalog.archives) {
    const t = archive.custom.tufup;
    // A yanked release is offered to no one: its flag does not count (a yank wins over required).
    if (compareVersions(version, current) > 0 && compareVersions(version, target) <= 0 && allowedVersion(version, options) && t.required && t.yanked === undefined) {
      return true;
    }
  }
  return false;
}

/**
 * The patches leading from `current` to `target`, oldest first, following `base.version` back from the
 * target; undefined when the chain breaks or its links disagree on a tar digest. The chain may pass through
 * versions the policy would not offer (prereleases, excluded ones): their tars are only verified, never installed.
 */
export function patchChain(catalog: Catalog, current: string, target: string): Target[] | undefined {
  const chain: Target[] = [];
  let version = target;
  // The base of the patch after this one: the tar this one must produce.
  let nextBase: Digest | undefined;
  while (version !== current) {
    const patch = catalog.patches.get(version);
    const base = patch?.custom.tufup.base;
    if (patch === undefined || base === undefined || compareVersions(base.version, current) < 0 || compareVersions(base.version, version) >= 0) return undefined;
    if (nextBase !== undefined && !sameDigest(nextBase, patch.custom.tufup.tar)) return undefined;
    chain.unshift(patch);
    nextBase = base;
    version = base.version;
  }
  const currentArchive = catalog.archives.get(current);
  if (nextBase !== undefined && currentArchive !== undefined && !sameDigest(nextBase, currentArchive.custom.tufup.tar)) return undefined;
  return chain;
}

/** tufup's rule: the patch chain when its total size is below the full archive's, else the archive. */
export function planDownload(catalog: Catalog, current: string, archive: Target): DownloadPlan {
  const full: PlanFile = { targetPath: archive.path, size: archive.length };
  const chain = patchChain(catalog, current, archive.custom.tufup.version);
  const patchSize = chain?.reduce((sum, p) => sum + p.length, 0) ?? Infinity;
  if (chain !== undefined && chain.length > 0 && patchSize < archive.length) {
    return {
      strategy: 'patch',
      files: chain.map((p) => ({ targetPath: p.path, size: p.length })),
      downloadSize: patchSize,
      fullSize: archive.length,
      archive: full,
    };
  }
  return { strategy: 'full', files: [full], downloadSize: archive.length, fullSize: archive.length, archive: full };
}
