/**
 * `@tufup/electron-client/compat`: electron-updater 6's `autoUpdater`, over tufup. Change the import
 * line (`from 'electron-updater'` to `from '@tufup/electron-client/compat'`), ship the repository's
 * `tufup.json` instead of `app-update.yml`, and the rest of an electron-updater main keeps working where
 * the meaning fits (docs/migrating-from-electron-updater.md). Nothing happens at import: the updater is
 * made at `autoUpdater`'s first use.
 */
import { createUpdater } from '../main/index.js';
import { AppUpdater } from './app-updater.js';

/** The app's one updater, as electron-updater's `autoUpdater`: reads `<resources>/tufup.json`. */
export const autoUpdater: AppUpdater = new AppUpdater((options) => createUpdater(options));

export { AppUpdater, UpdaterSignal, type UpdaterFactory } from './app-updater.js';
export { CancellationToken, CancellationError } from './cancellation.js';
export {
  DOWNLOAD_PROGRESS,
  UPDATE_DOWNLOADED,
  type AppUpdaterEvents,
  type DownloadNotification,
  type Logger,
  type ProgressInfo,
  type ReleaseNoteInfo,
  type UpdateCheckResult,
  type UpdateDownloadedEvent,
  type UpdateFileInfo,
  type UpdateInfo,
} from './types.js';
export { UpdateError, type UpdateErrorCode } from '../core/error.js';
