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
  /** The uncompressed tar of `version`: what an archive holds, or what a patch produces. */
  tar: Digest;
  /** For a patch: the version and tar it applies to. */
  base?: { version: string } & Digest;
  /** The publisher marked this update as one users must install. */
  required: boolean;
  /** Release notes, as given to `tufup-repo add --notes`. */
  releaseNotes?: string;
}

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

/** Validates a target's `custom` field; throws INVALID_METADATA naming the target when it is not ours. */
export function parseTargetCustom(custom: unknown, targetPath: string): TargetCustom {
  const where = `custom metadata of ${targetPath}`;
  if (!isRecord(custom) || !isRecord(custom.tufup)) throw new BundleError('INVALID_METADATA', `${where} has no tufup section`);
  const t = custom.tufup;
  if (t.schema !== CUSTOM_SCHEMA) throw new BundleError('INVALID_METADATA', `${where} uses schema ${String(t.schema)}, this client reads ${CUSTOM_SCHEMA}`);
  if (t.kind !== 'archive' && t.kind !== 'patch') throw new BundleError('INVALID_METADATA', `${where} has no valid kind`);
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
  if (t.kind === 'patch') {
    if (!isRecord(t.base) || typeof t.base.version !== 'string') throw new BundleError('INVALID_METADATA', `${where} has no patch base`);
    const baseVersion = t.base.version;
    tufup.base = { version: checked(where, () => parseVersion(baseVersion)), ...digestOf(t.base, `${where}: base`) };
  }
  const result: TargetCustom = { tufup };
  if (isRecord(custom.user)) result.user = custom.user;
  return result;
}
