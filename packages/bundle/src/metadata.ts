import { BundleError } from './error.js';
import type { Digest } from './hash.js';
import { parseVersion } from './version.js';
import { checkName, platformKey, type TargetKind } from './naming.js';

/** Version of the `custom.tufup` schema below; a client refuses targets of a newer schema. */
export const CUSTOM_SCHEMA = 1;

/**
 * What tufup adds to a TUF target's `custom` field. One place defines it; repo-tools writes it and the
 * client reads it, both through this module.
 */
export interface TufupCustom {
  schema: typeof CUSTOM_SCHEMA;
  kind: TargetKind;
  name: string;
  version: string;
  platform: string;
  arch: string;
  /**
   * The uncompressed tar of `version`: what an archive holds, what a patch produces, or what an entry
   * list rebuilds from an install folder.
   */
  tar: Digest;
  /** For a patch: the version and tar it applies to. */
  base?: { version: string } & Digest;
  /** The publisher marked this update as one users must install. */
  required: boolean;
  /** Release notes, as given to `tufup-repo add --notes`. */
  releaseNotes?: string;
  /**
   * Staged rollout, archives only: the whole percentage (0-100) of installs offered this release; absent
   * means every install (100). An install takes the release when its persistent random bucket falls under
   * the percentage, so raising it only adds installs and 0 pauses the rollout. A `required` release
   * ignores it. Optional, so schema 1 holds: a client that predates it offers the release to everyone.
   */
  rollout?: number;
  /**
   * The publisher pulled this release (archives only): it is offered to no one, and installs running it
   * are offered the newest release that is not yanked, even a lower one. Optional, so schema 1 holds:
   * a client that predates it still offers the release (`tufup-repo remove` hides it from every client).
   */
  yanked?: Yank;
}

/** Why and when a release was pulled. */
export interface Yank {
  /** Shown to users and in logs: what is wrong with the release. */
  reason: string;
  /** When it was yanked, `YYYY-MM-DDTHH:MM:SSZ`. */
  date?: string;
}

/** Highest {@link TufupCustom.rollout}: every install. */
export const FULL_ROLLOUT = 100;

/** The whole `custom` object of a tufup target: ours, plus the publisher's own fields untouched. */
export interface TargetCustom {
  tufup: TufupCustom;
  user?: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function digestOf(v: unknown, what: string): Digest {
  if (!isRecord(v) || typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256) || !Number.isSafeInteger(v.size) || (v.size as number) < 0) {
    throw new BundleError('INVALID_METADATA', `${what} must be {sha256, size}`);
  }
  return { sha256: v.sha256, size: v.size as number };
}

/** Runs a check of ours on a metadata field, reporting any failure as INVALID_METADATA of that target. */
function checked<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : 'invalid';
    throw new BundleError('INVALID_METADATA', `${where}: ${detail}`, { cause });
  }
}

/**
 * Returns `value` as a rollout percentage: a whole number from 0 to 100 (canonical JSON, which
 * signatures cover, has no fractions). Throws INVALID_METADATA otherwise.
 */
export function checkRollout(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > FULL_ROLLOUT) {
    throw new BundleError('INVALID_METADATA', `a rollout must be a whole percentage from 0 to ${FULL_ROLLOUT}, not ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return value;
}

/** Validates a target's `custom` field; throws INVALID_METADATA naming the target when it is not ours. */
export function parseTargetCustom(custom: unknown, targetPath: string): TargetCustom {
  const where = `custom metadata of ${targetPath}`;
  if (!isRecord(custom) || !isRecord(custom.tufup)) throw new BundleError('INVALID_METADATA', `${where} has no tufup section`);
  const t = custom.tufup;
  if (t.schema !== CUSTOM_SCHEMA) throw new BundleError('INVALID_METADATA', `${where} uses schema ${String(t.schema)}, this client reads ${CUSTOM_SCHEMA}`);
  if (t.kind !== 'archive' && t.kind !== 'patch' && t.kind !== 'entries') throw new BundleError('INVALID_METADATA', `${where} has no valid kind`);
  for (const key of ['name', 'version', 'platform', 'arch'] as const) {
    if (typeof t[key] !== 'string') throw new BundleError('INVALID_METADATA', `${where} has no ${key}`);
  }
  checked(where, () => platformKey(t.platform as string, t.arch as string));
  const tufup: TufupCustom = {
    schema: CUSTOM_SCHEMA,
    kind: t.kind,
    name: checked(where, () => checkName(t.name as string)),
    version: checked(where, () => parseVersion(t.version as string)),
    platform: t.platform as string,
    arch: t.arch as string,
    tar: digestOf(t.tar, `${where}: tar`),
    required: t.required === true,
  };
  if (typeof t.releaseNotes === 'string') tufup.releaseNotes = t.releaseNotes;
  if (t.rollout !== undefined) tufup.rollout = checked(where, () => checkRollout(t.rollout));
  if (t.yanked !== undefined) {
    if (!isRecord(t.yanked) || typeof t.yanked.reason !== 'string' || (t.yanked.date !== undefined && typeof t.yanked.date !== 'string')) {
      throw new BundleError('INVALID_METADATA', `${where}: yanked must be {reason, date?}`);
    }
    tufup.yanked = t.yanked.date === undefined ? { reason: t.yanked.reason } : { reason: t.yanked.reason, date: t.yanked.date };
  }
  if (t.kind === 'patch') {
    if (!isRecord(t.base) || typeof t.base.version !== 'string') throw new BundleError('INVALID_METADATA', `${where} has no patch base`);
    const baseVersion = t.base.version;
    tufup.base = { version: checked(where, () => parseVersion(baseVersion)), ...digestOf(t.base, `${where}: base`) };
  }
  const result: TargetCustom = { tufup };
  if (isRecord(custom.user)) result.user = custom.user;
  return result;
}
