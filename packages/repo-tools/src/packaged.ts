import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errnoOf, TRUST_FILE } from '@tufup/bundle';
import { KEYS_DIR_ENV, PASSPHRASE_ENV, readConfig, type Logger } from './config.js';
import { ioError, RepoError } from './error.js';
import type { KeySource } from './keystore.js';
import { addRelease, type AddResult, type ReleaseBundle } from './release.js';
import { checkTrustFile } from './trust.js';

/**
 * The part of the packaging integrations (`@tufup/repo-tools/electron-builder`, `@tufup/repo-tools/forge`)
 * that does not depend on the packager: settings from options and environment, where a packaged app's
 * resources are, the check of the trust file it ships, and one release made of every packaged app.
 */

/** Environment variables the packaging integrations read when an option is not given. */
export const SHIP_ENV = {
  /** The repository folder (relative to the project). */
  repoDir: 'TUFUP_REPO_DIR',
  /** A file whose text becomes the release notes. */
  releaseNotes: 'TUFUP_RELEASE_NOTES',
  /** `1`/`true`: clients must install this release. */
  required: 'TUFUP_REQUIRED',
  /** `1`/`true`: package without adding anything (a development build). */
  skip: 'TUFUP_SKIP',
} as const;

/** Options of the packaging integrations; each falls back to its {@link SHIP_ENV} variable. */
export interface ShipOptions extends KeySource {
  /** The repository folder, relative to the project folder. @default $TUFUP_REPO_DIR */
  repoDir?: string;
  /** Release notes. @default the text of the file named by `releaseNotesFile` */
  releaseNotes?: string;
  /** A file (relative to the project) holding the release notes. @default $TUFUP_RELEASE_NOTES */
  releaseNotesFile?: string;
  /** Clients must install this release. @default $TUFUP_REQUIRED, else false */
  required?: boolean;
  /** The publisher's own fields, stored as `custom.user` of every target. */
  custom?: Record<string, unknown>;
  /** Package without adding a release. @default $TUFUP_SKIP, else false */
  skip?: boolean;
  /** Progress messages. @default lines on stderr prefixed "tufup:" */
  logger?: Logger;
}

/** {@link ShipOptions} resolved against the project folder and the environment. */
export interface ShipSettings {
  skip: boolean;
  repoDir: string;
  keys: KeySource;
  releaseNotes?: string;
  required: boolean;
  custom?: Record<string, unknown>;
  logger: Logger;
}

/** One packaged app: one platform and the archs it serves. */
export interface PackagedApp {
  /** The folder that gets installed: the unpacked app folder, or on macOS the `.app` bundle. */
  installDir: string;
  /** Node's platform name (`linux`, `win32`, `darwin`). */
  platform: string;
  /** Node's arch names this app serves; a macOS universal app serves `x64` and `arm64`. */
  archs: readonly string[];
  /** Built for one arch (false for a universal app, which yields to a build made for that arch). */
  exact: boolean;
}

/** Writes to stderr, where packagers' own progress goes. */
const stderrLogger: Logger = {
  info: (message) => process.stderr.write(`  • tufup: ${message}\n`),
  warn: (message) => process.stderr.write(`  ⨯ tufup: ${message}\n`),
};

function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return undefined;
  if (['1', 'true', 'yes'].includes(value)) return true;
  if (['0', 'false', 'no'].includes(value)) return false;
  throw new RepoError('USAGE', `$${name} must be 1/true/yes or 0/false/no, not "${env[name] ?? ''}"`);
}

/** Resolves options, then environment variables, then defaults; USAGE when no repository is named. */
export async function shipSettings(options: ShipOptions, projectDir: string): Promise<ShipSettings> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? stderrLogger;
  const skip = options.skip ?? flag(env, SHIP_ENV.skip) ?? false;
  const given = options.repoDir ?? env[SHIP_ENV.repoDir];
  if (given === undefined || given === '') {
    if (skip) return { skip, repoDir: '', keys: {}, required: false, logger };
    throw new RepoError('USAGE', `no update repository given: set $${SHIP_ENV.repoDir} (or the repoDir option) to the folder "tufup-repo init" made`);
  }
  const repoDir = resolve(projectDir, given);
  const keysDirGiven = options.keysDir ?? env[KEYS_DIR_ENV];
  let keysDir: string | undefined;
  if (keysDirGiven !== undefined && keysDirGiven !== '') keysDir = resolve(projectDir, keysDirGiven);
  else {
    // As the CLI does: the keys folder init recorded, when there is one.
    const recorded = (await readConfig(repoDir).catch(() => undefined))?.keysDir;
    if (recorded !== undefined) keysDir = resolve(repoDir, recorded);
  }
  const passphrase = options.passphrase ?? env[PASSPHRASE_ENV];
  const keys: KeySource = {
    env,
    ...(keysDir === undefined ? {} : { keysDir }),
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(options.signers === undefined ? {} : { signers: options.signers }),
  };
  let releaseNotes = options.releaseNotes;
  const notesFile = options.releaseNotesFile ?? env[SHIP_ENV.releaseNotes];
  if (releaseNotes === undefined && notesFile !== undefined && notesFile !== '') {
    const path = resolve(projectDir, notesFile);
    try {
      releaseNotes = await readFile(path, 'utf8');
    } catch (cause) {
      throw new RepoError('IO', `cannot read the release notes ${path}`, { cause });
    }
  }
  return {
    skip,
    repoDir,
    keys,
    ...(releaseNotes === undefined ? {} : { releaseNotes }),
    required: options.required ?? flag(env, SHIP_ENV.required) ?? false,
    ...(options.custom === undefined ? {} : { custom: options.custom }),
    logger,
  };
}

