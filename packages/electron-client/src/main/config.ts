import { dirname, join, resolve } from 'node:path';
import type { Session } from 'electron';
import { DEFAULTS as CORE_DEFAULTS, type CoreOptions, type Logger } from '../core/config.js';
import { keepDefaults } from '../install/layouts.js';
import type { ElectronAdapter } from './adapter.js';
import { defaultCacheDir } from './paths.js';

/**
 * Core options the updater sets itself: `fetch` is the worker's own (Electron's `net`, through `netRequestFetch`), `logger`
 * is the updater's (below) and `excludeVersions` comes from the installer's health check.
 */
type SetByUpdater = 'fetch' | 'logger' | 'excludeVersions';

/** What the updater takes from the running app when the options do not say (see {@link UpdaterOptions}). */
type FromTheApp = 'currentVersion' | 'installDir' | 'cacheDir' | 'trustedRoot' | 'relaunchCommand' | 'keepFiles';

/** The text of the notification `checkForUpdatesAndNotify()` shows; `{appName}` and `{version}` are filled in. */
export interface NotificationText {
  title: string;
  body: string;
}

/**
 * Options of {@link createUpdater}, all optional. Every {@link CoreOptions} option but `fetch`, `logger`
 * and `excludeVersions` (documented there, passed to the update worker as given), plus the Electron-only
 * ones below. What the core needs from the running app defaults to:
 * - `trustedRoot`: `<resourcesPath>/tufup.json`, the trust file `tufup-repo` writes: it names the app
 *   and the repository URL and holds the root of trust. A plain `root.json` (path or bytes) works too.
 * - `appName`: the trust file's; with a plain root.json, `app.getName()`
 * - `url`: the trust file's, if it records one; `metadataUrl`, `targetsUrl`: `<url>/metadata/`, `<url>/targets/`
 * - `currentVersion`: `app.getVersion()`
 * - `installDir`: the folder of `process.execPath` (the `.app` bundle on macOS)
 * - `cacheDir`: `<OS cache folder>/<userData folder name>/tufup` (`%LOCALAPPDATA%`, `~/Library/Caches`,
 *   `$XDG_CACHE_HOME` or `~/.cache`); an older `<userData>/tufup` is moved there once
 */
export interface UpdaterOptions extends Partial<Omit<CoreOptions, SetByUpdater>> {
  /** Base URL of the update repository: metadata from `<url>/metadata/`, files from `<url>/targets/`. @default the trust file's */
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
  /** Receives diagnostics; `null` for none. @default electron-log's main logger, when the app has electron-log installed */
  logger?: Logger | null;
  /**
   * The worker entry file to start. By default the worker the package carries is written to
   * `<cacheDir>/runtime/` (checked against its sha256 before every start) and started from there.
   */
  workerPath?: string;
  /**
   * The Electron session the worker's network requests use: its proxy settings (`session.setProxy`),
   * and its `login` events, which the updater hands to the app's `app.on('login')`. @default the
   * system network context (the system proxy; `app.setProxy` changes it; proxy logins reach `app.on('login')`)
   */
  session?: Session;
  /** The notification of `checkForUpdatesAndNotify()`. @default {@link DEFAULT_NOTIFICATION} */
  notification?: NotificationText;
}

/** The notification `checkForUpdatesAndNotify()` shows once an update is downloaded. */
export const DEFAULT_NOTIFICATION: NotificationText = {
  title: '{appName} {version} is ready',
  body: 'It will be installed when you quit the app.',
};

/** The Electron-only options that have a fixed default. */
type Defaulted = 'autoDownload' | 'autoInstallOnAppQuit' | 'healthCheckTimeoutMs' | 'allowedOrigins' | 'notification';

/** The documented fixed defaults of {@link UpdaterOptions}, merged once by {@link resolveUpdaterOptions}. */
export const UPDATER_DEFAULTS: Readonly<Required<Pick<UpdaterOptions, Defaulted | 'channel' | 'allowPrerelease'>>> = {
  // The updater keeps these two as properties the app may change; the core's defaults, not copies of them.
  channel: CORE_DEFAULTS.channel,
  allowPrerelease: CORE_DEFAULTS.allowPrerelease,
  autoDownload: true,
  autoInstallOnAppQuit: true,
  healthCheckTimeoutMs: 60_000,
  allowedOrigins: ['file:'],
  notification: DEFAULT_NOTIFICATION,
};

/** The trust file's name in the app's resources folder (`tufup-repo init` writes it into the repository). */
export const TRUSTED_ROOT_FILE = 'tufup.json';

/**
 * {@link UpdaterOptions} once resolved: every default applied, `logger` decided. What comes from the
 * trusted root (app name, URLs) is read at the first check (`readUpdateSource`), so that a missing or
 * wrong file is an `error` the app can handle rather than a throw where the app creates the updater.
 */
export type ResolvedUpdaterOptions = Omit<UpdaterOptions, 'logger' | 'session'> &
  Required<Pick<UpdaterOptions, keyof typeof UPDATER_DEFAULTS | FromTheApp>> & {
    logger: Logger | undefined;
    /** True when the app named the cache folder: it is then used as it is, and nothing is moved. */
    cacheDirGiven: boolean;
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

/**
 * What the core needs from the running app, where the options do not say. Read only then: a main process
 * run under plain Node (tests, a stand-in) has no `process.resourcesPath`, and the app gave the path.
 */
function fromTheApp(options: Pick<UpdaterOptions, FromTheApp>, adapter: ElectronAdapter, platform: NodeJS.Platform): Required<Pick<UpdaterOptions, FromTheApp>> {
  // An AppImage runs from a read-only mount that goes away with it: the file to replace and to start again
  // is $APPIMAGE, which the AppImage runtime sets (docs/install-layouts.md).
  const env = adapter.env();
  const appImage = platform === 'linux' && env.APPIMAGE ? env.APPIMAGE : undefined;
  return {
    currentVersion: options.currentVersion ?? adapter.appVersion(),
    installDir: options.installDir ?? appImage ?? defaultInstallDir(adapter.execPath(), platform),
    cacheDir: options.cacheDir ?? defaultCacheDir({ platform, env: adapter.env(), home: adapter.homePath(), userData: adapter.userDataPath() }),
    trustedRoot: options.trustedRoot ?? join(adapter.resourcesPath(), TRUSTED_ROOT_FILE),
    relaunchCommand: options.relaunchCommand ?? (appImage === undefined ? defaultRelaunchCommand(adapter) : [appImage, ...adapter.argv().slice(1)]),
    keepFiles: options.keepFiles ?? keepDefaults(platform),
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
 * Merges once, as tuf-js does (`{ ...defaults, ...options }`): the fixed defaults, then what the app
 * gave; the running app's facts fill what is still missing. Reads no file and never throws for a
 * missing repository: that is for the first check to report.
 */
export function resolveUpdaterOptions(options: UpdaterOptions, adapter: ElectronAdapter, platform: NodeJS.Platform = process.platform): ResolvedUpdaterOptions {
  const { logger, session: _session, ...rest } = options;
  const merged = { ...UPDATER_DEFAULTS, ...given(rest) };
  return {
    ...merged,
    ...fromTheApp(merged, adapter, platform),
    cacheDirGiven: options.cacheDir !== undefined,
    // electron-log is loaded here, only when the app gave no logger (and has it installed): never at import.
    logger: logger === null ? undefined : (logger ?? adapter.defaultLogger()),
  };
}
