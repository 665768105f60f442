import { BundleError, CodedError, ioError as bundleIoError, type IoErrorCode } from '@tufup/bundle';

/** What went wrong, as a stable string a caller can switch on; messages are for people and may change. */
export type RepoErrorCode =
  | 'USAGE'
  | 'REPO_EXISTS'
  | 'REPO_NOT_FOUND'
  | 'REPO_BUSY'
  | 'METADATA_CORRUPT'
  | 'KEYS_IN_REPO'
  | 'MISSING_KEY'
  | 'BAD_PASSPHRASE'
  | 'BAD_KEY'
  | 'INVALID_NAME'
  | 'INVALID_VERSION'
  | 'DUPLICATE_VERSION'
  | 'VERSION_NOT_NEWER'
  | 'VERSION_NOT_FOUND'
  | 'INVALID_CUSTOM'
  | 'BUNDLE_NOT_FOUND'
  | 'BUNDLE_EMPTY'
  | 'BUNDLE'
  | 'THRESHOLD'
  | 'VERIFY_FAILED'
  | 'SIGNER_FAILED'
  | 'SIGNER_TIMEOUT'
  | 'MISSING_SIGNATURES'
  | 'CEREMONY_PENDING'
  | 'CEREMONY_INVALID'
  | 'TRUST_MISMATCH'
  | 'PUBLISH_CONFLICT'
  | 'PUBLISH_FAILED'
  | 'MISSING_DEPENDENCY'
  | IoErrorCode;

/** The one error class of @tufup/repo-tools. Messages never contain private key material. */
export class RepoError extends CodedError<RepoErrorCode> { override readonly name = 'RepoError'; }

/** A Node fs error as a RepoError (DISK_FULL or IO), through @tufup/bundle's one mapping. */
export function ioError(what: string, cause: unknown): RepoError {
  return bundleIoError(what, cause, RepoError);
}

const BUNDLE_CODES: Partial<Record<string, RepoErrorCode>> = {
  BUNDLE_NOT_FOUND: 'BUNDLE_NOT_FOUND',
  BUNDLE_EMPTY: 'BUNDLE_EMPTY',
  INVALID_VERSION: 'INVALID_VERSION',
  INVALID_NAME: 'INVALID_NAME',
  DISK_FULL: 'DISK_FULL',
  IO: 'IO',
  // Inputs are checked before a trust file is made, so one that cannot be made has a broken root.json.
  INVALID_TRUST_FILE: 'METADATA_CORRUPT',
};

/** Wraps errors of @tufup/bundle in this package's error class, keeping the codes a user acts on. */
export function fromBundleError(error: unknown): unknown {
  if (!(error instanceof BundleError)) return error;
  return new RepoError(BUNDLE_CODES[error.code] ?? 'BUNDLE', error.message, { cause: error });
}
