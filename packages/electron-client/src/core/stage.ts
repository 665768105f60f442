import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compareVersions, digestTarOf, parseVersion, processAlive, sameDigest, scanBundle, writeFileAtomic, type Digest } from '@tufup/bundle/base';
import { silentLogger, type Logger } from './config.js';

/** A verified new version, extracted and waiting for the installer. */
export interface StagedUpdate {
  version: string;
  /** `<cacheDir>/staged/<version>`: the complete new bundle, to be moved over the install folder. */
  stagedDir: string;
  /** The signed digest of the bundle's tar; the folder still hashes to it. */
  tar: Digest;
  /** What was actually used (a patch can fall back to the full archive). */
  strategy: 'patch' | 'full';
  /** Bytes fetched from the network for it. */
  downloadedBytes: number;
  required: boolean;
  releaseNotes?: string;
  /** When it was staged (ISO 8601). */
  stagedAt: string;
  /**
   * Set on a version lower than the running one, staged because the running one was yanked: the yanked
   * version it replaces. Only while that version runs does such a staged update count.
   */
  replacesYanked?: string;
}

const RECORD_SUFFIX = '.json';

/** The folder and record file of a staged version. */
export function stagedPaths(stagedRoot: string, version: string): { dir: string; record: string } {
  return { dir: join(stagedRoot, version), record: join(stagedRoot, `${version}${RECORD_SUFFIX}`) };
}

/** Writes the record that makes a staged folder count; it appears atomically, after the folder. */
export async function writeStagedRecord(stagedRoot: string, staged: StagedUpdate): Promise<void> {
  await writeFileAtomic(stagedPaths(stagedRoot, staged.version).record, [Buffer.from(`${JSON.stringify(staged, null, 2)}\n`)]);
}

/** Whether a staged folder still holds exactly the bundle whose tar digest was signed. */
export async function stagedFolderMatches(dir: string, tar: Digest): Promise<boolean> {
  try {
    return sameDigest(await digestTarOf(dir, await scanBundle(dir)), tar);
  } catch {
    return false;
  }
}

/** Removes a staged version: record first, so a half-removed folder never counts. */
export async function removeStaged(stagedRoot: string, version: string): Promise<void> {
  const { dir, record } = stagedPaths(stagedRoot, version);
  await rm(record, { force: true });
  await rm(dir, { recursive: true, force: true });
}

function parseRecord(text: string, stagedDir: string): StagedUpdate | undefined {
  try {
    const r = JSON.parse(text) as Partial<StagedUpdate>;
    if (typeof r.version !== 'string' || parseVersion(r.version) !== r.version) return undefined;
    if (typeof r.tar?.sha256 !== 'string' || typeof r.tar.size !== 'number') return undefined;
    if (r.strategy !== 'patch' && r.strategy !== 'full') return undefined;
    const staged: StagedUpdate = {
      version: r.version,
      // The record's own path is not trusted: the folder is always <staged>/<version>.
      stagedDir: stagedPaths(stagedDir, r.version).dir,
      tar: { sha256: r.tar.sha256, size: r.tar.size },
      strategy: r.strategy,
      downloadedBytes: typeof r.downloadedBytes === 'number' ? r.downloadedBytes : 0,
      required: r.required === true,
      stagedAt: typeof r.stagedAt === 'string' ? r.stagedAt : '',
    };
    if (typeof r.releaseNotes === 'string') staged.releaseNotes = r.releaseNotes;
    if (typeof r.replacesYanked === 'string') staged.replacesYanked = r.replacesYanked;
    return staged;
  } catch {
    return undefined;
  }
}

/** The versions that have a staged record (not checked: a folder may since have changed), any order. */
export async function stagedVersions(stagedRoot: string): Promise<string[]> {
  const names = await readdir(stagedRoot).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(RECORD_SUFFIX) && !n.startsWith('.')).map((n) => n.slice(0, -RECORD_SUFFIX.length));
}

/** Marks `<staged>/` as being written by this process, from extraction until the record is written. */
export async function markBusy(stagedRoot: string): Promise<() => Promise<void>> {
  const marker = join(stagedRoot, `.busy-${process.pid}`);
  await writeFile(marker, '');
  return () => rm(marker, { force: true });
}

/** Whether `name` is an extraction folder or busy marker of a process that is still running. */
function writerAlive(name: string): boolean {
  return processAlive(Number(/^\.(?:.+\.partial-|busy-)(\d+)/.exec(name)?.[1]));
}

