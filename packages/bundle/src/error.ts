/** What went wrong, as a stable string a caller can switch on; messages are for people and may change. */
export type BundleErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_VERSION'
  | 'INVALID_FILENAME'
  | 'INVALID_METADATA'
  | 'INVALID_TRUST_FILE'
  | 'BUNDLE_NOT_FOUND'
  | 'BUNDLE_EMPTY'
  | 'UNSUPPORTED_ENTRY'
  | 'UNSAFE_ENTRY'
  | 'DESTINATION_EXISTS'
  | 'HASH_MISMATCH'
  | 'CONTENT_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'PATCH_FORMAT'
  | 'PATCH_BASE_MISMATCH'
  | 'PATCH_CORRUPT'
  | 'TOO_LARGE'
  | 'DISK_FULL'
  | 'IO';

/** The one error class of @tufup/bundle. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly code: BundleErrorCode;

  constructor(code: BundleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Turns a Node fs error into a BundleError, keeping a disk-full condition recognisable. */
export function ioError(what: string, cause: unknown): BundleError {
  if (cause instanceof BundleError) return cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BundleError('DISK_FULL', `${what}: the disk is full`, { cause });
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new BundleError('IO', `${what}: ${detail}`, { cause });
}
