export { CodedError, BundleError, ioError, messageOf, errnoOf, isSystemError, type BundleErrorCode, type IoErrorCode, type IoErrorClass } from './error.js';
export { parseVersion, compareVersions, isPrerelease, channelOf } from './version.js';
export {
  NAME_PATTERN,
  ARCHIVE_SUFFIX,
  PATCH_SUFFIX,
  ENTRIES_SUFFIX,
  checkName,
  targetFileName,
  targetPath,
  platformKey,
  parseTargetFileName,
  parseTargetPath,
  type TargetId,
  type TargetKind,
} from './naming.js';
export { Hasher, DigestStream, digestFile, digestBuffer, sameDigest, type Digest } from './hash.js';
export { scanBundle, tarSize, tarChunks, tarToBuffer, digestTarOf, writeTar, writeFileAtomic, type TarEntry, type TarEntryType } from './tar.js';
export { listTar } from './list.js';
export { ENTRY_LIST_SCHEMA, serializeEntryList, parseEntryList } from './entries.js';
export { ONE_FILE_ENTRY } from './one-file.js';
export { acquireLock, processAlive, processStarted, holderAlive, type LockHolder, type LockLogger, type LockOptions } from './lock.js';
export { syncFolder, makeFolder, syncMadeFolders, type MadeFolders } from './durable.js';
export { extractTar, type ExtractOptions } from './extract.js';
export { createArchive, gzipFile, gunzipFile, gunzipToBuffer, extractArchive, type ArchiveInfo } from './archive.js';
export {
  PATCH_MAGIC,
  PATCH_FORMAT_VERSION,
  ZSTD_ENGINE,
  REGIONS_ENGINE,
  createPatch,
  createPatchFile,
  readPatchHeader,
  applyPatch,
  applyPatchFromFolder,
  zstdPatchParams,
  DEFAULT_MAX_TABLE_LOG,
  type PatchHeader,
  type ZstdPatchHeader,
  type RegionsPatchHeader,
  type PatchEngine,
  type PatchOptions,
  type ApplyPatchOptions,
  type ApplyPatchFromFolderOptions,
} from './delta.js';
export type { RegionOp } from './regions.js';
export { CUSTOM_SCHEMA, FULL_ROLLOUT, checkRollout, parseTargetCustom, type TufupCustom, type TargetCustom, type Yank } from './metadata.js';
export {
  TRUST_FILE,
  TRUST_SCHEMA,
  parseTrustFile,
  serializeTrustFile,
  type TrustFile,
  type TrustFileInput,
  type ParsedTrustFile,
  type JsonObject,
  type JsonValue,
} from './trust.js';
export { useLinearTargetsCodec, verifiedTargetsOf, type TargetInfoSource } from './tuf-targets.js';
export { BundleValidator, validateBundleEntries, validateTar, kindOfTarType, type EntryFacts, type EntryKind } from './validate.js';
