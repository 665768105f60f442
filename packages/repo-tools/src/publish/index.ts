import type { Logger } from '../config.js';
import { RepoError } from '../error.js';
import { loadRepository } from '../store.js';
import { openDestination, type Destination, type RemoteFile } from './destination.js';
import { DEFAULT_MAX_AGE, PHASES, planUpload, type Phase, type PlannedFile } from './plan.js';
import type { S3Options } from './s3.js';

export { PHASES, DEFAULT_MAX_AGE, type Phase } from './plan.js';
export type { S3Options } from './s3.js';

/** Options of {@link publishRepository}. */
export interface PublishOptions {
  repoDir: string;
  /** `s3://bucket/prefix`, or a folder. */
  to: string;
  /** For `s3://` destinations. */
  s3?: S3Options;
  /** Seconds caches may keep `timestamp.json` and `root.json`. @default 60 */
  maxAge?: number;
  /** Overwrite a versioned metadata file the destination holds with other bytes (see PUBLISH_CONFLICT). @default false */
  force?: boolean;
  /** Uploads at once within a phase. @default 4 */
  concurrency?: number;
  /** Progress messages; silent when absent. */
  logger?: Logger;
}

/** One file a publish uploaded. */
export interface UploadedFile {
  key: string;
  phase: Phase;
  size: number;
  cacheControl: string;
}

/** What {@link publishRepository} did. */
export interface PublishResult {
  destination: string;
  /** In upload order: every phase's files before the next phase's. */
  uploaded: UploadedFile[];
  /** Files already there with the same content. */
  skipped: number;
  bytes: number;
  metadata: { root: number; targets: number; snapshot: number; timestamp: number };
}

/**
 * Whether `file` must be uploaded. Targets are named by their sha256, so the same name and size is the
 * same file. Versioned metadata is compared by content; other bytes under the same name mean the
 * destination was published from another copy of the repository: PUBLISH_CONFLICT, unless `force`.
 */
async function needsUpload(file: PlannedFile, remote: RemoteFile | undefined, destination: Destination, force: boolean): Promise<boolean> {
  if (remote === undefined) return true;
  if (file.phase === 'targets') return remote.size !== file.size;
  const md5 = remote.size === file.size ? (remote.md5 ?? (await destination.md5Of(file.key))) : undefined;
  if (md5 === file.md5) return false;
  if (file.immutable && !force) {
    throw new RepoError(
      'PUBLISH_CONFLICT',
      `${destination.description} holds a different ${file.key} than this repository: was it published from another copy of it? Clients may have fetched that one; publish with --force only if this copy is the right one`,
    );
  }
  return true;
}

/** Runs `work` on each item, at most `limit` at a time; the first failure stops new work and is thrown. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/**
 * Uploads the repository's current state to `to` in TUF's safe order: targets, then the versioned
 * targets and snapshot metadata, then the root chain and root.json, then timestamp.json, each phase done
 * before the next starts. Whatever moment it stops at (a kill, a network failure), clients see the old
 * release or the new one, and a re-run completes it. Files already there are skipped.
 */
export async function publishRepository(options: PublishOptions): Promise<PublishResult> {
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
  if (!Number.isInteger(maxAge) || maxAge < 0) throw new RepoError('USAGE', `the max-age must be a whole number of seconds, not ${String(maxAge)}`);
  const concurrency = options.concurrency ?? 4;
  const state = await loadRepository(options.repoDir);
  const plan = await planUpload(state, { maxAge });
  const destination = await openDestination(options.to, options.s3 === undefined ? {} : { s3: options.s3 });
  const result: PublishResult = {
    destination: destination.description,
    uploaded: [],
    skipped: 0,
    bytes: 0,
    metadata: { root: state.root.signed.version, targets: state.targets.signed.version, snapshot: state.snapshot.signed.version, timestamp: state.timestamp.signed.version },
  };
  try {
    const remote = await destination.list();
    const todo: PlannedFile[] = [];
    for (const file of plan) {
      if (await needsUpload(file, remote.get(file.key), destination, options.force === true)) todo.push(file);
      else result.skipped++;
    }
    options.logger?.info(`publishing to ${destination.description}: ${todo.length} file(s) to upload, ${result.skipped} already there`);
    for (const phase of PHASES) {
      // Metadata phases go one file at a time, in order: the root chain must appear as a chain.
      const files = todo.filter((f) => f.phase === phase);
      await eachLimited(files, phase === 'targets' ? concurrency : 1, async (file) => {
        await destination.put(file);
        result.uploaded.push({ key: file.key, phase, size: file.size, cacheControl: file.cacheControl });
        result.bytes += file.size;
        options.logger?.info(`uploaded ${file.key} (${file.size} bytes)`);
      });
    }
  } finally {
    await destination.close();
  }
  return result;
}
