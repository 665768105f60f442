import type { ElectronAdapter } from './adapter.js';
import type { UpdaterOptions } from './config.js';
import { electronAdapter } from './electron-adapter.js';
import { TufupUpdater } from './updater.js';

/**
 * Creates the updater for the running Electron app and serves the preload bridge. Call it once, in the
 * main process; with no options it reads everything from `<resources>/tufup.json` (see
 * docs/electron-client.md for the lines to add to main, preload and renderer). Throws
 * UNSUPPORTED_RUNTIME on an Electron older than 43; anything else wrong surfaces at the first check.
 */
export function createUpdater(options: UpdaterOptions = {}, adapter: ElectronAdapter = electronAdapter({ session: options.session })): TufupUpdater {
  return new TufupUpdater(options, adapter);
}

export { TufupUpdater } from './updater.js';
export { UPDATER_DEFAULTS, DEFAULT_NOTIFICATION, TRUSTED_ROOT_FILE, type UpdaterOptions, type NotificationText } from './config.js';
export type { UnsupportedReason } from './install-support.js';
export type { ElectronAdapter, WorkerProcess, RendererTarget, InvokeContext } from './adapter.js';
export type { InstallOutcome, InstallStatus } from '../install/outcome.js';
export type { UpdaterEventMap, UpdaterStatus, UpdateSummary, InstallOptions, UnsupportedInstall } from '../ipc/channels.js';
export { UpdateError, type UpdateErrorCode } from '../core/error.js';
export type { UpdateInfo, StagedUpdate, Progress, Logger } from '../core/index.js';
