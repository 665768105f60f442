import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkName, messageOf, parseVersion, platformKey } from '@tufup/bundle/base';
import { UpdateError } from './error.js';

/** Where diagnostics go; electron-log and `console` both fit. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Options of {@link UpdateClient}. */
export interface CoreOptions {
  /** The app name used in archive names (`<appName>-<version>.tar.gz`). */
  appName: string;
  /** The running version (`app.getVersion()`). */
  currentVersion: string;
  /** The folder the running bundle was installed into; read (never written) to rebuild the patch base. */
  installDir: string;
  /** Base URL of the repository's `metadata/` folder. */
  metadataUrl: string;
  /** Base URL of the repository's `targets/` folder. */
  targetsUrl: string;
  /** A folder the client owns: `metadata/`, `targets/` and `staged/` live here (e.g. `<userData>/updates`). */
  cacheDir: string;
  /** The trusted `root.json` shipped inside the app: its path, or its bytes. */
  trustedRoot: string | Uint8Array;
  /** Platform of the targets to consider. @default process.platform */
  platform?: string;
  /** Architecture of the targets to consider. @default process.arch */
  arch?: string;
  /**
   * Release channel. `latest` offers releases only; any other name (e.g. `beta`) also offers
   * prereleases of that channel (`1.3.0-beta.2`). @default 'latest'
   */
  channel?: string;
  /** Offer prereleases of every channel. @default false */
  allowPrerelease?: boolean;
  /** Extra HTTP headers sent with every request (e.g. an access token). @default {} */
  headers?: Record<string, string>;
  /**
   * Abort a request when no bytes arrive for this long; also the window over which `minBytesPerSecond`
   * is measured. Large downloads are never cut by total time. @default 30000
   */
  stallTimeoutMs?: number;
  /**
   * Abort a request whose body arrives slower than this on average over a window of `stallTimeoutMs`
   * (a server trickling a few bytes at a time would otherwise hold a download open for days); it is retried
   * like a stall and resumes. Far below any working connection; 0 turns the check off. @default 1024
   */
  minBytesPerSecond?: number;
  /** Retries of a failed or stalled request (each one resumes where the last stopped). @default 3 */
  retries?: number;
  /**
   * How long a check or download waits while another process (a second instance of the app) works in
   * the same `cacheDir`, before it gives up with BUSY. A download that waited finds the other's update
   * staged. @default 10000
   */
  busyTimeoutMs?: number;
  /** Versions never to offer, e.g. ones rolled back by a health check. @default [] */
  excludeVersions?: readonly string[];
  /**
   * The fetch to use; it must hand back redirects with `redirect: 'manual'`, as Node's does (the core
   * checks each hop). In Electron's utility process pass `netRequestFetch(net)` so the system proxy, PAC
   * and proxy auth apply (`net.fetch` cannot do 'manual'). Node's global fetch honours `HTTP(S)_PROXY`/`NO_PROXY` only when the process runs with
   * `NODE_USE_ENV_PROXY=1` (or calls `http.setGlobalProxyFromEnv()`). @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch;
  /** Receives diagnostics. @default silent */
  logger?: Logger;
}

/** The documented defaults of {@link CoreOptions}, merged once by {@link resolveOptions}. */
export const DEFAULTS = {
  channel: 'latest',
  allowPrerelease: false,
  stallTimeoutMs: 30_000,
  minBytesPerSecond: 1024,
  retries: 3,
  busyTimeoutMs: 10_000,
} as const;

/** Discards everything: libraries are silent unless given a logger. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * CoreOptions with defaults applied, inputs checked and the cache layout spelled out. Derived from
 * CoreOptions so that an option added there cannot be forgotten by {@link resolveOptions}.
 */
export interface ResolvedOptions extends Required<Omit<CoreOptions, 'trustedRoot' | 'excludeVersions'>> {
  /** The trusted root's bytes, read once when CoreOptions gave a path. */
  trustedRoot: Uint8Array;
  excludeVersions: ReadonlySet<string>;
  /** `<platform>-<arch>`: the folder of this build's targets. */
  platformKey: string;
  metadataDir: string;
  targetsDir: string;
  /** `<targetsDir>/<platform>-<arch>`: this build's downloads, partials and cached tars. */
  downloadDir: string;
  stagedDir: string;
}

function configError(message: string, cause?: unknown): UpdateError {
  return new UpdateError('CONFIG', message, { cause });
}

function checkUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw configError(`${what} "${value}" is not a URL`, cause);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`${what} "${value}" must be an http(s) URL`);
  }
  return value.endsWith('/') ? value : `${value}/`;
}

/** Applies {@link DEFAULTS} and checks every option; throws CONFIG naming the option at fault. */
export function resolveOptions(options: CoreOptions): ResolvedOptions {
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      throw configError(`${what}: ${messageOf(cause)}`, cause);
    }
  };
  const appName = guard('appName', () => checkName(options.appName));
  const currentVersion = guard('currentVersion', () => parseVersion(options.currentVersion));
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const key = guard('platform/arch', () => platformKey(platform, arch));
  if (!options.cacheDir || !options.installDir) throw configError('cacheDir and installDir are required');
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
  if (!(stallTimeoutMs > 0)) throw configError(`stallTimeoutMs must be positive, not ${stallTimeoutMs}`);
  const minBytesPerSecond = options.minBytesPerSecond ?? DEFAULTS.minBytesPerSecond;
  if (!(minBytesPerSecond >= 0 && Number.isFinite(minBytesPerSecond))) {
    throw configError(`minBytesPerSecond must be a number >= 0, not ${minBytesPerSecond}`);
  }
  const retries = options.retries ?? DEFAULTS.retries;
  if (!Number.isInteger(retries) || retries < 0) throw configError(`retries must be a whole number >= 0, not ${retries}`);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs;
  if (!(busyTimeoutMs >= 0 && Number.isFinite(busyTimeoutMs))) throw configError(`busyTimeoutMs must be a number >= 0, not ${busyTimeoutMs}`);
  let trustedRoot: Uint8Array;
  if (typeof options.trustedRoot === 'string') {
    const path = options.trustedRoot;
    trustedRoot = guard(`the trusted root ${path} could not be read`, () => readFileSync(path));
  } else {
    trustedRoot = options.trustedRoot;
  }
  const cacheDir = resolve(options.cacheDir);
  return {
    appName,
    currentVersion,
    installDir: resolve(options.installDir),
    metadataUrl: checkUrl(options.metadataUrl, 'metadataUrl'),
    targetsUrl: checkUrl(options.targetsUrl, 'targetsUrl'),
    cacheDir,
    trustedRoot,
    platform,
    arch,
    platformKey: key,
    channel: options.channel ?? DEFAULTS.channel,
    allowPrerelease: options.allowPrerelease ?? DEFAULTS.allowPrerelease,
    headers: { ...options.headers },
    stallTimeoutMs,
    minBytesPerSecond,
    retries,
    busyTimeoutMs,
    excludeVersions: new Set(options.excludeVersions ?? []),
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    logger: options.logger ?? silentLogger,
    metadataDir: join(cacheDir, 'metadata'),
    targetsDir: join(cacheDir, 'targets'),
    downloadDir: join(cacheDir, 'targets', key),
    stagedDir: join(cacheDir, 'staged'),
  };
}
