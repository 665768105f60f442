import { EventEmitter } from 'node:events';
import type { OutgoingHttpHeaders } from 'node:http';
import semver from 'semver';
import { UpdateError } from '../core/error.js';
import type { Logger as TufupLogger } from '../core/index.js';
import type { UpdaterOptions } from '../main/config.js';
import type { TufupUpdater } from '../main/updater.js';
import { CancellationError, CancellationToken } from './cancellation.js';
import { currentInfoOf, downloadedEventOf, progressInfoOf, updateInfoOf } from './convert.js';
import type { AppUpdaterEvents, DownloadNotification, Logger, ProgressInfo, UpdateCheckResult, UpdateDownloadedEvent, UpdateInfo } from './types.js';

/** Makes the tufup updater behind the compatible one (`createUpdater`, or a test's). */
export type UpdaterFactory = (options: UpdaterOptions) => TufupUpdater;

/** electron-updater's default notification text, which its users' apps were written against. */
const NOTIFICATION: DownloadNotification = {
  title: 'A new update is ready to install',
  body: '{appName} version {version} has been downloaded and will be automatically installed on exit',
};

/** electron-updater's `signals`: typed subscriptions to its events. */
export class UpdaterSignal {
  constructor(private readonly emitter: AppUpdater) {}

  /** Never called: proxy logins reach the app's `app.on('login')` (see docs/electron-client.md). */
  login(_handler: (authInfo: unknown, callback: (username?: string, password?: string) => void) => void): void {
    // Kept for code that registers one; tufup has no separate login event.
  }
  progress(handler: (info: ProgressInfo) => void): void {
    this.emitter.on('download-progress', handler);
  }
  updateDownloaded(handler: (info: UpdateDownloadedEvent) => void): void {
    this.emitter.on('update-downloaded', handler);
  }
  updateCancelled(handler: (info: UpdateInfo) => void): void {
    this.emitter.on('update-cancelled', handler);
  }
}

