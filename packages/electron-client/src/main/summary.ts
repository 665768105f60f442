import type { StagedUpdate, UpdateInfo } from '../core/index.js';
import type { UpdateSummary } from '../ipc/channels.js';

/** What windows see of an update found by a check. */
export function summaryOfInfo(info: UpdateInfo): UpdateSummary {
  const summary: UpdateSummary = { version: info.version, required: info.required, downloadSize: info.plan.downloadSize, strategy: info.plan.strategy, decision: info.decision };
  if (info.releaseNotes !== undefined) summary.releaseNotes = info.releaseNotes;
  return summary;
}

/** What windows see of a downloaded update. */
export function summaryOfStaged(staged: StagedUpdate): UpdateSummary {
  const summary: UpdateSummary = { version: staged.version, required: staged.required, downloadSize: staged.downloadedBytes, strategy: staged.strategy };
  if (staged.releaseNotes !== undefined) summary.releaseNotes = staged.releaseNotes;
  return summary;
}
