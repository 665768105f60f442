/**
 * The one error base of every tufup package (as sigstore-js's `BaseError`): a stable `code` to switch on,
 * a message for people (which may change), and the cause. Each package declares a one-line subclass with
 * its own literal code union, so `error.code` is typed where the class is known.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** What went wrong, as a stable string a caller can switch on; messages are for people and may change. */
export type BundleErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_VERSION'
  | 'INVALID_FILENAME'
  | 'INVALID_METADATA'
  | 'INVALID_TRUST_FILE'
  | 'INVALID_ENTRY_LIST'
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
  | 'BUSY'
  | 'CANCELLED'
  | IoErrorCode;

// The name is spelled out, not taken from the constructor, because bundlers rename classes.
/** The one error class of @tufup/bundle. */
export class BundleError extends CodedError<BundleErrorCode> { override readonly name = 'BundleError'; }

/** The codes of a file-system failure, part of every package's code union: a full disk, or anything else. */
export type IoErrorCode = 'DISK_FULL' | 'IO';

/** A CodedError class that {@link ioError} can make: its codes include {@link IoErrorCode}. */
export type IoErrorClass<E extends Error> = new (code: IoErrorCode, message: string, options?: { cause?: unknown }) => E;

/** The message of anything thrown: an Error's own message, else the value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether `error` is a Node system error, with its `code` (`ENOSPC`, `EACCES` ...) and maybe `syscall` and `path`; a CodedError is not. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && !(error instanceof CodedError) && 'code' in error && typeof error.code === 'string';
}

/** The code of a Node system error (`ENOSPC`, `ERR_PARSE_ARGS_...`); undefined for anything else, a CodedError included. */
export function errnoOf(error: unknown): string | undefined {
  return isSystemError(error) ? error.code : undefined;
}

/**
 * Turns a Node fs error into a CodedError of class `kind` (BundleError unless named), keeping a disk-full
 * condition recognisable as DISK_FULL; an error of that class already passes through unchanged.
 */
export function ioError(what: string, cause: unknown): BundleError;
export function ioError<E extends Error>(what: string, cause: unknown, kind: IoErrorClass<E>): E;
export function ioError(what: string, cause: unknown, kind: IoErrorClass<Error> = BundleError): Error {
  if (cause instanceof kind) return cause;
  const errno = errnoOf(cause);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return new kind('DISK_FULL', `${what}: the disk is full`, { cause });
  return new kind('IO', `${what}: ${messageOf(cause)}`, { cause });
}
