import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RepoError } from '../error.js';
import { FolderDestination } from './folder.js';
import type { PlannedFile } from './plan.js';
import { openS3Destination, type S3Options } from './s3.js';

/** What a destination knows of a file it holds. */
export interface RemoteFile {
  size: number;
  /** MD5 of its bytes, when the store can tell without reading it (an S3 ETag of a single-part upload). */
  md5?: string;
}

/** Where a repository is published: the five operations a publish needs. */
export interface Destination {
  /** For messages: `s3://bucket/prefix`, or the folder. */
  readonly description: string;
  /** Every file below `metadata/` and `targets/`, by key. */
  list(): Promise<Map<string, RemoteFile>>;
  /** The MD5 of a file's bytes, reading it when the listing did not say; undefined when it is gone. */
  md5Of(key: string): Promise<string | undefined>;
  /** Stores a file so that readers see the old bytes or the new ones, never a part. */
  put(file: PlannedFile): Promise<void>;
  /** Ends the session (connections, temporary files). */
  close(): Promise<void>;
}

/** Options of {@link openDestination}. */
export interface DestinationOptions {
  /** For `s3://` destinations. */
  s3?: S3Options;
}

/**
 * The destination a `--to` names: `s3://bucket[/prefix]` is an S3-compatible store (AWS S3, R2, MinIO,
 * Spaces, GCS interop); anything else (a path, or a `file:` URL) is a folder a web server serves.
 */
export async function openDestination(to: string, options: DestinationOptions = {}): Promise<Destination> {
  if (to.startsWith('s3://')) return openS3Destination(to, options.s3 ?? {});
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to) && !to.startsWith('file://')) {
    throw new RepoError('USAGE', `cannot publish to "${to}": use s3://bucket/prefix or a folder`);
  }
  return new FolderDestination(to.startsWith('file://') ? fileURLToPath(to) : resolve(to));
}
