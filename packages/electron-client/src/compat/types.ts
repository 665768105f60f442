/**
 * electron-updater 6's data shapes (builder-util-runtime's `UpdateInfo`, `ProgressInfo`, electron-updater's
 * `UpdateCheckResult`, `Logger`), so code written against them type-checks unchanged. Where tufup has no
 * equivalent the field is there with an empty value; docs/migrating-from-electron-updater.md lists them.
 */
import type { CancellationToken } from './cancellation.js';

/** One file of an update. */
export interface UpdateFileInfo {
  /** The target's path, relative to the repository's `targets/` folder. */
  url: string;
  /** Its length in bytes. */
  size?: number;
  /** Always '': tufup checks every file against the sha256 in signed TUF metadata instead. */
  readonly sha512: string;
  blockMapSize?: number;
  readonly isAdminRightsRequired?: boolean;
}

/** A version and its note, as in electron-updater's `fullChangelog` lists. */
export interface ReleaseNoteInfo {
  readonly version: string;
  readonly note: string | null;
}

/** The update a check found (or, with `update-not-available`, the running version). */
export interface UpdateInfo {
  readonly version: string;
  /** What a download fetches: the patch chain, or the full archive. */
  readonly files: UpdateFileInfo[];
  /** The first file's `url` (deprecated in electron-updater, kept for its shape). */
  readonly path: string;
  /** Always '' (see `files`; deprecated in electron-updater, kept for its shape). */
  readonly sha512: string;
  /** tufup has no release names: null. */
  releaseName?: string | null;
  /** The release notes given to `tufup-repo add --notes`, signed with the release. */
  releaseNotes?: string | ReleaseNoteInfo[] | null;
  /** Signed metadata carries no release date: ''. */
  releaseDate: string;
  /** The signed rollout percentage (`tufup-repo rollout`), when the release has one. */
  readonly stagingPercentage?: number;
  readonly minimumSystemVersion?: string;
}

/** `update-downloaded`: the update, and where it was staged. */
export interface UpdateDownloadedEvent extends UpdateInfo {
  /** The staged folder the installer will swap in. */
  downloadedFile: string;
}

/** `download-progress`. */
export interface ProgressInfo {
  /** Network bytes to download in all. */
  total: number;
  /** Network bytes since the previous event. */
  delta: number;
  /** Network bytes downloaded so far. */
  transferred: number;
  /** The whole update (download, patch, unpack), 0 to 100; it only grows. */
  percent: number;
  bytesPerSecond: number;
}

/** What `checkForUpdates()` resolves to (null when the updater is not active). */
export interface UpdateCheckResult {
  readonly isUpdateAvailable: boolean;
  readonly updateInfo: UpdateInfo;
  /** With `autoDownload`, the download started with `cancellationToken`; resolves to the staged folder. */
  readonly downloadPromise?: Promise<string[]> | null;
  readonly cancellationToken?: CancellationToken;
  /** The same as `updateInfo` (deprecated in electron-updater, kept for its shape). */
  readonly versionInfo: UpdateInfo;
}

/** electron-updater's logger: `debug` is optional; electron-log, winston or `console` fit. */
export interface Logger {
  info(message?: unknown): void;
  warn(message?: unknown): void;
  error(message?: unknown): void;
  debug?(message: string): void;
}

/** The notification `checkForUpdatesAndNotify()` shows; `{appName}` and `{version}` are filled in. */
export interface DownloadNotification {
  body: string;
  title: string;
}

/** The events of the compatible `autoUpdater`, with electron-updater's arguments. */
export interface AppUpdaterEvents {
  error: [error: Error, message?: string];
  'checking-for-update': [];
  'update-not-available': [info: UpdateInfo];
  'update-available': [info: UpdateInfo];
  'update-downloaded': [event: UpdateDownloadedEvent];
  'download-progress': [info: ProgressInfo];
  'update-cancelled': [info: UpdateInfo];
}

/** electron-updater's event name constants. */
export const DOWNLOAD_PROGRESS = 'download-progress';
export const UPDATE_DOWNLOADED = 'update-downloaded';
