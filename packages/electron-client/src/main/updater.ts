import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WORKER } from '#worker-source';
import { toUpdateError, UpdateError } from '../core/error.js';
import type { Logger, StagedUpdate, UpdateInfo } from '../core/index.js';
import { runtimeProblem, zstdDictionaryWorks } from '../core/runtime.js';
import { findStagedUpdate, stagedPaths, stagedRecordOf } from '../core/stage.js';
import { startInstaller } from '../install/installer.js';
import { materialize } from '../install/materialize.js';
import { addFailedVersion, blocksLaunchInstall, clearInstallOutcome, installerRunning, readFailedVersions, writeHealthMarker, type InstallOutcome } from '../install/outcome.js';
import { recoverInterruptedInstall } from '../install/recovery.js';
import type { InstallOptions, RendererEvent, RendererEventMap, UnsupportedInstall, UpdaterEventMap, UpdaterStatus } from '../ipc/channels.js';
import { toErrorPayload } from '../ipc/errors.js';
import type { WorkerOptions } from '../ipc/protocol.js';
import type { ElectronAdapter } from './adapter.js';
import { resolveUpdaterOptions, type NotificationText, type ResolvedUpdaterOptions, type UpdaterOptions } from './config.js';
import { WorkerConnection } from './connection.js';
import { installSupport, probeInstall, type InstallSupport } from './install-support.js';
import { legacyCacheDir, migrateCacheDir } from './paths.js';
import { serveRenderers } from './renderer-host.js';
import { readUpdateSource, type UpdateSource } from './source.js';
import { summaryOfInfo, summaryOfStaged } from './summary.js';

/** The folder under the cache folder the worker file is written to. */
const RUNTIME_FOLDER = 'runtime';

/**
 * Throws UNSUPPORTED_RUNTIME on an Electron too old for the client (zstd dictionaries in node:zlib):
 * a developer's mistake, found where the updater is made rather than at the first patch.
 */
function checkRuntime(adapter: ElectronAdapter): void {
  const versions = adapter.versions();
  const problem = runtimeProblem({ node: versions.node, electron: versions.electron, zstdDictionary: zstdDictionaryWorks() });
  if (problem !== undefined) throw new UpdateError('UNSUPPORTED_RUNTIME', problem);
}

function fill(template: string, values: Record<'appName' | 'version', string>): string {
  return template.replaceAll('{appName}', values.appName).replaceAll('{version}', values.version);
}

/**
 * The autoUpdater-style updater of the main process. Checks, downloads and verification run in a
 * worker process; this object keeps the state, emits the events and hands off to the installer.
 */
export class TufupUpdater extends EventEmitter<UpdaterEventMap> {
  /** Download an update as soon as a check finds one. @default true */
  autoDownload: boolean;
  /** Install a downloaded update when the app quits (or at the next launch). @default true */
  autoInstallOnAppQuit: boolean;
  /** Offer prereleases of every channel. @default false */
  allowPrerelease: boolean;
  /** Release channel. @default 'latest' */
  channel: string;
  /** HTTP headers sent with every request (e.g. an access token); changes apply to the next request. @default the `headers` option */
  headers: Record<string, string>;
  /** Receives diagnostics; undefined for none. @default electron-log, when installed */
  logger: Logger | undefined;
  /** The running version. */
  readonly currentVersion: string;

  private readonly options: ResolvedUpdaterOptions;
  private readonly given: UpdaterOptions;
  private readonly connection: WorkerConnection;
  private readonly observers = new Set<(event: RendererEvent) => void>();
  private status: UpdaterStatus;
  private available: UpdateInfo | undefined;
  private staged: StagedUpdate | undefined;
  private checking: Promise<UpdateInfo | undefined> | undefined;
  private downloading: Promise<StagedUpdate> | undefined;
  private prepared: Promise<string[]> | undefined;
  private installing = false;
  private lastOutcome: InstallOutcome | undefined;
  private support: InstallSupport | undefined;
  private source: UpdateSource | undefined;
  private cache: Promise<string> | undefined;
  private effectiveCacheDir: string | undefined;
  private readonly stopServing: () => void;

