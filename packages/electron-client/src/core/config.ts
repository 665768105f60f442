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
  /** Base URL of the repository's `metadata/` folder (the first mirror, with `targetsUrl`). */
  metadataUrl?: string;
  /** Base URL of the repository's `targets/` folder. */
  targetsUrl?: string;
  /**
   * Mirrors of the repository, tried in this order (after `metadataUrl`/`targetsUrl` when given): each
   * request fails over to the next on network errors, 5xx answers, stalls and missing files, and a
   * download resumes where the last mirror stopped. TUF verifies everything whoever serves it, so a
   * mirror is trusted no more than any server.
   */
  mirrors?: readonly Mirror[];
  /** Mirrors by base URL: `<url>/metadata/` and `<url>/targets/`, after `mirrors`. */
  urls?: readonly string[];
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

/** One copy of the repository. */
export interface Mirror {
  /** Base URL of its `metadata/` folder. */
  metadataUrl: string;
  /** Base URL of its `targets/` folder. */
  targetsUrl: string;
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
export interface ResolvedOptions extends Required<Omit<CoreOptions, 'trustedRoot' | 'excludeVersions' | 'mirrors' | 'urls'>> {
  /** Every mirror, in order; never empty. `metadataUrl` and `targetsUrl` are the first one's (tuf-js asks for those). */
  mirrors: readonly Mirror[];
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

/** A folder URL, normalised as tuf-js writes the URLs it asks for (so mirrors can be told apart by prefix). */
function checkUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value.endsWith('/') ? value : `${value}/`);
  } catch (cause) {
    throw configError(`${what} "${value}" is not a URL`, cause);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`${what} "${value}" must be an http(s) URL`);
  }
  return url.href;
}

/** The mirrors in order: `metadataUrl`/`targetsUrl`, then `mirrors`, then `urls`; each once. */
function mirrorsOf(options: Pick<CoreOptions, 'metadataUrl' | 'targetsUrl' | 'mirrors' | 'urls'>): Mirror[] {
  const all: Mirror[] = [];
  if (options.metadataUrl !== undefined || options.targetsUrl !== undefined) {
    if (options.metadataUrl === undefined || options.targetsUrl === undefined) throw configError('metadataUrl and targetsUrl go together');
    all.push({ metadataUrl: checkUrl(options.metadataUrl, 'metadataUrl'), targetsUrl: checkUrl(options.targetsUrl, 'targetsUrl') });
  }
  for (const [i, m] of (options.mirrors ?? []).entries()) {
    all.push({ metadataUrl: checkUrl(m.metadataUrl, `mirrors[${i}].metadataUrl`), targetsUrl: checkUrl(m.targetsUrl, `mirrors[${i}].targetsUrl`) });
  }
  for (const [i, url] of (options.urls ?? []).entries()) {
    const base = checkUrl(url, `urls[${i}]`);
    all.push({ metadataUrl: new URL('metadata/', base).href, targetsUrl: new URL('targets/', base).href });
  }
  const unique = all.filter((m, i) => all.findIndex((n) => n.metadataUrl === m.metadataUrl && n.targetsUrl === m.targetsUrl) === i);
  if (unique.length === 0) throw configError('no repository URL: give metadataUrl and targetsUrl, mirrors or urls');
  return unique;
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
  const mirrors = mirrorsOf(options);
  const [first] = mirrors;
  if (first === undefined) throw configError('no repository URL');
  return {
    appName,
    currentVersion,
    installDir: resolve(options.installDir),
    metadataUrl: first.metadataUrl,
    targetsUrl: first.targetsUrl,
    mirrors,
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
