import { Targets } from '@tufjs/models';
import { FULL_ROLLOUT, platformKey, type Yank } from '@tufup/bundle';
import { RepoError } from './error.js';
import { formatExpires, type JSONObject } from './metadata.js';
import { checkPercent, releasesOf, selectReleases, versionAndPlatform, versionsOf, type ReleaseEntry } from './release.js';
import { signersFor, type RepoOptions } from './repository.js';
import { loadRepository, stageMetadata, withTransaction, type MetadataVersions, type RepoState } from './store.js';

/**
 * Release decisions after publishing: staged rollouts and yanks. Both live in the signed targets metadata,
 * in the `custom.tufup` of each version's archive (the schema is @tufup/bundle's `TufupCustom`), so a
 * server or mirror cannot widen, stop or undo them; each change re-signs targets, snapshot and timestamp.
 */

/** Options naming one version, of every platform/arch or of one. */
export interface ReleaseSelector extends RepoOptions {
  version: string;
  /** Only this platform (with `arch`); every platform/arch that has the version when absent. */
  platform?: string;
  arch?: string;
}

/** The release decisions of one version of one platform/arch, as clients read them. */
export interface ReleaseDecision {
  version: string;
  platform: string;
  arch: string;
  /** The percentage of installs offered the version (100 when not staged). */
  rollout: number;
  /** Clients must install it: they take it whatever the rollout. */
  required: boolean;
  yanked?: Yank;
}

/** What a rollout, yank or unyank changed. */
export interface LifecycleResult {
  version: string;
  /** Each platform/arch of the version, after the command. */
  releases: ReleaseDecision[];
  /** False when every release already was as asked: nothing was signed or written. */
  changed: boolean;
  metadata: MetadataVersions;
  /** Things the publisher should know (a rollout that a `required` flag overrides, every release yanked). */
  warnings: string[];
}

/** Options of {@link setRollout}. */
export interface RolloutOptions extends ReleaseSelector {
  /** Whole percentage of installs offered the version: raise to widen, 100 to complete, 0 to pause. */
  percent: number;
}

/**
 * Sets a version's staged rollout. Clients decide with a persistent random bucket per install, so raising
 * the number only adds installs, and lowering it stops new ones without reverting anyone.
 */
export async function setRollout(options: RolloutOptions): Promise<LifecycleResult> {
  const percent = checkPercent(options.percent);
  return editReleases(options, `setting the rollout of ${options.version} to ${percent}%`, (tufup) => {
    if (percent === FULL_ROLLOUT) delete tufup.rollout;
    else tufup.rollout = percent;
  });
}

/** Options of {@link yankRelease}. */
export interface YankOptions extends ReleaseSelector {
  /** What is wrong with the release; reaches the app (event payloads) and `status`. */
  reason: string;
}

/** Longest yank reason: it travels in every copy of targets.json and in event payloads. */
export const MAX_REASON_LENGTH = 1000;

/**
 * Pulls a version: clients no longer take it, and installs running it are offered the newest release
 * that is not yanked, even a lower one (the only downgrade a client takes, because it is signed). The
 * files stay, so patch chains through the version keep working; `remove` deletes them.
 */
export async function yankRelease(options: YankOptions): Promise<LifecycleResult> {
  const reason = options.reason.trim();
  if (reason === '') throw new RepoError('USAGE', 'a yank needs a reason (--reason TEXT): users and logs see it');
  if (reason.length > MAX_REASON_LENGTH) throw new RepoError('USAGE', `the yank reason is ${reason.length} characters; keep it under ${MAX_REASON_LENGTH}`);
  const date = formatExpires(options.now ?? new Date());
  return editReleases(options, `yanking ${options.version}`, (tufup) => {
    const current = tufup.yanked as JSONObject | undefined;
    // Yanking again with the same reason changes nothing (and keeps the first date).
    if (current?.reason === reason) return;
    tufup.yanked = { reason, date };
  });
}

/** Puts a yanked version back: clients are offered it again, within its rollout. */
export async function unyankRelease(options: ReleaseSelector): Promise<LifecycleResult> {
  return editReleases(options, `unyanking ${options.version}`, (tufup) => {
    delete tufup.yanked;
  });
}

/** The decisions of each platform/arch of the repository, as {@link ReleaseDecision}s. */
export function decisionOf(release: ReleaseEntry): ReleaseDecision {
  const tufup = (release.archive ?? release.patch)?.custom.tufup;
  const decision: ReleaseDecision = {
    version: release.version,
    platform: release.platform,
    arch: release.arch,
    rollout: release.archive?.custom.tufup.rollout ?? FULL_ROLLOUT,
    required: tufup?.required ?? false,
  };
  const yanked = release.archive?.custom.tufup.yanked;
  if (yanked !== undefined) decision.yanked = yanked;
  return decision;
}

/**
 * Edits the `custom.tufup` JSON of the archive of each selected release, then signs and writes the
 * targets (only when something changed). The JSON is edited in place, so fields this version of
 * repo-tools does not know survive.
 */
async function editReleases(options: ReleaseSelector, why: string, edit: (tufup: JSONObject) => void): Promise<LifecycleResult> {
  const { version, only } = versionAndPlatform(options, 'the version');
  const state = await loadRepository(options.repoDir);
  const selected = selectReleases(state, version, only);
  const json = state.targets.signed.toJSON();
  const entries = { ...(json.targets as JSONObject) };
  let changed = false;
  for (const release of selected) {
    if (release.archive === undefined) {
      throw new RepoError('METADATA_CORRUPT', `${version} for ${platformKey(release.platform, release.arch)} has a patch but no archive`);
    }
    const entry = structuredClone(entries[release.archive.path]) as JSONObject;
    const tufup = (entry.custom as JSONObject).tufup as JSONObject;
    const before = JSON.stringify(tufup);
    edit(tufup);
    if (JSON.stringify(tufup) === before) continue;
    entries[release.archive.path] = entry;
    changed = true;
  }
  if (!changed) {
    return { version, releases: selected.map(decisionOf), changed: false, metadata: versionsOf(state), warnings: warningsOf(state, version, selected.map(decisionOf)) };
  }
  const signers = await signersFor(options, state, ['targets', 'snapshot', 'timestamp'], why);
  const targets = Targets.fromJSON({ ...json, targets: entries });
  const metadata = await withTransaction(options, (tx) =>
    stageMetadata(tx, state, { targets, ...(options.now === undefined ? {} : { now: options.now }) }, signers),
  );
  const after = await loadRepository(options.repoDir);
  const releases = selectReleases(after, version, only).map(decisionOf);
  options.logger?.info(`${why}: targets v${metadata.targets}`);
  return { version, releases, changed: true, metadata, warnings: warningsOf(after, version, releases) };
}

function warningsOf(state: RepoState, version: string, releases: readonly ReleaseDecision[]): string[] {
  const warnings: string[] = [];
  for (const r of releases) {
    const key = platformKey(r.platform, r.arch);
    if (r.required && r.rollout < FULL_ROLLOUT) {
      warnings.push(`${version} for ${key} is required: clients take it whatever its ${r.rollout}% rollout`);
    }
    if (r.yanked !== undefined && r.rollout < FULL_ROLLOUT) warnings.push(`${version} for ${key} is yanked: its ${r.rollout}% rollout offers it to no one`);
    const all = releasesOf(state).get(key) ?? [];
    if (r.yanked !== undefined && all.every((x) => x.archive?.custom.tufup.yanked !== undefined)) {
      warnings.push(`every release for ${key} is yanked: installs stay on the version they run until a good one is published`);
    }
  }
  return warnings;
}