  /** Throws UNSUPPORTED_RUNTIME on an Electron older than 43; reads no file (the first check does). */
  constructor(
    options: UpdaterOptions,
    private readonly adapter: ElectronAdapter,
  ) {
    super();
    checkRuntime(adapter);
    this.given = options;
    this.options = resolveUpdaterOptions(options, adapter);
    const o = this.options;
    this.autoDownload = o.autoDownload;
    this.autoInstallOnAppQuit = o.autoInstallOnAppQuit;
    this.allowPrerelease = o.allowPrerelease;
    this.channel = o.channel;
    this.headers = { ...o.headers };
    this.logger = o.logger;
    this.currentVersion = o.currentVersion;
    this.status = { state: 'idle', currentVersion: o.currentVersion };
    // Through `this.logger`, so that an app replacing the logger at run time also gets the worker's lines.
    const logger: Logger = { debug: (...a) => this.logger?.debug(...a), info: (...a) => this.logger?.info(...a), warn: (...a) => this.logger?.warn(...a), error: (...a) => this.logger?.error(...a) };
    this.connection = new WorkerConnection(adapter, () => this.workerFile(), logger);
    adapter.onWillQuit(() => this.installOnQuit());
    this.stopServing = serveRenderers(this, adapter, o.allowedOrigins);
  }

  /** How the last installer run ended, read at the first check or {@link applyPendingUpdate}. */
  get lastInstall(): InstallOutcome | undefined {
    return this.lastOutcome;
  }

  /** The cache folder: metadata, downloads, staged updates, the worker file and installer logs. */
  get cacheDir(): string {
    return this.effectiveCacheDir ?? this.options.cacheDir;
  }

  /** The app name in the repository: the trust file's, once the first check read it. */
  get appName(): string {
    return this.source?.appName ?? this.given.appName ?? this.adapter.appName();
  }

  /**
   * Whether this install can update itself, decided once, before anything is downloaded: not when it
   * runs unpackaged, from a read-only or root-owned location, as an AppImage, translocated, or from a
   * Squirrel.Windows layout. When not, {@link getStatus} says why (`unsupported`), checks find nothing,
   * and downloads and installs are refused with UNSUPPORTED_INSTALL.
   */
  isUpdaterActive(): boolean {
    if (this.support === undefined) {
      const o = this.options;
      this.support = installSupport(
        probeInstall({ platform: process.platform, packaged: this.adapter.isPackaged(), installDirGiven: this.given.installDir !== undefined, installDir: o.installDir, env: this.adapter.env() }),
      );
      if (!this.support.supported) {
        this.logger?.info(`tufup: ${this.support.message}`);
        this.setStatus({ state: 'unsupported', unsupported: this.unsupported() });
      }
    }
    return this.support.supported;
  }

  /** Where the updater is, for a window that opens late. */
  getStatus(): UpdaterStatus {
    this.isUpdaterActive();
    return { ...this.status };
  }