/** Options of {@link findStagedUpdate}. */
export interface FindStagedOptions {
  /** Versions to discard instead of returning (rolled back ones). @default [] */
  excludeVersions?: readonly string[];
  /** @default silent */
  logger?: Logger;
}

/**
 * The newest staged update above `currentVersion` whose folder still hashes to its signed tar digest.
 * Cleans up on the way: versions not above the current one (installed or older), excluded ones, broken
 * ones (folder changed or missing, unreadable record) and leftovers of interrupted extractions are removed.
 */
export async function findStagedUpdate(cacheDir: string, currentVersion: string, options: FindStagedOptions = {}): Promise<StagedUpdate | undefined> {
  const logger = options.logger ?? silentLogger;
  for (const staged of await sweepStaged(cacheDir, currentVersion, options)) {
    if (await verifiedOrRemoved(staged, logger)) return staged;
  }
  return undefined;
}

/**
 * The staged update of exactly `version`, when its folder still hashes to its signed tar digest. Cleans
 * up like {@link findStagedUpdate}, but hashes only that one folder: the others may be large, and the
 * caller is about to stage `version` anyway.
 */
export async function findStagedVersion(cacheDir: string, currentVersion: string, version: string, options: FindStagedOptions = {}): Promise<StagedUpdate | undefined> {
  const staged = (await sweepStaged(cacheDir, currentVersion, options)).find((s) => s.version === version);
  return staged !== undefined && (await verifiedOrRemoved(staged, options.logger ?? silentLogger)) ? staged : undefined;
}

/**
 * The staged record of exactly `version`, as {@link findStagedUpdate} would consider it (cleaning up
 * alike), without hashing its folder: for a caller that holds a staged update it verified when it was
 * staged and asks whether it still counts (a check may since have removed it as yanked).
 */
export async function stagedRecordOf(cacheDir: string, currentVersion: string, version: string, options: FindStagedOptions = {}): Promise<StagedUpdate | undefined> {
  return (await sweepStaged(cacheDir, currentVersion, options)).find((s) => s.version === version);
}

/** Whether a staged folder still verifies; one that does not is removed. */
async function verifiedOrRemoved(staged: StagedUpdate, logger: Logger): Promise<boolean> {
  if (await stagedFolderMatches(staged.stagedDir, staged.tar)) return true;
  logger.warn(`tufup: removing staged ${staged.version}: its folder no longer matches the signed hash`);
  await removeStaged(dirname(staged.stagedDir), staged.version);
  return false;
}

/**
 * The staged records above `currentVersion`, newest first, not yet verified; removes what can never
 * count (see {@link findStagedUpdate}) without reading any staged folder.
 */
async function sweepStaged(cacheDir: string, currentVersion: string, options: FindStagedOptions): Promise<StagedUpdate[]> {
  const logger = options.logger ?? silentLogger;
  const excluded = new Set(options.excludeVersions ?? []);
  const root = join(cacheDir, 'staged');
  const names = await readdir(root).catch(() => [] as string[]);
  const records: StagedUpdate[] = [];
  const keep = new Set<string>();
  for (const name of names.filter((n) => n.endsWith(RECORD_SUFFIX))) {
    const staged = parseRecord(await readFile(join(root, name), 'utf8').catch(() => ''), root);
    if (staged === undefined || `${staged.version}${RECORD_SUFFIX}` !== name) {
      logger.warn(`tufup: removing the unreadable staged record ${name}`);
      await rm(join(root, name), { force: true });
      continue;
    }
    // A lower version counts only as the signed replacement of the yanked version that runs.
    const replaces = staged.replacesYanked === currentVersion && staged.version !== currentVersion;
    if ((compareVersions(staged.version, currentVersion) <= 0 && !replaces) || excluded.has(staged.version)) {
      logger.info(`tufup: removing staged ${staged.version}: not newer than ${currentVersion} or excluded`);
      await removeStaged(root, staged.version);
      continue;
    }
    records.push(staged);
    keep.add(staged.version).add(name);
  }
  // Folders without a record are interrupted extractions; they can never be trusted. While a live
  // process is staging (a `.busy-<pid>` marker), its folder may be complete but not yet recorded: leave all alone.
  if (!names.some((n) => n.startsWith('.busy-') && writerAlive(n))) {
    for (const name of names) {
      if (name.endsWith(RECORD_SUFFIX) || keep.has(name) || writerAlive(name)) continue;
      await rm(join(root, name), { recursive: true, force: true });
    }
  }
  return records.sort((a, b) => compareVersions(b.version, a.version));
}
