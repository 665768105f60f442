export { RepoError, type RepoErrorCode } from './error.js';
export {
  ROLES,
  CONFIG_FILE,
  METADATA_DIR,
  TARGETS_DIR,
  DEFAULT_EXPIRY_DAYS,
  DEFAULT_THRESHOLDS,
  DEFAULT_KEY_COUNTS,
  KEY_ENV,
  PASSPHRASE_ENV,
  KEYS_DIR_ENV,
  readConfig,
  type RoleName,
  type RepoConfig,
  type RoleConfig,
  type Logger,
} from './config.js';
export {
  KeyObjectSigner,
  keyIdOf,
  tufKeyOf,
  ed25519PublicKey,
  publicKeyJson,
  parsePublicKey,
  type Signer,
  type SignatureValue,
  type SignContext,
  type KeyType,
  type PublicKeyJson,
} from './signer.js';
export { CommandSigner, SIGNER_PROTOCOL, DEFAULT_SIGNER_TIMEOUT_MS, type CommandSignerOptions } from './signer-command.js';
export {
  generateKey,
  exportPrivateKey,
  parsePrivateKey,
  findSigners,
  keyFileName,
  protectKeysDir,
  deleteRetiredKeys,
  type KeySource,
  type KeysDirProtection,
  type RetiredKey,
} from './keystore.js';
export { formatExpires, expiresIn, signMetadata, SPEC_VERSION } from './metadata.js';
export { loadRepository, type RepoState, type MetadataVersions } from './store.js';
export { trustFileOf, writeTrustFile, checkTrustFile, type TrustOptions, type TrustResult } from './trust.js';
export {
  initRepository,
  signRepository,
  type RepoOptions,
  type InitOptions,
  type InitResult,
  type KeyInfo,
  type SignOptions,
  type SignResult,
} from './repository.js';
export {
  addBundle,
  addRelease,
  removeVersion,
  pruneVersions,
  releasesOf,
  type AddOptions,
  type AddReleaseOptions,
  type ReleaseBundle,
  type AddResult,
  type AddedFile,
  type RemoveOptions,
  type PruneOptions,
  type RemoveResult,
  type ReleaseEntry,
  type TargetEntry,
} from './release.js';
export {
  rotateKey,
  addKey,
  removeKey,
  setThreshold,
  type KeyCommandOptions,
  type RotateOptions,
  type AddKeyOptions,
  type RemoveKeyOptions,
  type ThresholdOptions,
  type KeyChangeResult,
} from './keyring.js';
export {
  setRollout,
  yankRelease,
  unyankRelease,
  MAX_REASON_LENGTH,
  type ReleaseSelector,
  type ReleaseDecision,
  type LifecycleResult,
  type RolloutOptions,
  type YankOptions,
} from './lifecycle.js';
export {
  beginRootCeremony,
  signRootCeremony,
  showRootCeremony,
  publishRootCeremony,
  generateKeyFiles,
  ceremonyFileOf,
  CEREMONY_FILE,
  type BeginOptions,
  type NewKey,
  type CeremonyStatus,
  type ThresholdStatus,
  type CeremonySignOptions,
  type CeremonyPublishOptions,
  type CeremonyPublishResult,
  type KeygenOptions,
  type KeygenResult,
} from './ceremony.js';
export { repositoryStatus, type StatusResult, type RoleStatus, type VersionStatus } from './status.js';
export { verifyRepository, type VerifyOptions, type VerifyResult } from './verification.js';
export {
  publishRepository,
  PHASES,
  DEFAULT_MAX_AGE,
  type PublishOptions,
  type PublishResult,
  type UploadedFile,
  type Phase,
  type S3Options,
} from './publish/index.js';
