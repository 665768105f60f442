import { BundleError, CodedError, errnoOf, messageOf } from '@tufup/bundle/base';
import { CryptoError, RepositoryError as ModelRepositoryError, ValueError as ModelValueError } from '@tufjs/models/dist/error.js';
import {
  DownloadHTTPError,
  DownloadLengthMismatchError,
  PersistError,
  RepositoryError,
  RuntimeError,
  ValueError,
} from 'tuf-js/dist/error.js';

/**
 * What went wrong, as a stable string to switch on (messages are for people and may change):
 * - `NETWORK`: the server could not be reached or answered with an HTTP error; try again later.
 * - `TIMEOUT`: a connection stalled (no bytes for `stallTimeoutMs`) or was too slow (under
 *   `minBytesPerSecond`), on every retry; try again, the download resumes.
 * - `VERIFICATION`: metadata or a file failed TUF verification (signature, expiry, rollback, length,
 *   hash), or a signed file is malformed; nothing unverified was kept.
 * - `PATCH`: a patch could not be applied; the client already fell back to the full archive once.
 * - `DISK`: the cache folder could not be written (full disk, permissions).
 * - `BUSY`: another process (a second instance of the app) is checking or downloading in the same cache
 *   folder, and did not finish within `busyTimeoutMs`; try again later (nothing was changed).
 * - `CANCELLED`: the caller's AbortSignal fired.
 * - `CONFIG`: the options are wrong (missing trusted root, bad URL, bad version).
 * - `NO_UPDATE`: `downloadUpdate` was given an update that is not newer or no longer published.
 * - `UNSUPPORTED_RUNTIME`: Electron or Node is older than the client needs (zstd dictionaries in
 *   node:zlib: Electron >= 43); the message names the version found and the one needed.
 * - `UNSUPPORTED_INSTALL`: this install cannot be updated in place (unpackaged, not writable, a system
 *   package, an AppImage, ...); the updater says why before downloading anything.
 * - `INTERNAL`: a bug; the cause says more.
 */
export type UpdateErrorCode =
  | 'NETWORK'
  | 'TIMEOUT'
  | 'VERIFICATION'
  | 'PATCH'
  | 'DISK'
  | 'BUSY'
  | 'CANCELLED'
  | 'CONFIG'
  | 'NO_UPDATE'
  | 'UNSUPPORTED_RUNTIME'
  | 'UNSUPPORTED_INSTALL'
  | 'INTERNAL';

/** The one error class of the client core. */
export class UpdateError extends CodedError<UpdateErrorCode> { override readonly name = 'UpdateError'; }

const DISK_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE', 'EIO', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOENT']);

/** How tuf-js's PersistError message begins (tuf-js 6 `Updater.persistMetadata`). */
const PERSIST_FAILURE = 'Failed to persist metadata';

/**
 * Turns anything thrown below us (tuf-js, @tufup/bundle, fs) into an UpdateError. `fetchFailure` is why
 * the fetcher's latest request failed (undefined when it succeeded): tuf-js wraps snapshot and targets
 * errors in a plain RuntimeError that keeps only the message, so the operation's record of its fetcher tells a
 * failed download apart from downloaded metadata that failed verification.
 */
export function toUpdateError(error: unknown, what: string, signal?: AbortSignal, fetchFailure?: unknown): UpdateError {
  if (signal?.aborted === true) return new UpdateError('CANCELLED', `${what}: cancelled`, { cause: error });
  if (error instanceof UpdateError) return error;
  if (error instanceof DownloadHTTPError) {
    return new UpdateError('NETWORK', `${what}: the server answered HTTP ${error.statusCode}`, { cause: error });
  }
  if (error instanceof DownloadLengthMismatchError) {
    return new UpdateError('VERIFICATION', `${what}: the server sent more bytes than the signed length`, { cause: error });
  }
  if (error instanceof RuntimeError && fetchFailure !== undefined) return toUpdateError(fetchFailure, what, signal);
  // The download succeeded, so a wrapped failure is the verification of the bytes, or their saving:
  // tuf-js keeps only the message of its PersistError.
  if (error instanceof PersistError || (error instanceof RuntimeError && error.message.includes(PERSIST_FAILURE))) {
    return new UpdateError('DISK', `${what}: could not save metadata: ${error.message}`, { cause: error });
  }
  if (
    error instanceof RepositoryError ||
    error instanceof ModelRepositoryError ||
    error instanceof CryptoError ||
    error instanceof RuntimeError ||
    error instanceof ValueError ||
    error instanceof ModelValueError ||
    error instanceof ReferenceError
  ) {
    return new UpdateError('VERIFICATION', `${what}: the update repository failed TUF verification: ${error.message}`, { cause: error });
  }
  if (error instanceof BundleError) {
    switch (error.code) {
      case 'PATCH_FORMAT':
      case 'PATCH_BASE_MISMATCH':
      case 'PATCH_CORRUPT':
      case 'CONTENT_MISMATCH':
        return new UpdateError('PATCH', `${what}: ${error.message}`, { cause: error });
      case 'BUSY':
      case 'CANCELLED':
        // The lock's own sentence: who holds it, and what to do.
        return new UpdateError(error.code, error.message, { cause: error });
      case 'DISK_FULL':
        return new UpdateError('DISK', `${what}: the disk is full; free some space and try again`, { cause: error });
      case 'IO':
        return new UpdateError('DISK', `${what}: ${error.message}`, { cause: error });
      default:
        return new UpdateError('VERIFICATION', `${what}: ${error.message}`, { cause: error });
    }
  }
  const errno = errnoOf(error);
  if (errno !== undefined && DISK_ERRNO.has(errno)) {
    const hint = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'the disk is full; free some space and try again' : messageOf(error);
    return new UpdateError('DISK', `${what}: ${hint}`, { cause: error });
  }
  return new UpdateError('INTERNAL', `${what}: ${messageOf(error)}`, { cause: error });
}