/** The resources folder of a packaged app, where `tufup.json` must be (`process.resourcesPath` at run time). */
export function resourcesDirOf(app: Pick<PackagedApp, 'installDir' | 'platform'>): string {
  return app.platform === 'darwin' ? join(app.installDir, 'Contents', 'Resources') : join(app.installDir, 'resources');
}

/**
 * Checks that a packaged app ships this repository's trust file; TRUST_MISMATCH otherwise, with `hint`
 * (the packager's setting that copies it) appended. An app without it could never update.
 */
export async function checkPackagedTrust(settings: ShipSettings, app: Pick<PackagedApp, 'installDir' | 'platform'>, hint: string): Promise<void> {
  try {
    await checkTrustFile(settings.repoDir, join(resourcesDirOf(app), TRUST_FILE));
  } catch (error) {
    if (error instanceof RepoError && error.code === 'TRUST_MISMATCH') {
      throw new RepoError('TRUST_MISMATCH', `${error.message}. ${hint}`, { cause: error });
    }
    throw error;
  }
}

/** Node's arch names for a packager's arch name (`armv7l` is Node's `arm`; `universal` serves both Mac archs). */
export function nodeArchsOf(arch: string): string[] {
  if (arch === 'armv7l') return ['arm'];
  if (arch === 'universal') return ['x64', 'arm64'];
  return [arch];
}

/** The one `.app` bundle in `dir` (the preferred name first); USAGE naming what was found otherwise. */
export async function findMacApp(dir: string, preferred?: string): Promise<string> {
  if (preferred !== undefined) {
    const path = join(dir, `${preferred}.app`);
    if (await isDirectory(path)) return path;
  }
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.app'));
  } catch (cause) {
    throw ioError(`cannot list ${dir}`, cause);
  }
  const [only] = names;
  if (names.length !== 1 || only === undefined) {
    throw new RepoError('BUNDLE_NOT_FOUND', `expected one .app bundle in ${dir}, found ${names.length === 0 ? 'none' : names.join(', ')}`);
  }
  return join(dir, only);
}

/** Whether `path` is a folder; false when it is missing. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return false;
    throw ioError(`cannot read ${path}`, cause);
  }
}

/**
 * Adds every packaged app as one release of `version` (one transaction). A build made for one arch wins
 * over a universal build for the same platform/arch; two builds for the same platform/arch are refused.
 */
export async function addPackagedRelease(settings: ShipSettings, apps: readonly PackagedApp[], version: string): Promise<AddResult[]> {
  const bundles = new Map<string, ReleaseBundle & { exact: boolean }>();
  for (const app of apps) {
    for (const arch of app.archs) {
      const key = `${app.platform}-${arch}`;
      const had = bundles.get(key);
      if (had !== undefined && had.exact === app.exact) {
        throw new RepoError('USAGE', `two packaged apps for ${key} in one build: ${had.bundleDir} and ${app.installDir}`);
      }
      if (had === undefined || app.exact) bundles.set(key, { bundleDir: app.installDir, platform: app.platform, arch, exact: app.exact });
    }
  }
  return addRelease({
    ...settings.keys,
    repoDir: settings.repoDir,
    version,
    bundles: [...bundles.values()].map(({ bundleDir, platform, arch }) => ({ bundleDir, platform, arch })),
    required: settings.required,
    ...(settings.releaseNotes === undefined ? {} : { releaseNotes: settings.releaseNotes }),
    ...(settings.custom === undefined ? {} : { custom: settings.custom }),
    logger: settings.logger,
  });
}
