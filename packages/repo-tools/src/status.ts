import { ROLES, type RoleName } from './config.js';
import { FULL_ROLLOUT, type Yank } from '@tufup/bundle';
import { availableKeys } from './keyring.js';
import { decisionOf } from './lifecycle.js';
import { releasesOf } from './release.js';
import type { RepoOptions } from './repository.js';
import { loadRepository } from './store.js';

/** One role's metadata and keys. */
export interface RoleStatus {
  role: RoleName;
  version: number;
  expires: string;
  /** Days until expiry (negative once expired). */
  daysLeft: number;
  keyids: string[];
  threshold: number;
  /** Key IDs whose private key this machine holds (keys folder, environment or signers). */
  keysAvailable: string[];
}

/** One published version of one platform/arch. */
export interface VersionStatus {
  version: string;
  required: boolean;
  /** The staged rollout: percentage of installs offered the version (100 when not staged). */
  rollout: number;
  /** Set when the version is yanked: why, and since when. */
  yanked?: Yank;
  /**
   * Percentage of installs a current client offers the version to: 0 when yanked, 100 when required
   * (clients ignore the rollout of a required release), else the rollout.
   */
  offeredTo: number;
  archive?: { path: string; size: number };
  patch?: { path: string; size: number; base: string };
  /** The archive's entry list, which clients fetch only when their install folder holds other files. */
  entries?: { path: string; size: number };
}

/** What {@link repositoryStatus} reports. */
export interface StatusResult {
  appName: string;
  roles: RoleStatus[];
  platforms: { platform: string; arch: string; versions: VersionStatus[] }[];
  /** Bytes of all target files. */
  totalSize: number;
  /** The targets metadata every client downloads after each change: its size and number of targets. */
  targetsMetadata: { size: number; targets: number };
  /** Expired metadata, or metadata expiring within a quarter of its period (at least a day). */
  warnings: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Size of the targets metadata above which status warns (about 1,400 targets of tufup's shape). Every
 * client downloads the whole file after each release or re-signing and verifies it on every check: at
 * 3.5 MiB (5,000 targets) a check takes about half a second and a million installs fetch 3.5 TB per
 * release (docs/client-core.md, "Scale").
 */
export const LARGE_TARGETS_METADATA = 1024 * 1024;

/** Versions, targets, sizes, metadata versions and expiry dates, with warnings for what expires soon. */
export async function repositoryStatus(options: RepoOptions): Promise<StatusResult> {
  const state = await loadRepository(options.repoDir);
  const now = options.now ?? new Date();
  const available = await availableKeys(options, state);
  const warnings: string[] = [];
  const roles = ROLES.map((role): RoleStatus => {
    const signed = state[role].signed;
    const daysLeft = (new Date(signed.expires).getTime() - now.getTime()) / DAY_MS;
    const def = state.root.signed.roles[role];
    const period = state.config.expiryDays[role];
    if (daysLeft <= 0) warnings.push(`${role} metadata expired on ${signed.expires}: clients refuse the repository until it is re-signed`);
    else if (daysLeft < Math.max(1, period / 4)) warnings.push(`${role} metadata expires on ${signed.expires} (in ${daysLeft.toFixed(1)} days): re-sign it`);
    return {
      role,
      version: signed.version,
      expires: signed.expires,
      daysLeft: Math.round(daysLeft * 10) / 10,
      keyids: [...(def?.keyIDs ?? [])],
      threshold: def?.threshold ?? 1,
      keysAvailable: available[role],
    };
  });
  let totalSize = 0;
  const platforms = [...releasesOf(state).values()].map((releases) => ({
    platform: releases[0]?.platform ?? '',
    arch: releases[0]?.arch ?? '',
    versions: releases.map((r): VersionStatus => {
      const d = decisionOf(r);
      const v: VersionStatus = { version: r.version, required: d.required, rollout: d.rollout, offeredTo: d.yanked !== undefined ? 0 : d.required ? FULL_ROLLOUT : d.rollout };
      if (d.yanked !== undefined) v.yanked = d.yanked;
      if (r.archive !== undefined) {
        v.archive = { path: r.archive.path, size: r.archive.size };
        totalSize += r.archive.size;
      }
      if (r.patch !== undefined) {
        v.patch = { path: r.patch.path, size: r.patch.size, base: r.patch.custom.tufup.base?.version ?? '' };
        totalSize += r.patch.size;
      }
      if (r.entries !== undefined) {
        v.entries = { path: r.entries.path, size: r.entries.size };
        totalSize += r.entries.size;
      }
      return v;
    }),
  }));
  const targetsMetadata = {
    size: state.snapshot.signed.meta['targets.json']?.length ?? Buffer.byteLength(JSON.stringify(state.targets.toJSON())),
    targets: Object.keys(state.targets.signed.targets).length,
  };
  if (targetsMetadata.size > LARGE_TARGETS_METADATA) {
    const mib = (targetsMetadata.size / (1024 * 1024)).toFixed(1);
    warnings.push(
      `the targets metadata is ${mib} MiB (${targetsMetadata.targets} targets): every client downloads all of it after each release and verifies it on every check; drop old versions with "tufup-repo prune --keep N"`,
    );
  }
  return { appName: state.config.appName, roles, platforms, totalSize, targetsMetadata, warnings };
}
