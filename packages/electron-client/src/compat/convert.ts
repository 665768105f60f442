import type { Progress, StagedUpdate, UpdateInfo as CoreUpdateInfo } from '../core/index.js';
import type { ProgressInfo, UpdateDownloadedEvent, UpdateFileInfo, UpdateInfo } from './types.js';

/** electron-updater's `UpdateInfo` of an update a check found. */
export function updateInfoOf(info: CoreUpdateInfo): UpdateInfo {
  const files: UpdateFileInfo[] = info.plan.files.map((file) => ({ url: file.targetPath, size: file.size, sha512: '' }));
  const rollout = info.custom.tufup.rollout;
  return {
    version: info.version,
    files,
    path: files[0]?.url ?? '',
    sha512: '',
    releaseName: null,
    releaseNotes: info.releaseNotes ?? null,
    releaseDate: '',
    ...(rollout === undefined ? {} : { stagingPercentage: rollout }),
  };
}

/** The `UpdateInfo` of a version with no update to it: `update-not-available`'s. */
export function currentInfoOf(version: string): UpdateInfo {
  return { version, files: [], path: '', sha512: '', releaseName: null, releaseNotes: null, releaseDate: '' };
}

/** `update-downloaded`'s event: the update, and the staged folder as the downloaded file. */
export function downloadedEventOf(info: UpdateInfo, staged: StagedUpdate): UpdateDownloadedEvent {
  return { ...info, downloadedFile: staged.stagedDir };
}

/**
 * electron-updater's `ProgressInfo`: network bytes for `total`, `transferred` and `delta` (which stay put
 * while the patch is applied and the bundle unpacked), and the whole update's `percent`, which keeps
 * growing through those phases to 100.
 */
export function progressInfoOf(p: Progress): ProgressInfo {
  return { total: p.downloadSize, transferred: p.downloaded, delta: p.phase === 'download' ? p.delta : 0, percent: p.percent, bytesPerSecond: p.bytesPerSecond };
}
