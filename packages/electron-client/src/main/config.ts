import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UpdateError, type Logger } from '../core/index.js';
import type { ElectronAdapter } from './adapter.js';

/** Options of {@link createUpdater}; everything has a default derived from the running app except the URLs. */
export interface UpdaterOptions {
  /** Base URL of the update repository: metadata from `<url>/metadata/`, files from `<url>/targets/`. */
  url?: string;
  /** Base URL of the metadata, when not under `url`. @default `<url>/metadata/` */
  metadataUrl?: string;
  /** Base URL of the target files, when not under `url`. @default `<url>/targets/` */
  targetsUrl?: string;
  /** App name in archive names. @default app.getName() */
  appName?: string;
  /** The running version. @default app.getVersion() */
  currentVersion?: string;
  /** The folder replaced by an update. @default the folder of process.execPath (the `.app` bundle on macOS) */
  installDir?: string;
  /** Where metadata, downloads, staged updates and installer logs go. @default `<userData>/tufup` */
  cacheDir?: string;
  /** The trusted root.json shipped with the app: path or bytes. @default `<resourcesPath>/tufup-root.json` */
  trustedRoot?: string | Uint8Array;
  /** Release channel (`latest`, `beta`, ...). @default 'latest' */
  channel?: string;
  /** Offer prereleases of every channel. @default false */
  allowPrerelease?: boolean;
  /** Download an update as soon as a check finds one. @default true */
  autoDownload?: boolean;
  /** Install a downloaded update when the app quits, or at the next launch if that did not happen. @default true */
  autoInstallOnAppQuit?: boolean;
  /** Extra HTTP headers sent with every request. @default {} */
  headers?: Record<string, string>;
  /** Abort a request when no bytes arrive for this long. @default 30000 */
  stallTimeoutMs?: number;
  /** Abort a request that averages fewer bytes per second than this over `stallTimeoutMs` (slow retrieval); 0 disables. @default 1024 */
  minBytesPerSecond?: number;
  /** How long a relaunched new version has to call `markHealthy()` before it is rolled back; 0 disables. @default 60000 */
  healthCheckTimeoutMs?: number;
  /** Command and arguments that start the app again after an install. @default process.execPath and the app's arguments */
  relaunchCommand?: readonly string[];
  /** Origins (`https://app.example`) or schemes (`file:`, `app:`) of windows allowed to use the renderer bridge. @default ['file:'] */
  allowedOrigins?: readonly string[];
  /** Receives diagnostics; `null` for none. @default electron-log */
  logger?: Logger | null;
  /** The worker entry file. @default this package's `dist/worker/index.js` */
  workerPath?: string;
}

/** The documented defaults of {@link UpdaterOptions}, merged once by {@link resolveUpdaterOptions}. */
export const UPDATER_DEFAULTS = {
  cacheFolder: 'tufup',
  trustedRootFile: 'tufup-root.json',
  channel: 'latest',
  allowPrerelease: false,
  autoDownload: true,
  autoInstallOnAppQuit: true,
  healthCheckTimeoutMs: 60_000,
  allowedOrigins: ['file:'],
} as const;

/** UpdaterOptions with every default applied. */
export interface ResolvedUpdaterOptions {
  metadataUrl: string;
  targetsUrl: string;
  appName: string;
  currentVersion: string;
  installDir: string;
  cacheDir: string;
  trustedRoot: string | Uint8Array;
  channel: string;
  allowPrerelease: boolean;
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  headers: Record<string, string>;
  stallTimeoutMs: number | undefined;
  minBytesPerSecond: number | undefined;
  healthCheckTimeoutMs: number;
  relaunchCommand: readonly string[];
  allowedOrigins: readonly string[];
  logger: Logger | undefined;
  workerPath: string;
}

/**
 * The folder an update replaces: on macOS the `.app` bundle around `Contents/MacOS/<exe>`, elsewhere the
 * executable's folder.
 */
export function defaultInstallDir(execPath: string, platform: NodeJS.Platform): string {
  if (platform === 'darwin') {
    const bundle = resolve(dirname(execPath), '..', '..');
    if (bundle.endsWith('.app')) return bundle;
  }
  return dirname(execPath);
}

/** The command that starts the app again: the executable and the arguments it was started with. */
export function defaultRelaunchCommand(adapter: ElectronAdapter): string[] {
  const argv = adapter.argv();
  // Unpackaged, argv[1] is the app folder given to `electron`; packaged, the rest are the user's arguments.
  return [adapter.execPath(), ...argv.slice(1)];
}

function joinUrl(base: string, folder: string): string {
  return new URL(`${folder}/`, base.endsWith('/') ? base : `${base}/`).href;
}

/** Applies {@link UPDATER_DEFAULTS} and the app's own facts; throws CONFIG when no repository URL is given. */
export function resolveUpdaterOptions(options: UpdaterOptions, adapter: ElectronAdapter, platform: NodeJS.Platform = process.platform): ResolvedUpdaterOptions {
  const base = options.url;
  const metadataUrl = options.metadataUrl ?? (base === undefined ? undefined : joinUrl(base, 'metadata'));
  const targetsUrl = options.targetsUrl ?? (base === undefined ? undefined : joinUrl(base, 'targets'));
  if (metadataUrl === undefined || targetsUrl === undefined) {
    throw new UpdateError('CONFIG', 'the updater needs `url` (or both `metadataUrl` and `targetsUrl`)');
  }
  return {
    metadataUrl,
    targetsUrl,
    appName: options.appName ?? adapter.appName(),
    currentVersion: options.currentVersion ?? adapter.appVersion(),
    installDir: options.installDir ?? defaultInstallDir(adapter.execPath(), platform),
    cacheDir: options.cacheDir ?? join(adapter.userDataPath(), UPDATER_DEFAULTS.cacheFolder),
    trustedRoot: options.trustedRoot ?? join(adapter.resourcesPath(), UPDATER_DEFAULTS.trustedRootFile),
    channel: options.channel ?? UPDATER_DEFAULTS.channel,
    allowPrerelease: options.allowPrerelease ?? UPDATER_DEFAULTS.allowPrerelease,
    autoDownload: options.autoDownload ?? UPDATER_DEFAULTS.autoDownload,
    autoInstallOnAppQuit: options.autoInstallOnAppQuit ?? UPDATER_DEFAULTS.autoInstallOnAppQuit,
    headers: { ...options.headers },
    stallTimeoutMs: options.stallTimeoutMs,
    minBytesPerSecond: options.minBytesPerSecond,
    healthCheckTimeoutMs: options.healthCheckTimeoutMs ?? UPDATER_DEFAULTS.healthCheckTimeoutMs,
    relaunchCommand: options.relaunchCommand ?? defaultRelaunchCommand(adapter),
    allowedOrigins: options.allowedOrigins ?? UPDATER_DEFAULTS.allowedOrigins,
    logger: options.logger === null ? undefined : (options.logger ?? adapter.defaultLogger()),
    workerPath: options.workerPath ?? fileURLToPath(new URL('../worker/index.js', import.meta.url)),
  };
}
