import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import { Updater } from 'tuf-js';
import {
  applyPatch,
  applyPatchFromFolder,
  ONE_FILE_ENTRY,
  acquireLock,
  BundleError,
  compareVersions,
  digestFile,
  FULL_ROLLOUT,
  extractArchive,
  gunzipFile,
  isSystemError,
  messageOf,
  parseEntryList,
  processAlive,
  readPatchHeader,
  sameDigest,
  targetFileName,
  writeFileAtomic,
  useLinearTargetsCodec,
  type ApplyPatchOptions,
  type Digest,
  type TarEntry,
  type TargetCustom,
} from '@tufup/bundle';
import { allowedVersion, isRequired, patchChain, planDownload, readCatalog, type Catalog, type DownloadPlan, type Target } from './catalog.js';
import { resolveOptions, type CoreOptions, type ResolvedOptions } from './config.js';
import { toUpdateError, UpdateError, type UpdateErrorCode } from './error.js';
import { ResumableFetcher } from './fetcher.js';
import { Operation } from './operation.js';
import { ProgressMeter, UpdateProgress, type PhaseProgress, type Progress } from './progress.js';
import { findStagedVersion, markBusy, removeStaged, stagedPaths, stagedVersions, writeStagedRecord, type StagedUpdate } from './stage.js';
import { chooseRelease, decide, type DecisionInput, type Offer, type ReleaseDecision } from './decision.js';
import { installId } from './install-id.js';

/** An update the repository offers, as `checkForUpdates` found it in signed metadata. */
export interface UpdateInfo {
  version: string;
  /** This version, or one skipped on the way to it, is marked required by the publisher. */
  required: boolean;
  releaseNotes?: string;
  /** The signed custom metadata of the version's archive (`custom.user` holds the publisher's fields). */
  custom: TargetCustom;
  plan: DownloadPlan;
  /**
   * Why this install takes the version: its signed rollout and whether this install is in it, a
   * `required` flag, a copy already staged, or the running version being yanked (then `downgrade` says
   * whether the version is lower, and `yankedCurrent` why the running one was pulled).
   */
  decision: ReleaseDecision;
}

/** Options of {@link UpdateClient.downloadUpdate}. */
export interface DownloadOptions {
  onProgress?: (p: Progress) => void;
  /** Stops the download; the promise then rejects with CANCELLED and no unverified file is kept. */
  signal?: AbortSignal;
}

/** What the staging steps get: the signal, and where each phase's progress goes (the update's {@link UpdateProgress}). */
interface StageOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((p: PhaseProgress) => void) | undefined;
}

/** Failures of the patch route that the full archive may not share: staging tries it once instead. */
const PATCH_FALLBACK: ReadonlySet<UpdateErrorCode> = new Set(['PATCH', 'VERIFICATION', 'NETWORK', 'TIMEOUT']);

/** One patch to apply, whatever its base comes from. */
type PatchStep = Omit<ApplyPatchOptions, 'base' | 'basePath' | 'releaseBase'>;

/**
 * An open, refreshed TUF repository: one tuf-js Updater per operation, as tuf-js requires, with the
 * operation its fetcher reports to.
 */
interface Session {
  updater: Updater;
  operation: Operation;
  catalog: Catalog;
}

/**
 * Checks for, downloads, verifies and stages updates of one app from a TUF repository. Plain Node: it
 * never imports electron and never writes to the install folder. Operations of one client run one at a
 * time, in call order.
 */
