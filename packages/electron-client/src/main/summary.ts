import { toUpdateError } from '../core/error.js';
import type { StagedUpdate, UpdateError, UpdateInfo } from '../core/index.js';
import type { UpdateSummary } from '../ipc/channels.js';
import type { ErrorPayload } from '../ipc/protocol.js';

/** What windows see of an update found by a check. */
export function summaryOfInfo(info: UpdateInfo): UpdateSummary {
  const summary: UpdateSummary = { version: info.version, required: info.required, downloadSize: info.plan.downloadSize, strategy: info.plan.strategy };
  if (info.releaseNotes !== undefined) summary.releaseNotes = info.releaseNotes;
  return summary;
}

/** What windows see of a downloaded update. */
export function summaryOfStaged(staged: StagedUpdate): UpdateSummary {
  const summary: UpdateSummary = { version: staged.version, required: staged.required, downloadSize: staged.downloadedBytes, strategy: staged.strategy };
  if (staged.releaseNotes !== undefined) summary.releaseNotes = staged.releaseNotes;
  return summary;
}

/**
 * Anything thrown, as an UpdateError, through the core's mapping: a file-system error keeps its meaning
 * (a full or read-only disk is DISK), only the unrecognisable is `INTERNAL`.
 */
export function asUpdateError(error: unknown, what = 'the updater'): UpdateError {
  return toUpdateError(error, what);
}

/** An error as plain data for IPC. */
export function errorPayload(error: unknown): ErrorPayload {
  const e = asUpdateError(error);
  return { code: e.code, message: e.message };
}
