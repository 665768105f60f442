import { compareVersions, FULL_ROLLOUT, type Yank } from '@tufup/bundle';
import { allowedVersion, type Catalog, type Target } from './catalog.js';
import type { ResolvedOptions } from './config.js';
import { rolloutBucket } from './install-id.js';

/**
 * Why this install takes the version it is offered, from the signed release decisions (rollout and
 * yank, in the archive's `custom.tufup`). Part of `UpdateInfo`.
 */
export interface ReleaseDecision {
  /**
   * - `required`: a newer version marked required, which every install takes whatever its rollout;
   * - `newer`: a newer version whose rollout includes this install (every install when not staged);
   * - `staged`: a newer version this install already downloaded, kept though its rollout was narrowed;
   * - `replaces-yanked`: the running version was yanked; this is the newest good version, maybe lower.
   */
  reason: 'newer' | 'required' | 'staged' | 'replaces-yanked';
  /** The version's signed rollout: the percentage of installs it is offered to (100: everyone). */
  rollout: number;
  /** The offered version is lower than the running one: only when the running one was yanked. */
  downgrade: boolean;
  /** Why the running version was yanked, when it was (the reason to show the user). */
  yankedCurrent?: Yank;
}

/** What the decision needs: the channel policy, the running version, and this install's place. */
export type DecisionInput = Pick<ResolvedOptions, 'appName' | 'currentVersion' | 'channel' | 'allowPrerelease' | 'excludeVersions'> & {
  /** This install's id (`installId`). */
  installId: string;
  /** Versions staged in the cache: a narrowed rollout never takes them away. */
  staged: ReadonlySet<string>;
};

/** A version to take, and why. */
export interface Offer {
  archive: Target;
  decision: ReleaseDecision;
}

/**
 * The version this install is offered, or undefined when it stays where it is. Yanked versions are
 * offered to no one. Above the running version, the newest one this install is admitted to: its rollout
 * takes this install's bucket, or it is required, or it is already staged here. When the running version
 * is yanked: the newest good version that admits this install, even a lower one (the only downgrade the
 * client takes, and it is signed).
 */
export function chooseRelease(catalog: Catalog, input: DecisionInput): Offer | undefined {
  let best: Offer | undefined;
  for (const archive of catalog.archives.values()) {
    const decision = decide(catalog, input, archive);
    if (decision !== undefined && (best === undefined || compareVersions(archive.custom.tufup.version, best.archive.custom.tufup.version) > 0)) {
      best = { archive, decision };
    }
  }
  return best;
}

/** Why this install would take `archive`, or undefined when it would not (also when it is the running version). */
export function decide(catalog: Catalog, input: DecisionInput, archive: Target): ReleaseDecision | undefined {
  const t = archive.custom.tufup;
  const order = compareVersions(t.version, input.currentVersion);
  if (order === 0 || t.yanked !== undefined || !allowedVersion(t.version, input)) return undefined;
  const rollout = t.rollout ?? FULL_ROLLOUT;
  const admitted = rolloutBucket(input.installId, input.appName, t.version) < rollout;
  const yankedCurrent = catalog.archives.get(input.currentVersion)?.custom.tufup.yanked;
  if (yankedCurrent !== undefined) {
    // Off a pulled version: the required flag and a copy at hand count as for any update.
    if (!admitted && !t.required && !input.staged.has(t.version)) return undefined;
    return { reason: 'replaces-yanked', rollout, downgrade: order < 0, yankedCurrent };
  }
  if (order < 0) return undefined;
  if (t.required) return { reason: 'required', rollout, downgrade: false };
  if (admitted) return { reason: 'newer', rollout, downgrade: false };
  if (input.staged.has(t.version)) return { reason: 'staged', rollout, downgrade: false };
  return undefined;
}
