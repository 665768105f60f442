import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '@tufup/bundle';
import { RepoError } from './error.js';

/** The four top-level TUF roles. */
export type RoleName = 'root' | 'targets' | 'snapshot' | 'timestamp';

/** Every top-level role, in the order their metadata depends on each other (timestamp last). */
export const ROLES: readonly RoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** Name of the config file at the top of a repository folder. */
export const CONFIG_FILE = 'tufup-repo.json';
/** Folder of the repository that is published as the metadata base URL. */
export const METADATA_DIR = 'metadata';
/** Folder of the repository that is published as the targets base URL. */
export const TARGETS_DIR = 'targets';

/**
 * Days until each role's metadata expires after signing. Root is signed rarely and offline; the
 * timestamp is re-signed by a cron, so a stolen timestamp key or a frozen mirror is noticed soon.
 */
export const DEFAULT_EXPIRY_DAYS: Readonly<Record<RoleName, number>> = { root: 365, targets: 90, snapshot: 30, timestamp: 7 };

/** Signatures a role needs. @default 1 for every role */
export const DEFAULT_THRESHOLDS: Readonly<Record<RoleName, number>> = { root: 1, targets: 1, snapshot: 1, timestamp: 1 };

/** Keys made for each role by `init`. @default the role's threshold */
export const DEFAULT_KEY_COUNTS: Readonly<Record<RoleName, number>> = DEFAULT_THRESHOLDS;

/** Environment variable holding the PEM private key(s) of each role in CI. */
export const KEY_ENV: Readonly<Record<RoleName, string>> = {
  root: 'TUFUP_KEY_ROOT',
  targets: 'TUFUP_KEY_TARGETS',
  snapshot: 'TUFUP_KEY_SNAPSHOT',
  timestamp: 'TUFUP_KEY_TIMESTAMP',
};
/** Environment variable holding the passphrase of encrypted key files and env keys. */
export const PASSPHRASE_ENV = 'TUFUP_KEY_PASSPHRASE';
/** Environment variable naming the keys folder when `--keys-dir` is not given. */
export const KEYS_DIR_ENV = 'TUFUP_KEYS_DIR';

/** A role's keys and threshold, mirrored from root.json for people reading the config. */
export interface RoleConfig {
  keyids: string[];
  threshold: number;
}

/** The repository config file (`tufup-repo.json`). root.json stays the authority on keys. */
export interface RepoConfig {
  /** Format of this file. */
  schema: 1;
  appName: string;
  /** Base URL the repository is served from; written into the trust file (`tufup.json`) apps ship. */
  url?: string;
  /** The keys folder, relative to the repository, so later commands find keys without flags. */
  keysDir?: string;
  expiryDays: Record<RoleName, number>;
  roles: Record<RoleName, RoleConfig>;
}

/** Merges user settings over the defaults, once. */
export function expiryDaysOf(overrides: Partial<Record<RoleName, number>> | undefined): Record<RoleName, number> {
  const merged = { ...DEFAULT_EXPIRY_DAYS, ...overrides };
  for (const role of ROLES) checkPositive(merged[role], `expiry days of ${role}`, false);
  return merged;
}

/** Throws USAGE unless `value` is a positive integer (or a positive number, when fractions are allowed). */
export function checkPositive(value: number, what: string, integer = true): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RepoError('USAGE', `${what} must be a positive ${integer ? 'whole number' : 'number'}, not ${String(value)}`);
  }
  return value;
}

/** Returns `url` when it is an absolute http(s) URL (where a repository is served); USAGE otherwise. */
export function checkRepoUrl(url: string, what = 'the repository URL'): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new RepoError('USAGE', `${what} must be an http(s) URL, not "${url}"`);
  }
  return url;
}

/** True for the name of a top-level role. */
export function isRoleName(value: string): value is RoleName {
  return (ROLES as readonly string[]).includes(value);
}

/** Returns `value` as a role name; USAGE naming the valid roles otherwise. */
export function checkRole(value: string): RoleName {
  if (!isRoleName(value)) throw new RepoError('USAGE', `"${value}" is not a role; use one of ${ROLES.join(', ')}`);
  return value;
}

/** Reads `tufup-repo.json`; REPO_NOT_FOUND when the folder is no repository, METADATA_CORRUPT when unreadable. */
export async function readConfig(repoDir: string): Promise<RepoConfig> {
  const path = join(repoDir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new RepoError('REPO_NOT_FOUND', `${repoDir} is not a tufup repository (no ${CONFIG_FILE}); run "tufup-repo init" first`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${path} is not valid JSON`, { cause });
  }
  const config = data as Partial<RepoConfig> | null;
  if (config?.schema !== 1 || typeof config.appName !== 'string' || typeof config.expiryDays !== 'object') {
    throw new RepoError('METADATA_CORRUPT', `${path} is not a tufup repository config`);
  }
  if (config.url !== undefined) {
    try {
      checkRepoUrl(config.url, `"url" in ${path}`);
    } catch (cause) {
      throw new RepoError('METADATA_CORRUPT', messageOf(cause), { cause });
    }
  }
  return { ...config, expiryDays: expiryDaysOf(config.expiryDays) } as RepoConfig;
}

/** The config file's bytes: stable key order, two-space indent, final newline. */
export function serializeConfig(config: RepoConfig): Buffer {
  return Buffer.from(`${JSON.stringify(config, null, 2)}\n`);
}

/** Where a library function reports progress; libraries are silent unless given one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}