  /**
   * Asks the repository for a newer version; downloads it too when `autoDownload` is on. Resolves
   * undefined without asking anything when this install cannot update itself ({@link isUpdaterActive}).
   */
  checkForUpdates(): Promise<UpdateInfo | undefined> {
    if (!this.isUpdaterActive()) return Promise.resolve(undefined);
    this.checking ??= this.runCheck().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /**
   * Like {@link checkForUpdates}, then shows a system notification once the update is downloaded
   * (`notification`, else the `notification` option; `{appName}` and `{version}` are filled in). Never rejects.
   */
  async checkForUpdatesAndNotify(notification?: NotificationText): Promise<UpdateInfo | undefined> {
    const info = await this.checkForUpdates().catch(() => undefined);
    const staged = await this.downloading?.catch(() => undefined);
    if (info !== undefined && staged?.version === info.version) this.notifyDownloaded(info.version, notification);
    return info;
  }

  /** @internal Shows the "ready to install" notification of `version` (`notification`, else the option's text). */
  notifyDownloaded(version: string, notification?: NotificationText): void {
    const text = notification ?? this.options.notification;
    const values = { appName: this.appName, version };
    this.adapter.notify(fill(text.title, values), fill(text.body, values));
  }

  /** Downloads, verifies and stages the update the last check found. */
  downloadUpdate(cancelSignal?: AbortSignal): Promise<StagedUpdate> {
    if (!this.isUpdaterActive()) return Promise.reject(this.report(this.unsupportedError()));
    const info = this.available;
    if (info === undefined) return Promise.reject(this.report(new UpdateError('NO_UPDATE', 'there is no update to download: check for updates first')));
    if (this.staged?.version === info.version) return Promise.resolve(this.staged);
    this.downloading ??= this.runDownload(info, cancelSignal).finally(() => (this.downloading = undefined));
    return this.downloading;
  }

  /**
   * Quits the app and installs the downloaded update; with `relaunch` (the default) the new version is
   * started and health-checked. Throws NO_UPDATE, and neither quits nor installs, when nothing is
   * downloaded, or when the downloaded update is no longer staged (a check since, of this app or of
   * another instance on the same cache, found it yanked and removed it).
   */
  quitAndInstall(options: InstallOptions = {}): void {
    if (!this.isUpdaterActive()) throw this.report(this.unsupportedError());
    const staged = this.staged;
    if (staged === undefined) throw this.report(new UpdateError('NO_UPDATE', 'there is no downloaded update to install'));
    const gone = this.withdrawn(staged);
    if (gone !== undefined) throw this.report(gone);
    try {
      this.install(staged, options.relaunch ?? true);
    } catch (error) {
      throw this.report(error);
    }
    this.adapter.quit();
  }

  /**
   * Call once at startup, before opening a window. Reads how the last install went (a rolled-back
   * version is never offered again) and installs an update that was downloaded but not installed, e.g.
   * because the system killed the installer. Returns true when the app is quitting to install it;
   * rejects with an UpdateError (DISK when the cache folder cannot be read or cleaned).
   */
  async applyPendingUpdate(): Promise<boolean> {
    if (!this.isUpdaterActive()) return false;
    let staged: StagedUpdate | undefined;
    try {
      const failed = await this.prepare();
      if (!this.autoInstallOnAppQuit) return false;
      staged = await findStagedUpdate(await this.cacheFolder(), this.currentVersion, { excludeVersions: failed, ...(this.logger ? { logger: this.logger } : {}) });
    } catch (error) {
      throw this.report(toUpdateError(error, 'looking for a downloaded update'));
    }
    if (staged === undefined) return false;
    this.staged = staged;
    const last = this.lastOutcome;
    if (last?.status === 'started' && (await installerRunning(this.cacheDir))) {
      this.logger?.info('tufup: an installer is still at work; not starting another');
      return false;
    }
    if (blocksLaunchInstall(last, staged.version)) {
      // Installing it failed just now in a way that would fail again (the folder is not writable); retrying
      // at every launch would loop. Other failures (the staged copy was gone) do not stop a new attempt.
      this.logger?.warn(`tufup: ${staged.version} failed to install (${last.reason ?? 'unknown'}); retrying when the app quits`);
      return false;
    }
    this.logger?.info(`tufup: installing ${staged.version}, downloaded earlier`);
    try {
      this.install(staged, true);
    } catch (error) {
      this.report(error);
      return false;
    }
    this.adapter.quit();
    return true;
  }

  /** Confirms that this version started well; call it once the app works (e.g. its window showed). */
  async markHealthy(): Promise<void> {
    await writeHealthMarker(await this.cacheFolder(), this.currentVersion);
  }

  /** @internal Receives every event in its renderer form; returns the unsubscribe function. */
  observe(observer: (event: RendererEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Ends the worker and removes the IPC handlers, for an app that drops the updater. */
  dispose(): void {
    this.stopServing();
    this.connection.close();
  }

  private unsupported(): UnsupportedInstall | undefined {
    const support = this.support;
    return support === undefined || support.supported ? undefined : { code: 'UNSUPPORTED_INSTALL', reason: support.reason, message: support.message };
  }

  private unsupportedError(): UpdateError {
    const unsupported = this.unsupported();
    return new UpdateError('UNSUPPORTED_INSTALL', unsupported === undefined ? 'this install cannot update itself' : `${unsupported.message} (${unsupported.reason})`);
  }

  private publish<K extends keyof UpdaterEventMap>(event: K, args: UpdaterEventMap[K], forRenderer: RendererEventMap[K]): void {
    for (const observer of this.observers) observer({ event, args: forRenderer } as RendererEvent);
    if (event === 'error' && this.listenerCount('error') === 0) return;
    (this.emit as (event: K, ...args: UpdaterEventMap[K]) => boolean)(event, ...args);
  }

  private setStatus(next: Omit<UpdaterStatus, 'currentVersion'>): void {
    const { unsupported, ...rest } = next;
    this.status = { ...rest, currentVersion: this.currentVersion, ...(unsupported === undefined ? {} : { unsupported }) };
  }

  private report(error: unknown): UpdateError {
    const e = toUpdateError(error, 'the updater');
    const payload = toErrorPayload(e, 'the updater');
    this.logger?.error(`tufup: ${e.code}: ${e.message}`);
    this.setStatus({ ...this.status, state: 'error', error: payload });
    this.publish('error', [e], [payload]);
    return e;
  }

  /**
   * The cache folder of this run: the configured one, after moving an older `<userData>/tufup` there
   * once (only when the app did not name a cache folder itself).
   */
  private cacheFolder(): Promise<string> {
    this.cache ??= (async () => {
      const o = this.options;
      const dir = o.cacheDirGiven ? o.cacheDir : await migrateCacheDir(legacyCacheDir(this.adapter.userDataPath()), o.cacheDir, this.logger);
      this.effectiveCacheDir = dir;
      return dir;
    })();
    return this.cache;
  }

  /** The worker entry: the app's `workerPath`, or the embedded worker written to the cache and checked before each start. */
  private async workerFile(): Promise<string> {
    if (this.options.workerPath !== undefined) return this.options.workerPath;
    return materialize(WORKER, join(await this.cacheFolder(), RUNTIME_FOLDER), 'worker-');
  }

  /** The app name, URLs and trusted root, read from the shipped trust file at the first check; CONFIG when wrong. */
  private updateSource(): UpdateSource {
    this.source ??= readUpdateSource({ ...this.given, trustedRoot: this.options.trustedRoot }, () => this.adapter.appName());
    return this.source;
  }

  /** The core's options for the worker: all but the Electron-only ones, as given, so a new core option needs no line here. */
  private async workerOptions(failedVersions: string[]): Promise<WorkerOptions> {
    const { autoDownload, autoInstallOnAppQuit, healthCheckTimeoutMs, relaunchCommand, keepFiles, allowedOrigins, workerPath, logger, notification, cacheDirGiven, url, ...core } = this.options;
    const { appName, metadataUrl, targetsUrl, trustedRoot } = this.updateSource();
    return {
      ...core,
      appName,
      metadataUrl,
      targetsUrl,
      trustedRoot,
      cacheDir: await this.cacheFolder(),
      channel: this.channel,
      allowPrerelease: this.allowPrerelease,
      headers: this.headers,
      excludeVersions: failedVersions,
      log: this.logger !== undefined,
    };
  }

  // Reads the last installer result once per run, after finishing what an interrupted run left (its health
  // check, its clean-up, the staged update it had taken): a rolled-back version joins the failed versions.
  private prepare(): Promise<string[]> {
    this.prepared ??= (async () => {
      const o = this.options;
      const cacheDir = await this.cacheFolder();
      const recovery = await recoverInterruptedInstall({
        installDir: o.installDir,
        cacheDir,
        currentVersion: this.currentVersion,
        pid: this.adapter.pid(),
        relaunch: o.relaunchCommand,
        healthTimeoutMs: o.healthCheckTimeoutMs,
        ...(this.logger ? { logger: this.logger } : {}),
      });
      // The finishing installer watches this run: no second installer until it is done.
      if (recovery.action === 'finishing') this.installing = true;
      const outcome = recovery.outcome;
      this.lastOutcome = outcome;
      if (outcome?.status === 'rolled-back' && outcome.version !== undefined) {
        this.logger?.warn(`tufup: ${outcome.version} was rolled back (${outcome.reason ?? 'unknown'}); it will not be offered again`);
        await addFailedVersion(cacheDir, outcome.version);
      }
      // A failed result stays until the next install so that a launch does not retry it in a loop.
      if (outcome?.status === 'installed' || outcome?.status === 'rolled-back') await clearInstallOutcome(cacheDir);
      return readFailedVersions(cacheDir);
    })().catch((error: unknown) => {
      this.prepared = undefined;
      throw error;
    });
    return this.prepared;
  }

  private async runCheck(): Promise<UpdateInfo | undefined> {
    this.setStatus({ state: 'checking' });
    this.publish('checking-for-update', [], []);
    let info: UpdateInfo | undefined;
    try {
      const failed = await this.prepare();
      info = await this.connection.check(await this.workerOptions(failed));
      await this.revalidateStaged(failed);
    } catch (error) {
      throw this.report(error);
    }
    this.available = info;
    if (info === undefined) {
      this.setStatus({ state: 'not-available' });
      this.publish('update-not-available', [{ version: this.currentVersion }], [{ version: this.currentVersion }]);
      return undefined;
    }
    const summary = summaryOfInfo(info);
    this.setStatus({ state: 'available', update: summary });
    this.publish('update-available', [summary], [summary]);
    if (this.autoDownload) this.downloadUpdate().catch(() => undefined);
    return info;
  }

  private async runDownload(info: UpdateInfo, signal: AbortSignal | undefined): Promise<StagedUpdate> {
    const update = summaryOfInfo(info);
    this.setStatus({ state: 'downloading', update });
    let staged: StagedUpdate;
    try {
      const failed = await this.prepare();
      staged = await this.connection.download(
        await this.workerOptions(failed),
        info,
        (progress) => {
          this.setStatus({ state: 'downloading', update, progress });
          this.publish('download-progress', [progress], [progress]);
        },
        signal,
      );
    } catch (error) {
      throw this.report(error);
    }
    this.staged = staged;
    const summary = summaryOfStaged(staged);
    this.setStatus({ state: 'downloaded', update: summary });
    this.publish('update-downloaded', [summary], [summary]);
    return staged;
  }

  /**
   * After a check: whether the staged update held still counts. The check removes a staged copy of a
   * version the publisher has since yanked (and a downgrade off a yanked version no longer counts once
   * that is unyanked): then it is dropped, so that nothing installs a removed folder, and what is staged
   * now, if anything (another instance may have staged a newer one), is taken instead, verified.
   */
  private async revalidateStaged(failed: string[]): Promise<void> {
    const held = this.staged;
    if (held === undefined) return;
    const options = { excludeVersions: failed, ...(this.logger ? { logger: this.logger } : {}) };
    const cacheDir = await this.cacheFolder();
    const still = await stagedRecordOf(cacheDir, this.currentVersion, held.version, options);
    if (still?.stagedAt === held.stagedAt && existsSync(held.stagedDir)) return;
    this.staged = await findStagedUpdate(cacheDir, this.currentVersion, options);
    this.logger?.warn(
      `tufup: ${held.version}, downloaded earlier, is no longer staged (the check found it yanked, or it was removed); it will not be installed` +
        (this.staged === undefined ? '' : `; ${this.staged.version}, staged since, will be`),
    );
  }

  /**
   * The NO_UPDATE error when the staged update held is gone from the cache (its record or its folder),
   * e.g. removed as yanked by another instance's check since: checked synchronously, as the app quits,
   * right before the installer would be handed the folder. Undefined when it is still there.
   */
  private withdrawn(staged: StagedUpdate): UpdateError | undefined {
    if (existsSync(stagedPaths(dirname(staged.stagedDir), staged.version).record) && existsSync(staged.stagedDir)) return undefined;
    this.staged = undefined;
    return new UpdateError('NO_UPDATE', `the downloaded update ${staged.version} is no longer staged (found yanked by a check since, or removed); nothing was installed`);
  }

  private install(staged: StagedUpdate, relaunch: boolean): void {
    if (this.installing) return;
    const o = this.options;
    startInstaller({
      pid: this.adapter.pid(),
      installDir: o.installDir,
      stagedDir: staged.stagedDir,
      version: staged.version,
      cacheDir: this.cacheDir,
      relaunch: relaunch ? o.relaunchCommand : [],
      healthTimeoutMs: relaunch ? o.healthCheckTimeoutMs : 0,
      keep: o.keepFiles,
    });
    this.installing = true;
    this.logger?.info(`tufup: the installer will install ${staged.version} once the app has quit`);
    this.connection.close();
  }

  private installOnQuit(): void {
    const staged = this.staged;
    if (this.installing || !this.autoInstallOnAppQuit || staged === undefined) return;
    const gone = this.withdrawn(staged);
    if (gone !== undefined) {
      this.report(gone);
      return;
    }
    try {
      this.install(staged, false);
    } catch (error) {
      this.report(error);
    }
  }
}
