import { EventEmitter } from 'node:events';
import { toUpdateError } from '../core/error.js';
import { toErrorPayload } from '../ipc/errors.js';
import { findStagedUpdate, UpdateError, type Logger, type StagedUpdate, type UpdateInfo } from '../core/index.js';
import { startInstaller } from '../install/installer.js';
import { addFailedVersion, blocksLaunchInstall, clearInstallOutcome, installerRunning, readFailedVersions, writeHealthMarker, type InstallOutcome } from '../install/outcome.js';
import { recoverInterruptedInstall } from '../install/recovery.js';
import type { InstallOptions, RendererEvent, RendererEventMap, UpdaterEventMap, UpdaterStatus } from '../ipc/channels.js';
import type { WorkerOptions } from '../ipc/protocol.js';
import type { ElectronAdapter } from './adapter.js';
import { serveRenderers } from './renderer-host.js';
import { resolveUpdaterOptions, type ResolvedUpdaterOptions, type UpdaterOptions } from './config.js';
import { WorkerConnection } from './connection.js';
import { summaryOfInfo, summaryOfStaged } from './summary.js';

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
  /** Receives diagnostics; undefined for none. @default electron-log */
  logger: Logger | undefined;
  /** The running version. */
  readonly currentVersion: string;

  private readonly options: ResolvedUpdaterOptions;
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
  /** False when running unpackaged without an explicit installDir: the "install folder" would be Electron's own. */
  private readonly enabled: boolean;
  private readonly stopServing: () => void;

  constructor(
    options: UpdaterOptions,
    private readonly adapter: ElectronAdapter,
  ) {
    super();
    this.options = resolveUpdaterOptions(options, adapter);
    const o = this.options;
    this.autoDownload = o.autoDownload;
    this.autoInstallOnAppQuit = o.autoInstallOnAppQuit;
    this.allowPrerelease = o.allowPrerelease;
    this.channel = o.channel;
    this.logger = o.logger;
    this.currentVersion = o.currentVersion;
    this.status = { state: 'idle', currentVersion: o.currentVersion };
    this.enabled = adapter.isPackaged() || options.installDir !== undefined;
    // Through `this.logger`, so that an app replacing the logger at run time also gets the worker's lines.
    this.connection = new WorkerConnection(adapter, o.workerPath, { debug: (...a) => this.logger?.debug(...a), info: (...a) => this.logger?.info(...a), warn: (...a) => this.logger?.warn(...a), error: (...a) => this.logger?.error(...a) });
    adapter.onWillQuit(() => this.installOnQuit());
    this.stopServing = serveRenderers(this, adapter, o.allowedOrigins);
  }

  /** How the last installer run ended, read at the first check or {@link applyPendingUpdate}. */
  get lastInstall(): InstallOutcome | undefined {
    return this.lastOutcome;
  }

  /** The cache folder: metadata, downloads, staged updates and installer logs. */
  get cacheDir(): string {
    return this.options.cacheDir;
  }

  /** Where the updater is, for a window that opens late. */
  getStatus(): UpdaterStatus {
    return { ...this.status };
  }

  /** Asks the repository for a newer version; downloads it too when `autoDownload` is on. */
  checkForUpdates(): Promise<UpdateInfo | undefined> {
    if (!this.enabled) {
      this.logger?.info('tufup: not checking for updates: the app is not packaged (set installDir to try updates in development)');
      return Promise.resolve(undefined);
    }
    this.checking ??= this.runCheck().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Like {@link checkForUpdates}, then shows a system notification once the update is downloaded. Never rejects. */
  async checkForUpdatesAndNotify(): Promise<UpdateInfo | undefined> {
    const info = await this.checkForUpdates().catch(() => undefined);
    const staged = await this.downloading?.catch(() => undefined);
    if (info !== undefined && staged?.version === info.version) {
      this.adapter.notify(`${this.options.appName} ${info.version} is ready`, 'It will be installed when you quit the app.');
    }
    return info;
  }

  /** Downloads, verifies and stages the update the last check found. */
  downloadUpdate(cancelSignal?: AbortSignal): Promise<StagedUpdate> {
    const info = this.available;
    if (info === undefined) return Promise.reject(this.report(new UpdateError('NO_UPDATE', 'there is no update to download: check for updates first')));
    if (this.staged?.version === info.version) return Promise.resolve(this.staged);
    this.downloading ??= this.runDownload(info, cancelSignal).finally(() => (this.downloading = undefined));
    return this.downloading;
  }

  /**
   * Quits the app and installs the downloaded update; with `relaunch` (the default) the new version is
   * started and health-checked. Throws NO_UPDATE when nothing is downloaded.
   */
  quitAndInstall(options: InstallOptions = {}): void {
    const staged = this.staged;
    if (staged === undefined) throw this.report(new UpdateError('NO_UPDATE', 'there is no downloaded update to install'));
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
    if (!this.enabled) return false;
    let staged: StagedUpdate | undefined;
    try {
      const failed = await this.prepare();
      if (!this.autoInstallOnAppQuit) return false;
      staged = await findStagedUpdate(this.options.cacheDir, this.currentVersion, { excludeVersions: failed, ...(this.logger ? { logger: this.logger } : {}) });
    } catch (error) {
      throw this.report(toUpdateError(error, 'looking for a downloaded update'));
    }
    if (staged === undefined) return false;
    this.staged = staged;
    const last = this.lastOutcome;
    if (last?.status === 'started' && (await installerRunning(this.options.cacheDir))) {
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
    await writeHealthMarker(this.options.cacheDir, this.currentVersion);
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

  private publish<K extends keyof UpdaterEventMap>(event: K, args: UpdaterEventMap[K], forRenderer: RendererEventMap[K]): void {
    for (const observer of this.observers) observer({ event, args: forRenderer } as RendererEvent);
    if (event === 'error' && this.listenerCount('error') === 0) return;
    (this.emit as (event: K, ...args: UpdaterEventMap[K]) => boolean)(event, ...args);
  }

  private setStatus(next: Omit<UpdaterStatus, 'currentVersion'>): void {
    this.status = { ...next, currentVersion: this.currentVersion };
  }

  private report(error: unknown): UpdateError {
    const e = toUpdateError(error, 'the updater');
    const payload = toErrorPayload(e, 'the updater');
    this.logger?.error(`tufup: ${e.code}: ${e.message}`);
    this.setStatus({ ...this.status, state: 'error', error: payload });
    this.publish('error', [e], [payload]);
    return e;
  }

  /** The core's options for the worker: all but the Electron-only ones, as given, so a new core option needs no line here. */
  private workerOptions(failedVersions: string[]): WorkerOptions {
    const { autoDownload, autoInstallOnAppQuit, healthCheckTimeoutMs, relaunchCommand, keepFiles, allowedOrigins, workerPath, logger, ...core } = this.options;
    return { ...core, channel: this.channel, allowPrerelease: this.allowPrerelease, excludeVersions: failedVersions, log: this.logger !== undefined };
  }

  // Reads the last installer result once per run, after finishing what an interrupted run left (its health
  // check, its clean-up, the staged update it had taken): a rolled-back version joins the failed versions.
  private prepare(): Promise<string[]> {
    this.prepared ??= (async () => {
      const o = this.options;
      const cacheDir = o.cacheDir;
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
      info = await this.connection.check(this.workerOptions(failed));
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
        this.workerOptions(failed),
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

  private install(staged: StagedUpdate, relaunch: boolean): void {
    if (this.installing) return;
    const o = this.options;
    startInstaller({
      pid: this.adapter.pid(),
      installDir: o.installDir,
      stagedDir: staged.stagedDir,
      version: staged.version,
      cacheDir: o.cacheDir,
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
    try {
      this.install(staged, false);
    } catch (error) {
      this.report(error);
    }
  }
}
