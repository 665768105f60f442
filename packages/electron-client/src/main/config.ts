import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS as CORE_DEFAULTS, UpdateError, type CoreOptions, type Logger } from '../core/index.js';
import { keepDefaults } from '../install/layouts.js';
import type { ElectronAdapter } from './adapter.js';

/**
 * Core options the updater sets itself: `fetch` is the worker's own (Electron's `net`, through `netRequestFetch`), `logger`
 * is the updater's (below) and `excludeVersions` comes from the installer's health check.
 */
type SetByUpdater = 'fetch' | 'logger' | 'excludeVersions';

/** What the updater takes from the running app when the options do not say (see {@link UpdaterOptions}). */
type FromTheApp = 'appName' | 'currentVersion' | 'installDir' | 'cacheDir' | 'trustedRoot' | 'relaunchCommand' | 'keepFiles' | 'workerPath';

/**
 * Options of {@link createUpdater}. Every {@link CoreOptions} option but `fetch`, `logger` and
 * `excludeVersions` (documented there, passed to the update worker as given), plus the Electron-only
 * ones below. Only the repository URL is required; what the core needs from the running app defaults to:
 * - `appName`: `app.getName()`; `currentVersion`: `app.getVersion()`
 * - `installDir`: the folder of `process.execPath` (the `.app` bundle on macOS)
 * - `cacheDir`: `<userData>/tufup` (metadata, downloads, staged updates, installer logs)
 * - `trustedRoot`: `<resourcesPath>/tufup-root.json`
 * - `metadataUrl`, `targetsUrl`: `<url>/metadata/`, `<url>/targets/`
 */
export interface UpdaterOptions extends Partial<Omit<CoreOptions, SetByUpdater>> {
  /** Base URL of the update repository: metadata from `<url>/metadata/`, files from `<url>/targets/`. */
  url?: string;
  /** Download an update as soon as a check finds one. @default true */
  autoDownload?: boolean;
  /** Install a downloaded update when the app quits, or at the next launch if that did not happen. @default true */
  autoInstallOnAppQuit?: boolean;
  /** How long a relaunched new version has to call `markHealthy()` before it is rolled back; 0 disables. @default 60000 */
  healthCheckTimeoutMs?: number;
  /** Command and arguments that start the app again after an install. @default process.execPath and the app's arguments */
  relaunchCommand?: readonly string[];
  /**
   * Files in the install folder that the bundle does not have but must survive an update (relative paths
   * with `/`, `*` matching anything), such as an uninstaller an installer put there; a file the new bundle
   * has is never kept. @default NSIS's files on Windows (`Uninstall *.exe`, ...), none elsewhere
   */
  keepFiles?: readonly string[];
  /**
   * Which windows may use the renderer bridge: `file:` (the app's own pages: files inside `app.getAppPath()`
   * or the resources folder, never another file on disk or a network share), a folder as a file URL
   * (`file:///opt/my-app/pages/`), a scheme the app registered (`app:`) or an origin
   * (`https://app.example`). @default ['file:']
   */
  allowedOrigins?: readonly string[];
  /** Receives diagnostics; `null` for none. @default electron-log */
  logger?: Logger | null;
  /** The worker entry file. @default this package's `dist/worker/index.js` */
  workerPath?: string;
}

/** The Electron-only options that have a fixed default. */
type Defaulted = 'autoDownload' | 'autoInstallOnAppQuit' | 'healthCheckTimeoutMs' | 'allowedOrigins';

/** The documented fixed defaults of {@link UpdaterOptions}, merged once by {@link resolveUpdaterOptions}. */
export const UPDATER_DEFAULTS: Readonly<Required<Pick<UpdaterOptions, Defaulted | 'channel' | 'allowPrerelease'>>> = {
  // The updater keeps these two as properties the app may change; the core's defaults, not copies of them.
  channel: CORE_DEFAULTS.channel,
  allowPrerelease: CORE_DEFAULTS.allowPrerelease,
  autoDownload: true,
  autoInstallOnAppQuit: true,
  healthCheckTimeoutMs: 60_000,
  allowedOrigins: ['file:'],
};

/** The cache folder under `userData`, and the trusted root's file name in the app's resources. */
export const CACHE_FOLDER = 'tufup';
export const TRUSTED_ROOT_FILE = 'tufup-root.json';

/** {@link UpdaterOptions} once resolved: every default applied, the URLs spelled out, `url` gone. */
export type ResolvedUpdaterOptions = Omit<UpdaterOptions, 'url' | 'logger'> &
  Required<Pick<UpdaterOptions, keyof typeof UPDATER_DEFAULTS | FromTheApp | 'metadataUrl' | 'targetsUrl'>> & {
    logger: Logger | undefined;
  };

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

/**
 * What the core needs from the running app, where the options do not say. Read only then: a main process
 * run under plain Node (tests, a stand-in) has no `process.resourcesPath`, and the app gave the path.
 */
function fromTheApp(options: Pick<UpdaterOptions, FromTheApp>, adapter: ElectronAdapter, platform: NodeJS.Platform): Required<Pick<UpdaterOptions, FromTheApp>> {
  // An AppImage runs from a read-only mount that goes away with it: the file to replace and to start again
  // is $APPIMAGE, which the AppImage runtime sets (docs/install-layouts.md).
  const appImage = platform === 'linux' && process.env.APPIMAGE ? process.env.APPIMAGE : undefined;
  return {
    appName: options.appName ?? adapter.appName(),
    currentVersion: options.currentVersion ?? adapter.appVersion(),
    installDir: options.installDir ?? appImage ?? defaultInstallDir(adapter.execPath(), platform),
    cacheDir: options.cacheDir ?? join(adapter.userDataPath(), CACHE_FOLDER),
    trustedRoot: options.trustedRoot ?? join(adapter.resourcesPath(), TRUSTED_ROOT_FILE),
    relaunchCommand: options.relaunchCommand ?? (appImage === undefined ? defaultRelaunchCommand(adapter) : [appImage, ...adapter.argv().slice(1)]),
    keepFiles: options.keepFiles ?? keepDefaults(platform),
    workerPath: options.workerPath ?? fileURLToPath(new URL('../worker/index.js', import.meta.url)),
  };
}

/**
 * The options without the keys set to `undefined`: with `exactOptionalPropertyTypes` off, `{ channel:
 * process.env.CHANNEL }` type-checks, and in a spread its `undefined` would replace the default.
 */
function given<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Merges once, as tuf-js does (`{ ...defaults, ...options }`): the fixed defaults, the URLs under `url`,
 * then what the app gave; the running app's facts fill what is still missing. Throws CONFIG when no
 * repository URL is given.
 */
export function resolveUpdaterOptions(options: UpdaterOptions, adapter: ElectronAdapter, platform: NodeJS.Platform = process.platform): ResolvedUpdaterOptions {
  const { url, logger, ...rest } = options;
  const urls = url === undefined ? {} : { metadataUrl: joinUrl(url, 'metadata'), targetsUrl: joinUrl(url, 'targets') };
  const merged = { ...UPDATER_DEFAULTS, ...urls, ...given(rest) };
  const { metadataUrl, targetsUrl } = merged;
  if (metadataUrl === undefined || targetsUrl === undefined) {
    throw new UpdateError('CONFIG', 'the updater needs `url` (or both `metadataUrl` and `targetsUrl`)');
  }
  return {
    ...merged,
    ...fromTheApp(merged, adapter, platform),
    metadataUrl,
    targetsUrl,
    logger: logger === null ? undefined : (logger ?? adapter.defaultLogger()),
  };
}