export class UpdateClient {
  private readonly options: ResolvedOptions;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: CoreOptions) {
    this.options = resolveOptions(options);
  }

  /**
   * Refreshes the signed metadata and returns the version this install is offered (see
   * {@link ReleaseDecision}), or undefined when it stays where it is. Staged copies of versions the
   * publisher has since yanked are removed.
   */
  checkForUpdates(options: { signal?: AbortSignal } = {}): Promise<UpdateInfo | undefined> {
    return this.serial(async () => {
      const { signal } = options;
      const { catalog } = await this.open(signal, 'checking for updates');
      const o = this.options;
      const input = await this.decisionInput(catalog, signal);
      const offer = chooseRelease(catalog, input);
      if (offer === undefined) {
        const waiting = [...catalog.archives.values()].find((a) => (a.custom.tufup.rollout ?? FULL_ROLLOUT) < FULL_ROLLOUT && compareVersionsSafe(a.custom.tufup.version, o.currentVersion) > 0);
        o.logger.info(`tufup: ${o.appName} ${o.currentVersion} is up to date${waiting === undefined ? '' : ` (${waiting.custom.tufup.version} is rolled out to ${waiting.custom.tufup.rollout ?? FULL_ROLLOUT}% of installs, not yet this one)`}`);
        return undefined;
      }
      const info = this.describe(catalog, offer);
      const why = offer.decision.reason === 'replaces-yanked' ? `; ${o.currentVersion} was yanked: ${offer.decision.yankedCurrent?.reason ?? ''}` : '';
      o.logger.info(`tufup: ${o.appName} ${info.version} is available (${offer.decision.reason}, ${info.plan.strategy}, ${info.plan.downloadSize} bytes)${why}`);
      return info;
    });
  }

  /**
   * What the release decision needs beyond the catalog: this install's id and the versions staged here.
   * Staged versions the publisher has yanked go first, under the staging lock (a download may be
   * writing), which a download already holds (`staging: 'held'`).
   */
  private async decisionInput(catalog: Catalog, signal: AbortSignal | undefined, staging: 'held' | 'free' = 'free'): Promise<DecisionInput> {
    const o = this.options;
    const id = await this.guard('reading the install id', signal, () => installId(o.cacheDir));
    const staged = new Set(await this.guard('listing staged updates', signal, () => stagedVersions(o.stagedDir)));
    const yanked = [...staged].filter((v) => catalog.archives.get(v)?.custom.tufup.yanked !== undefined);
    const remove = async (): Promise<void> => {
      for (const version of yanked) {
        o.logger.warn(`tufup: removing staged ${version}: the publisher yanked it (${catalog.archives.get(version)?.custom.tufup.yanked?.reason ?? ''})`);
        await this.guard(`removing staged ${version}`, signal, () => removeStaged(o.stagedDir, version));
        staged.delete(version);
      }
    };
    if (yanked.length > 0) await (staging === 'held' ? remove() : this.locked('staging', signal, remove));
    return { ...o, installId: id, staged };
  }

  /**
   * Downloads `info`'s update (patch chain or full archive, resuming interrupted files), verifies every
   * file and tar against signed metadata, and extracts the new bundle into `<cacheDir>/staged/<version>/`.
   * The plan is taken again from freshly verified metadata: `info` only names the version.
   */
  downloadUpdate(info: UpdateInfo, options: DownloadOptions = {}): Promise<StagedUpdate> {
    return this.serial(async () => {
      const o = this.options;
      const { signal } = options;
      // One download per cache folder at a time, whichever process: another instance of the app may be
      // staging this very update, which is then found below once it is done.
      return this.locked('staging', signal, async () => {
        const already = await this.guard('looking for a staged update', signal, () =>
          findStagedVersion(o.cacheDir, o.currentVersion, info.version, { excludeVersions: [...o.excludeVersions], logger: o.logger }),
        );
        if (already !== undefined) return already;

        const session = await this.open(signal, `downloading ${info.version}`);
        // The decision again, from fresh metadata: `info` may come from the app (kept, or built), and a
        // version may have been yanked or its rollout paused since the check.
        const input = await this.decisionInput(session.catalog, signal, 'held');
        const archive = session.catalog.archives.get(info.version);
        const decision = archive === undefined ? undefined : decide(session.catalog, input, archive);
        if (archive === undefined || decision === undefined) throw new UpdateError('NO_UPDATE', this.notOffered(session.catalog, input, info.version));
        const fresh = this.describe(session.catalog, { archive, decision });
        await this.guard('preparing the staging folder', signal, async () => {
          await removeStaged(o.stagedDir, info.version);
          await mkdir(o.stagedDir, { recursive: true });
        });

        const done = await this.guard('preparing the staging folder', signal, () => markBusy(o.stagedDir));
        // One percent for the whole update, from the phases' own numbers.
        const onProgress = options.onProgress && new UpdateProgress(fresh.plan.strategy, fresh.plan.downloadSize, options.onProgress).report;
        try {
          return await this.stage(session, fresh, archive, { signal, onProgress });
        } finally {
          // A marker left behind only names this process, so it is harmless once the process ends: not
          // worth failing a staged update, nor hiding why staging failed.
          await done().catch((error: unknown) => o.logger.warn(`tufup: could not remove the staging marker: ${String(error)}`));
        }
      });
    });
  }

  /**
   * Runs `fn` holding one of the cache folder's locks, waiting up to `busyTimeoutMs` for another process
   * (BUSY after that). `metadata` covers tuf-js's refresh, which writes the cached metadata; `staging`
   * covers a whole download (targets/ and staged/). A download takes `staging`, then `metadata`; a check
   * only `metadata`: never the other way round, so two processes cannot wait for each other.
   */
  private async locked<T>(name: 'metadata' | 'staging', signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const o = this.options;
    const release = await this.guard(`locking the update cache ${o.cacheDir}`, signal, () =>
      acquireLock(join(o.cacheDir, `${name}.lock`), {
        what: `the update cache ${o.cacheDir}`,
        holderIs: 'another instance of the app',
        waitMs: o.busyTimeoutMs,
        signal,
        logger: { info: (m) => o.logger.info(`tufup: ${m}`), warn: (m) => o.logger.warn(`tufup: ${m}`) },
      }),
    );
    try {
      return await fn();
    } finally {
      await release().catch((error: unknown) => o.logger.warn(`tufup: could not release the ${name} lock: ${messageOf(error)}`));
    }
  }

  /** Patch (or, failing that, the full archive), extract, record; the caller holds the busy marker. */
  private async stage(session: Session, info: UpdateInfo, archive: Target, options: StageOptions): Promise<StagedUpdate> {
    const o = this.options;
    const { signal, onProgress } = options;
    const { dir: stagedDir } = stagedPaths(o.stagedDir, info.version);
    const bytesBefore = session.operation.targetBytes;
    let strategy: 'patch' | 'full' = 'full';
    let keep: string | undefined;
    if (info.plan.strategy === 'patch') {
      try {
        keep = await this.stageFromPatches(session, info, stagedDir, options);
        strategy = 'patch';
      } catch (error) {
        const e = toUpdateError(error, `patching to ${info.version}`, signal, session.operation.lastFailure);
        // A patch that does not apply or verify, and one the server does not have (404: removed, or a
        // mirror without it) or cannot deliver, all leave the archive: it is what the patch only saves.
        if (!PATCH_FALLBACK.has(e.code)) throw e;
        o.logger.warn(`tufup: ${e.message}; downloading the full archive instead`);
        await this.guard(`removing ${stagedDir}`, signal, () => rm(stagedDir, { recursive: true, force: true }));
      }
    }
    keep ??= await this.stageFromArchive(session, archive, stagedDir, onProgress, signal);

    const staged: StagedUpdate = {
      version: info.version,
      stagedDir,
      tar: archive.custom.tufup.tar,
      strategy,
      downloadedBytes: session.operation.targetBytes - bytesBefore,
      required: info.required,
      stagedAt: new Date().toISOString(),
    };
    if (info.releaseNotes !== undefined) staged.releaseNotes = info.releaseNotes;
    // A staged version below the running one counts only as the replacement of this yanked version.
    if (info.decision.downgrade) staged.replacesYanked = o.currentVersion;
    const kept = keep;
    await this.guard(`staging ${info.version}`, signal, async () => {
      await writeStagedRecord(o.stagedDir, staged);
      await this.prune(kept, info.version);
    });
    o.logger.info(`tufup: staged ${o.appName} ${info.version} (${strategy}, ${staged.downloadedBytes} bytes downloaded)`);
    return staged;
  }

  /** Why `version` is not for this install: the sentence of a NO_UPDATE. */
  private notOffered(catalog: Catalog, input: DecisionInput, version: string): string {
    const o = this.options;
    const t = catalog.archives.get(version)?.custom.tufup;
    if (t === undefined) return `${o.appName} ${version} for ${o.platformKey} is not offered by the repository`;
    if (t.yanked !== undefined) return `${version} was yanked by its publisher: ${t.yanked.reason}`;
    if (o.excludeVersions.has(version)) return `${version} is excluded on this install (it was rolled back)`;
    if (!allowedVersion(version, o)) return `${version} is a prerelease outside the ${o.channel} channel`;
    const order = compareVersions(version, o.currentVersion);
    if (order === 0) return `${version} is the running version`;
    if (order < 0) return `${version} is older than the running ${o.currentVersion}, which is not yanked`;
    return `${version} is rolled out to ${t.rollout ?? FULL_ROLLOUT}% of installs, and this install is not among them yet`;
  }

  private describe(catalog: Catalog, offer: Offer): UpdateInfo {
    const o = this.options;
    const { archive, decision } = offer;
    const version = archive.custom.tufup.version;
    const info: UpdateInfo = {
      version,
      // Off a yanked version, the move is as urgent as the publisher's pulling it.
      required: decision.reason === 'replaces-yanked' || isRequired(catalog, o.currentVersion, version, o),
      custom: archive.custom,
      plan: planDownload(catalog, o.currentVersion, archive),
      decision,
    };
    if (archive.custom.tufup.releaseNotes !== undefined) info.releaseNotes = archive.custom.tufup.releaseNotes;
    return info;
  }

  /**
   * Patch chain: download, apply one by one (each tar checked against its signed digest), extract. Each
   * base is read by position from disk (the install folder or the previous tar), never held whole.
   */
  private async stageFromPatches(session: Session, info: UpdateInfo, stagedDir: string, options: StageOptions): Promise<string> {
    const o = this.options;
    const { signal, onProgress } = options;
    const patches = patchChain(session.catalog, o.currentVersion, info.version);
    if (patches === undefined) throw new UpdateError('INTERNAL', `no patch chain leads to ${info.version}`);
    const files = await this.download(session, patches, onProgress, signal);

    const meter = new ProgressMeter('patch', patches.reduce((sum, p) => sum + p.custom.tufup.tar.size, 0), onProgress);
    let done = 0;
    let tarPath = '';
    for (const [i, patch] of patches.entries()) {
      const { version, base, tar } = patch.custom.tufup;
      const patchPath = files[i];
      if (base === undefined || patchPath === undefined) throw new UpdateError('INTERNAL', `the patch to ${version} has no base or file`);
      const previous = tarPath;
      tarPath = this.tarPath(version);
      const apply: PatchStep = {
        patchPath,
        outPath: tarPath,
        expected: tar,
        onProgress: (bytes) => meter.update(done + bytes),
        ...(signal ? { signal } : {}),
      };
      const what = `applying the patch to ${version}`;
      if (i === 0) {
        await this.applyToRunningVersion(session, base, apply, what, signal);
      } else {
        // The previous tar was checked against its signed digest when it was written; applyPatch checks it
        // against the patch's base (signed with the patch file) again after reading it back.
        await this.guard(what, signal, () => applyPatch({ ...apply, basePath: previous }));
        await this.guard(`removing ${previous}`, signal, () => rm(previous, { force: true }));
      }
      done += tar.size;
    }
    meter.finish();
    await this.extract(tarPath, stagedDir, info.custom.tufup.tar, onProgress, signal);
    return tarPath;
  }

  /**
   * Applies the first patch to the tar of the running version: a cached tar or archive of it when one
   * matches the signed digest; else rebuilt from the install folder by @tufup/bundle, first as scanned
   * (as `tufup-repo add` scanned the bundle), and when that does not make the signed tar (an installer
   * added files, such as NSIS's uninstaller), following the running version's signed entry list,
   * downloaded then and kept. The list only says which files to read in which order: the rebuilt tar
   * must still hash to the patch's base digest, which must be the signed one. An install folder that
   * matches neither is PATCH (the caller falls back to the full archive).
   */
  private async applyToRunningVersion(session: Session, signed: Digest & { version: string }, apply: PatchStep, what: string, signal: AbortSignal | undefined): Promise<void> {
    const o = this.options;
    const cached = await this.cachedBase(signed);
    if (cached !== undefined) {
      await this.guard(what, signal, () => applyPatch({ ...apply, basePath: cached }));
      return;
    }
    const { header } = await this.guard('reading the patch header', signal, () => readPatchHeader(apply.patchPath));
    if (!sameDigest(header.base, signed)) throw new UpdateError('PATCH', `the first patch applies to another tar than the signed ${signed.version}`);
    const fromFolder = (baseEntries?: TarEntry[]): Promise<unknown> =>
      this.withBaseFolder((installDir) => applyPatchFromFolder({ ...apply, installDir, ...(baseEntries === undefined ? {} : { baseEntries }) }));
    // The folder does not make the running version's tar (not a fault of the patch or of the disk).
    const notTheBase = (error: unknown): boolean =>
      signal?.aborted !== true && ((error instanceof BundleError && error.code === 'PATCH_BASE_MISMATCH') || inFolder(error, o.installDir));
    const mismatch = (error: unknown, how: string): UpdateError =>
      new UpdateError('PATCH', `the install folder ${o.installDir} ${how} does not match version ${signed.version}: ${messageOf(error)}`, { cause: error });
    try {
      // Also follows the list in the header of a patch made before entry list targets.
      await fromFolder();
      o.logger.debug(`tufup: patch base rebuilt from ${o.installDir}`);
      return;
    } catch (error) {
      if (!notTheBase(error)) throw toUpdateError(error, what, signal);
      const list = session.catalog.entries.get(signed.version);
      if (list === undefined || !sameDigest(list.custom.tufup.tar, signed)) throw mismatch(error, 'as scanned (and the repository has no entry list of it)');
      o.logger.info(`tufup: ${mismatch(error, 'as scanned').message}; following its signed entry list ${list.path} instead`);
    }
    const entries = await this.entryList(session, signed.version, signal);
    await fromFolder(entries).catch((error: unknown) => {
      throw notTheBase(error) ? mismatch(error, 'following its signed entry list') : toUpdateError(error, what, signal);
    });
    o.logger.debug(`tufup: patch base rebuilt from ${o.installDir} following the signed entry list of ${signed.version}`);
  }

  /**
   * The signed entry list of `version`, downloaded through tuf-js like every target (length and hashes
   * checked against signed metadata) into the download folder, where it stays while that version runs,
   * so the next download from it reuses it (verified again); then checked to describe the version's
   * signed tar. A list that fails is VERIFICATION or PATCH: the caller falls back to the full archive.
   */
  private async entryList(session: Session, version: string, signal: AbortSignal | undefined): Promise<TarEntry[]> {
    const target = session.catalog.entries.get(version);
    if (target === undefined) throw new UpdateError('INTERNAL', `no entry list of ${version} in the catalog`);
    // Not counted in the update's progress: the plan could not know the folder needs it, and it is small.
    const [file] = await this.download(session, [target], undefined, signal);
    if (file === undefined) throw new UpdateError('INTERNAL', `the entry list of ${version} was not downloaded`);
    return this.guard(`reading the entry list ${target.path}`, signal, async () => parseEntryList(await readFile(file), target.custom.tufup.tar, target.path));
  }

  /**
   * The install folder as a bundle folder: itself, or for a one-file install (an AppImage: `installDir` is
   * the running file) a folder in the cache holding it, hard-linked (copied across volumes), as the one
   * entry of a one-file bundle.
   */
  private async withBaseFolder<T>(work: (dir: string) => Promise<T>): Promise<T> {
    const o = this.options;
    if (!(await stat(o.installDir).then((s) => s.isFile(), () => false))) return work(o.installDir);
    const dir = join(o.cacheDir, `.one-file-base-${process.pid}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const entry = join(dir, ONE_FILE_ENTRY);
      await link(o.installDir, entry).catch(() => copyFile(o.installDir, entry));
      return await work(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** A cached tar or archive of the running version whose tar matches the signed digest, in memory. */
  /**
   * A tar of the running version on disk whose digest is the signed one: the tar kept after the last
   * update, else the cached archive unpacked next to it. The patch reads it by position, so the old
   * version is never in memory whole.
   */
  private async cachedBase(signed: Digest & { version: string }): Promise<string | undefined> {
    const o = this.options;
    const tar = this.tarPath(signed.version);
    const archive = join(o.downloadDir, targetFileName(o.appName, signed.version, 'archive'));
    const matches = (digest: Digest | undefined): boolean => digest !== undefined && sameDigest(digest, signed);
    if (matches(await digestFile(tar).catch(() => undefined))) {
      o.logger.debug(`tufup: patch base from the cached ${tar}`);
      return tar;
    }
    if (matches(await gunzipFile(archive, tar).catch(() => undefined))) {
      o.logger.debug(`tufup: patch base from the cached ${archive}`);
      return tar;
    }
    await rm(tar, { force: true }).catch(() => undefined);
    return undefined;
  }

  private async stageFromArchive(session: Session, archive: Target, stagedDir: string, onProgress: StageOptions['onProgress'], signal: AbortSignal | undefined): Promise<string> {
    const [file] = await this.download(session, [archive], onProgress, signal);
    if (file === undefined) throw new UpdateError('INTERNAL', 'no archive downloaded');
    await this.extract(file, stagedDir, archive.custom.tufup.tar, onProgress, signal);
    return file;
  }

  /** Extracts a verified `.tar` or `.tar.gz` into the fresh `stagedDir`; the signal stops it mid-way. */
  private async extract(path: string, stagedDir: string, tar: Digest, onProgress: StageOptions['onProgress'], signal: AbortSignal | undefined): Promise<void> {
    const meter = new ProgressMeter('extract', tar.size, onProgress);
    await this.guard(`extracting ${path}`, signal, () =>
      extractArchive(path, stagedDir, { expected: tar, onProgress: (b) => meter.update(b), ...(signal ? { signal } : {}) }),
    );
    meter.finish();
  }

  /**
   * Downloads targets through tuf-js (length and hashes checked against signed metadata) into
   * `<cacheDir>/targets/<platform>-<arch>/`, reusing cached files that still verify.
   */
  private async download(session: Session, targets: Target[], onProgress: StageOptions['onProgress'], signal: AbortSignal | undefined): Promise<string[]> {
    const o = this.options;
    const dir = o.downloadDir;
    await this.guard('preparing the download folder', signal, () => mkdir(dir, { recursive: true }));
    const meter = new ProgressMeter('download', targets.reduce((sum, t) => sum + t.length, 0), onProgress);
    const paths: string[] = [];
    // Bytes of the targets already done; the file being fetched adds its bytes on disk.
    let done = 0;
    const unwatch = session.operation.watchFiles((_url, bytes) => meter.update(done + bytes));
    try {
      for (const target of targets) {
        const path = join(dir, target.path.slice(target.path.indexOf('/') + 1));
        const cached = await session.updater.findCachedTarget(target.info, path);
        if (cached === undefined) {
          const temp = `${path}.verified-${process.pid}`;
          await this.guard(`downloading ${target.path}`, signal, async () => {
            try {
              await session.updater.downloadTarget(target.info, temp);
              await rename(temp, path);
            } finally {
              await rm(temp, { force: true });
            }
          }, session.operation);
        }
        done += target.length;
        meter.update(done);
        paths.push(path);
      }
    } finally {
      unwatch();
    }
    meter.finish();
    return paths;
  }

  /**
   * Keeps only the new version's tar or archive as the next patch base (and the running version's entry
   * list); older bases, patches and partials go, except the temporary files of a process that still runs
   * (`.verified-<pid>`, `.partial-<pid>-...`).
   */
  private async prune(keep: string, version: string): Promise<void> {
    const o = this.options;
    const dir = o.downloadDir;
    // The running version's entry list, if its install folder needed it: the next download from this
    // version (a newer release before this one is installed) needs it again.
    const runningList = targetFileName(o.appName, o.currentVersion, 'entries');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, name);
      const writer = /\.(?:verified|partial)-(\d+)(?:-[0-9a-f]+)?$/.exec(name)?.[1];
      if (path !== keep && name !== runningList && !(writer !== undefined && Number(writer) !== process.pid && processAlive(Number(writer)))) {
        await rm(path, { recursive: true, force: true });
      }
    }
    for (const name of await readdir(o.stagedDir).catch(() => [] as string[])) {
      const other = name.endsWith('.json') ? name.slice(0, -5) : undefined;
      if (other !== undefined && other !== version && compareVersionsSafe(other, version) < 0) await removeStaged(o.stagedDir, other);
    }
  }

  /** Refreshes the metadata and lists this app's targets, holding the cache's metadata lock. */
  private open(signal: AbortSignal | undefined, what: string): Promise<Session> {
    return this.locked('metadata', signal, () => this.refresh(signal, what));
  }

  /** Seeds the trusted root, refreshes the metadata with a fresh tuf-js Updater and lists this app's targets. */
  private async refresh(signal: AbortSignal | undefined, what: string): Promise<Session> {
    const o = this.options;
    await this.guard('preparing the cache folder', signal, async () => {
      await mkdir(o.metadataDir, { recursive: true });
      await mkdir(o.downloadDir, { recursive: true });
      await seedTrustedRoot(o.metadataDir, o.trustedRoot);
    });
    // Before tuf-js parses any targets metadata: its own map conversion is quadratic in the number of targets.
    useLinearTargetsCodec();
    const operation = new Operation(signal);
    const fetcher = new ResumableFetcher({ ...o, partialDir: o.downloadDir }, operation);
    const updater = await this.refreshFromMirrors(operation, fetcher, signal, what);
    const catalog = await this.guard(what, signal, () => readCatalog(updater, o), operation);
    return { updater, operation, catalog };
  }

  /**
   * tuf-js's refresh, once per mirror at most: each request already fails over between mirrors when one
   * cannot deliver, but a mirror that delivers metadata tuf-js refuses (stale: a rollback; or tampered)
   * fails the whole refresh, which then starts again from the next mirror. tuf-js keeps only what it
   * verified, so the refused metadata changes nothing; whatever mirror serves it, the client ends with
   * metadata at least as new as what it had, or an error.
   */
  private async refreshFromMirrors(operation: Operation, fetcher: ResumableFetcher, signal: AbortSignal | undefined, what: string): Promise<Updater> {
    const o = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.guard(what, signal, async () => {
          const u = new Updater({ metadataDir: o.metadataDir, metadataBaseUrl: o.metadataUrl, targetDir: o.targetsDir, targetBaseUrl: o.targetsUrl, fetcher });
          await u.refresh();
          return u;
        }, operation);
      } catch (error) {
        if (!(error instanceof UpdateError) || error.code !== 'VERIFICATION' || attempt >= o.mirrors.length) throw error;
        // The mirror after the one that served last, which served what was refused.
        operation.mirror = (operation.mirror + 1) % o.mirrors.length;
        o.logger.warn(`tufup: ${error.message}; refreshing again, first from the mirror ${o.mirrors[operation.mirror]?.metadataUrl ?? ''}`);
      }
    }
  }

  /** Where a tar of `version` is kept: an intermediate of a patch chain, or the next patch base. */
  private tarPath(version: string): string {
    return join(this.options.downloadDir, `${this.options.appName}-${version}.tar`);
  }

  /** Runs `fn` as an UpdateError-throwing step; `operation` explains a tuf-js failure that kept only a message. */
  private async guard<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>, operation?: Operation): Promise<T> {
    if (signal?.aborted === true) throw new UpdateError('CANCELLED', `${what}: cancelled`);
    try {
      return await fn();
    } catch (error) {
      throw toUpdateError(error, what, signal, operation?.lastFailure);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * The shipped root seeds the cache; a cached root is kept only when it is newer (a followed rotation).
 * A cached root that does not parse or does not verify against itself counts as absent: tuf-js writes
 * metadata with a plain writeFileSync, so a crash can cut it short, and tuf-js would refuse it on every
 * check from then on.
 */
async function seedTrustedRoot(metadataDir: string, trusted: Uint8Array): Promise<void> {
  let shipped: number;
  try {
    shipped = rootVersion(trusted, false);
  } catch (cause) {
    throw new UpdateError('CONFIG', `the trusted root is not a TUF root.json: ${messageOf(cause)}`, { cause });
  }
  const path = join(metadataDir, 'root.json');
  let cached = -1;
  try {
    cached = rootVersion(await readFile(path), true);
  } catch {
    // Missing or broken: seeded again below.
  }
  if (cached < shipped) await writeFileAtomic(path, [trusted]);
}

/**
 * The version of a well-formed root.json; with `selfSigned`, only when it is signed by its own keys (as
 * tuf-js's Updater requires of the cached one). The shipped root's signatures are tuf-js's to judge.
 */
function rootVersion(bytes: Uint8Array, selfSigned: boolean): number {
  const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Parameters<typeof Metadata.fromJSON>[1];
  const root = Metadata.fromJSON(MetadataKind.Root, json);
  if (selfSigned) root.verifyDelegate(MetadataKind.Root, root);
  return root.signed.version;
}

/** Whether `error` is a file-system error on a path inside `dir` (an install file that cannot be read). */
function inFolder(error: unknown, dir: string): boolean {
  const path = isSystemError(error) ? error.path : undefined;
  return path !== undefined && (path === dir || path.startsWith(`${dir}${sep}`));
}

function compareVersionsSafe(a: string, b: string): number {
  try {
    return compareVersions(a, b);
  } catch {
    return 0;
  }
}