/** electron-updater's `requestHeaders` as the plain string headers fetch sends. */
function headersOf(headers: OutgoingHttpHeaders | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** An electron-updater logger (one message, `debug` optional) as tufup's. */
function tufupLogger(logger: Logger): TufupLogger {
  const line = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return {
    debug: (...args) => logger.debug?.(line(args)),
    info: (...args) => logger.info(line(args)),
    warn: (...args) => logger.warn(line(args)),
    error: (...args) => logger.error(line(args)),
  };
}

/**
 * electron-updater 6's `AppUpdater` where its meaning fits, over a {@link TufupUpdater} made at the
 * first use (never at import). Members whose meaning cannot be kept are accepted and do nothing; each is
 * listed, with why, in docs/migrating-from-electron-updater.md.
 */
export class AppUpdater extends EventEmitter<AppUpdaterEvents> {
  /** Download an update as soon as a check finds one. @default true */
  autoDownload = true;
  /** Install a downloaded update when the app quits. @default true */
  autoInstallOnAppQuit = true;
  /** Relaunch after installing when `quitAndInstall` is not silent. @default true */
  autoRunAppAfterInstall = true;
  /** Offer prereleases of every channel. @default false */
  allowPrerelease = false;
  /** No effect: a downgrade is never taken unless the publisher signed it (a yanked release). */
  allowDowngrade = false;
  /** No effect: `releaseNotes` is the update's own, signed with it. */
  fullChangelog = false;
  /** No effect: there is no web installer. */
  disableWebInstaller = false;
  /** No effect: patches are chosen from signed metadata, with the full archive as the fallback. */
  disableDifferentialDownload = false;
  /** No effect: an unpackaged app updates only with the `installDir` option of `createUpdater`. */
  forceDevUpdateConfig = false;
  /** No effect: there are no block maps. */
  previousBlockmapBaseUrlOverride: string | null = null;
  /** HTTP headers sent with every request. */
  requestHeaders: OutgoingHttpHeaders | null = null;
  /** Typed subscriptions to the events. */
  readonly signals: UpdaterSignal = new UpdaterSignal(this);

  private channelName: string | null = null;
  private loggerValue: Logger | null = null;
  private loggerSet = false;
  private feedUrl: string | undefined;
  private updater: TufupUpdater | undefined;
  private available: UpdateInfo | undefined;
  private downloading: Promise<string[]> | undefined;
  private confirmed = false;

  constructor(
    private readonly factory: UpdaterFactory,
    /** Options for the updater behind this one (`trustedRoot`, `installDir`, ...); `setFeedURL` sets `url`. */
    private readonly options: UpdaterOptions = {},
  ) {
    super();
  }

  /** The release channel; null is `latest`. */
  get channel(): string | null {
    return this.channelName;
  }
  set channel(value: string | null) {
    this.channelName = value;
  }

  /** Receives diagnostics; null for none. @default electron-log when the app has it installed, else none */
  get logger(): Logger | null {
    return this.loggerValue;
  }
  set logger(value: Logger | null) {
    this.loggerValue = value;
    this.loggerSet = true;
  }

  /** The running version. */
  get currentVersion(): semver.SemVer {
    return new semver.SemVer(this.sync().currentVersion);
  }

  /** Adds `authorization: <token>` to the request headers, as electron-updater does. */
  addAuthHeader(token: string): void {
    this.requestHeaders = { ...this.requestHeaders, authorization: token };
  }

  /**
   * Points the updater at a tufup repository: its base URL, or `{ provider: 'generic', url }`. Other
   * providers (github, s3, ...) are refused with CONFIG: tufup reads signed TUF metadata, which
   * `tufup-repo publish` puts wherever the URL points. Call it before the first check.
   */
  setFeedURL(options: string | { provider?: string; url?: string }): void {
    const url = typeof options === 'string' ? options : options.provider === undefined || options.provider === 'generic' ? options.url : undefined;
    if (url === undefined) {
      const provider = typeof options === 'string' ? '' : (options.provider ?? '');
      throw new UpdateError('CONFIG', `tufup reads a TUF repository at a URL (provider "generic"), not the "${provider}" provider: publish with tufup-repo and give its URL`);
    }
    this.feedUrl = url;
    // A repository of its own: the next call starts from it.
    this.updater?.dispose();
    this.updater = undefined;
  }

  /** The repository URL set by `setFeedURL`; null when it comes from the trust file. */
  getFeedURL(): string | null {
    return this.feedUrl ?? null;
  }

  /** Whether this install can update itself (docs/electron-client.md, "Where an app can update itself"). */
  isUpdaterActive(): boolean {
    return this.sync().isUpdaterActive();
  }

  /**
   * Asks the repository for a newer version; null when the updater is not active. With `autoDownload`,
   * `downloadPromise` is the download, cancellable through `cancellationToken`. The first check of a
   * run also confirms a healthy start to the installer (electron-updater apps have no `markHealthy`).
   */
  async checkForUpdates(): Promise<UpdateCheckResult | null> {
    const updater = this.sync();
    if (!updater.isUpdaterActive()) return null;
    if (!this.confirmed) {
      this.confirmed = true;
      await this.markHealthy().catch((error: unknown) => updater.logger?.warn('tufup: could not confirm a healthy start', error));
    }
    const found = await updater.checkForUpdates();
    if (found === undefined) {
      const info = currentInfoOf(updater.currentVersion);
      this.emit('update-not-available', info);
      return { isUpdateAvailable: false, updateInfo: info, versionInfo: info };
    }
    const info = updateInfoOf(found);
    this.available = info;
    this.emit('update-available', info);
    const cancellationToken = new CancellationToken();
    const downloadPromise = this.autoDownload ? this.downloadUpdate(cancellationToken) : null;
    // An app that never awaits it must not get an unhandled rejection; one that does still sees it.
    downloadPromise?.catch(() => undefined);
    return { isUpdateAvailable: true, updateInfo: info, versionInfo: info, cancellationToken, downloadPromise };
  }

  /** Like `checkForUpdates`, then a notification once the download is done (`{appName}`, `{version}` filled in). */
  async checkForUpdatesAndNotify(downloadNotification?: DownloadNotification): Promise<UpdateCheckResult | null> {
    const result = await this.checkForUpdates();
    const version = result?.updateInfo.version;
    result?.downloadPromise?.then(
      () => this.updater?.notifyDownloaded(version ?? '', downloadNotification ?? NOTIFICATION),
      () => undefined,
    );
    return result;
  }

  /**
   * Downloads the update the last check found; resolves to the staged folder. A cancelled token rejects
   * it with a `CancellationError` and emits `update-cancelled`, not `error`.
   */
  downloadUpdate(cancellationToken: CancellationToken = new CancellationToken()): Promise<string[]> {
    const updater = this.sync();
    const info = this.available;
    this.downloading ??= updater
      .downloadUpdate(cancellationToken.signal)
      .then(
        (staged) => {
          this.emit('update-downloaded', downloadedEventOf(info ?? currentInfoOf(staged.version), staged));
          return [staged.stagedDir];
        },
        (error: unknown) => {
          if (error instanceof UpdateError && error.code === 'CANCELLED') {
            if (info !== undefined) this.emit('update-cancelled', info);
            throw new CancellationError();
          }
          throw error;
        },
      )
      .finally(() => (this.downloading = undefined));
    return this.downloading;
  }

  /**
   * Quits and installs the downloaded update. The installer never shows a window, so `isSilent` only
   * decides the relaunch, as in electron-updater: silent, `isForceRunAfter`; else `autoRunAppAfterInstall`.
   * Without a downloaded update it does nothing (the `error` event says why).
   */
  quitAndInstall(isSilent = false, isForceRunAfter = false): void {
    try {
      this.sync().quitAndInstall({ relaunch: isSilent ? isForceRunAfter : this.autoRunAppAfterInstall });
    } catch {
      // Reported as an `error` event already; electron-updater does not throw here either.
    }
  }

  /** tufup's own: confirms that this version started well (the first `checkForUpdates` does it too). */
  markHealthy(): Promise<void> {
    return this.sync().markHealthy();
  }

  /** tufup's own: installs an update downloaded in an earlier run but never installed; true when the app quits for it. */
  applyPendingUpdate(): Promise<boolean> {
    return this.sync().applyPendingUpdate();
  }

  /** The updater behind this one, made at the first use, with this one's settings copied in. */
  private sync(): TufupUpdater {
    this.updater ??= this.create();
    const updater = this.updater;
    updater.autoInstallOnAppQuit = this.autoInstallOnAppQuit;
    updater.allowPrerelease = this.allowPrerelease;
    updater.channel = this.channelName ?? 'latest';
    updater.headers = headersOf(this.requestHeaders);
    if (this.loggerSet) updater.logger = this.loggerValue === null ? undefined : tufupLogger(this.loggerValue);
    return updater;
  }

  private create(): TufupUpdater {
    // This object downloads itself (for downloadPromise and its token), so the one behind never does.
    const updater = this.factory({ ...this.options, ...(this.feedUrl === undefined ? {} : { url: this.feedUrl }), autoDownload: false });
    updater.on('checking-for-update', () => this.emit('checking-for-update'));
    updater.on('download-progress', (progress) => this.emit('download-progress', progressInfoOf(progress)));
    updater.on('error', (error) => {
      // A cancellation is not an error for electron-updater's users; an error without a listener is not thrown.
      if (error.code !== 'CANCELLED' && this.listenerCount('error') > 0) this.emit('error', error, error.message);
    });
    return updater;
  }
}
