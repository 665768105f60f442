import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { constants, createZstdDecompress, gunzipSync, gzipSync, zstdCompress } from 'node:zlib';
import { BufferSource, FolderSource, TarFileSource, type BaseSource } from './base-source.js';
import { BundleError, errnoOf, ioError, messageOf } from './error.js';
import { isTarEntry } from './entries.js';
import { digestBuffer, DigestStream, sameDigest, type Digest } from './hash.js';
import { listTar } from './list.js';
import { applyRegions, createRegions, isRegionList, payloadBytes, REGIONS_ENGINE, zstdWindowParams, type RegionOp } from './regions.js';
import { scanBundle, tarToBuffer, writeFileAtomic, type TarEntry } from './tar.js';

const zstdCompressAsync = promisify(zstdCompress);

/** First bytes of every tufup patch file. */
export const PATCH_MAGIC = Buffer.from('TUFUPDLT', 'ascii');
/** Version of the container format (magic, header); engines are versioned by name inside it. */
export const PATCH_FORMAT_VERSION = 1;
/**
 * The first engine: the whole new tar as one zstd frame with the whole old tar as its dictionary
 * ("patch-from"), and the old tar's entry list in the header. Still read; made only when asked for.
 */
export const ZSTD_ENGINE = 'zstd-patch-from';
export { REGIONS_ENGINE };
const FIXED_HEADER = 16;
/** Flag bit (u16 at offset 10): the JSON header is gzip-compressed. A base tar's entry list is most of
 * the header, and it compresses about tenfold (394 KB of a 5.2 MB patch for a 3,000-entry bundle). */
const FLAG_GZIP_HEADER = 1;
/** A header that inflates past this is refused rather than allowed to exhaust memory. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** zstd's largest window (64-bit builds): old + new tar must fit in 2 GiB. */
const MAX_WINDOW_LOG = 31;

interface HeaderDigests {
  /** The tar this patch applies to. */
  base: Digest;
  /** The tar this patch produces. */
  target: Digest;
}

/** Header of a `zstd-patch-from` patch. */
export interface ZstdPatchHeader extends HeaderDigests {
  engine: typeof ZSTD_ENGINE;
  /** The base tar's entries, so a client can rebuild the base from an install folder. */
  baseEntries: TarEntry[];
}

/** Header of a `regions` patch: the client scans its install folder for the base (see docs/delta.md). */
export interface RegionsPatchHeader extends HeaderDigests {
  engine: typeof REGIONS_ENGINE;
  /** How each stretch of the new tar is made, in order; their payloads follow the header in the same order. */
  regions: RegionOp[];
  /**
   * The base tar's entries, only with `PatchOptions.baseEntries` (and in patches made before clients
   * fetched a version's signed entry list): for clients that cannot fetch that list and must patch
   * installs an installer added files to.
   */
  baseEntries?: TarEntry[];
}

/** The JSON header of a patch file, after the fixed 16 bytes. */
export type PatchHeader = ZstdPatchHeader | RegionsPatchHeader;

/** The engines {@link createPatch} can make: `auto` (the default) chooses per entry of the tar. */
export type PatchEngine = 'auto' | 'zstd' | 'bsdiff' | typeof ZSTD_ENGINE;

/** Tuning of {@link createPatch}. */
export interface PatchOptions {
  /**
   * `auto`: a `regions` patch, each changed entry made by the engine that suits it (bsdiff for
   * executables, zstd for the rest); `zstd` or `bsdiff`: a `regions` patch with that engine for every
   * changed entry; `zstd-patch-from`: the first format (one zstd frame, the entry list in the header).
   * @default 'auto'
   */
  engine?: PatchEngine;
  /** Bytes of the new tar diffed so far, and its size; a long diff reports every few MB. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Also write the base tar's entry list into a `regions` patch's header (gzip-compressed; 1.5 KB for
   * 150 entries, 16 KB for 3,400). Clients scan their install folder for the base, and when an installer
   * added files there, fetch the base version's signed entry list target (`<name>-<version>.entries`);
   * the list in the header serves clients that predate that target.
   * @default false
   */
  baseEntries?: boolean;
  /** zstd compression level. @default 19 */
  level?: number;
  /**
   * Upper bound of zstd's hash and chain table logs: the diff's memory (about 2^n * 16 bytes) against
   * patch size. 24 made patches about 30% larger for a third of the memory (see docs/delta.md).
   * @default 27
   */
  maxTableLog?: number;
}

/** Default of {@link PatchOptions.maxTableLog}. */
export const DEFAULT_MAX_TABLE_LOG = 27;

/** zstd parameters for a patch from `baseSize` to `targetSize`: the window must cover both. */
export function zstdPatchParams(baseSize: number, targetSize: number, level: number, maxTableLog = DEFAULT_MAX_TABLE_LOG): Record<number, number> {
  const window = zstdWindowParams(baseSize, targetSize, level, maxTableLog);
  if ((window[constants.ZSTD_c_windowLog] ?? 0) > MAX_WINDOW_LOG) {
    throw new BundleError('TOO_LARGE', `a patch needs old + new tar under 2 GiB; these are ${baseSize + targetSize} bytes`);
  }
  return { ...window, [constants.ZSTD_c_checksumFlag]: 1 };
}

/** Makes the bytes of a patch from tar `base` to tar `target`. Both tars are held in memory. */
export async function createPatch(base: Buffer, target: Buffer, options: PatchOptions = {}): Promise<Buffer> {
  const level = options.level ?? 19;
  const maxTableLog = options.maxTableLog ?? DEFAULT_MAX_TABLE_LOG;
  const digests = { base: digestBuffer(base), target: digestBuffer(target) };
  if (options.engine === ZSTD_ENGINE) {
    const header: ZstdPatchHeader = { engine: ZSTD_ENGINE, ...digests, baseEntries: await listTar(base) };
    const payload = await zstdCompressAsync(target, {
      dictionary: base,
      pledgedSrcSize: target.length,
      params: zstdPatchParams(base.length, target.length, level, maxTableLog),
    });
    options.onProgress?.(target.length, target.length);
    return container(header, [payload]);
  }
  const { ops, payloads } = await createRegions(base, target, {
    level,
    maxTableLog: Math.min(maxTableLog, REGION_MAX_TABLE_LOG),
    engine: options.engine ?? 'auto',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const header: RegionsPatchHeader = { engine: REGIONS_ENGINE, ...digests, regions: ops };
  // A base that is not a tar (a single file diffed as one region) has no entry list to give.
  if (options.baseEntries === true) {
    const entries = await listTar(base).catch(() => undefined);
    if (entries !== undefined) header.baseEntries = entries;
  }
  return container(header, payloads);
}

/** A zstd region's window is at most 64 MiB (dictionary + new bytes): tables past 2^26 buy nothing there. */
const REGION_MAX_TABLE_LOG = 26;

function container(header: PatchHeader, payload: Buffer[]): Buffer {
  const json = gzipSync(JSON.stringify(header), { level: 9 });
  const fixed = Buffer.alloc(FIXED_HEADER);
  PATCH_MAGIC.copy(fixed, 0);
  fixed.writeUInt16LE(PATCH_FORMAT_VERSION, 8);
  fixed.writeUInt16LE(FLAG_GZIP_HEADER, 10);
  fixed.writeUInt32LE(json.length, 12);
  return Buffer.concat([fixed, json, ...payload]);
}

/** Writes a patch between two tar files to `outPath` (atomically); returns the patch's digest. */
export async function createPatchFile(baseTar: string, targetTar: string, outPath: string, options: PatchOptions = {}): Promise<Digest> {
  const patch = await createPatch(await readFile(baseTar), await readFile(targetTar), options);
  await writeFileAtomic(outPath, [patch]);
  return digestBuffer(patch);
}

/** Reads and checks the header of a patch file; PATCH_FORMAT when it is not one this code reads. */
export async function readPatchHeader(patchPath: string): Promise<{ header: PatchHeader; payloadOffset: number }> {
  const handle = await open(patchPath, 'r').catch((e: unknown) => {
    throw ioError(`could not open the patch ${patchPath}`, e);
  });
  try {
    const fixed = Buffer.alloc(FIXED_HEADER);
    const { bytesRead } = await handle.read(fixed, 0, FIXED_HEADER, 0);
    if (bytesRead < FIXED_HEADER || !fixed.subarray(0, 8).equals(PATCH_MAGIC)) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} is not a tufup patch`);
    }
    const version = fixed.readUInt16LE(8);
    if (version !== PATCH_FORMAT_VERSION) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} has patch format ${version}; this client reads ${PATCH_FORMAT_VERSION}`);
    }
    const flags = fixed.readUInt16LE(10);
    if ((flags & ~FLAG_GZIP_HEADER) !== 0) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} has header flags ${flags} that this client does not know`);
    }
    const length = fixed.readUInt32LE(12);
    // The length comes from the file: check it against the file before allocating that much.
    const { size } = await handle.stat();
    if (FIXED_HEADER + length > size) throw new BundleError('PATCH_FORMAT', `${patchPath} ends inside its header`);
    const json = Buffer.alloc(length);
    const read = await handle.read(json, 0, length, FIXED_HEADER);
    if (read.bytesRead !== length) throw new BundleError('PATCH_FORMAT', `${patchPath} ends inside its header`);
    let parsed: unknown;
    try {
      const text = flags & FLAG_GZIP_HEADER ? gunzipSync(json, { maxOutputLength: MAX_HEADER_BYTES }) : json;
      parsed = JSON.parse(text.toString('utf8'));
    } catch (cause) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} has an unreadable header`, { cause });
    }
    if (!isRecord(parsed) || typeof parsed.engine !== 'string' || !isDigest(parsed.base) || !isDigest(parsed.target)) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} has a header without engine, base or target`);
    }
    if (parsed.engine !== ZSTD_ENGINE && parsed.engine !== REGIONS_ENGINE) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} needs the patch engine "${parsed.engine}", which this client does not have`);
    }
    const payloadOffset = FIXED_HEADER + length;
    if (parsed.engine === ZSTD_ENGINE && !(Array.isArray(parsed.baseEntries) && parsed.baseEntries.every(isTarEntry))) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} has a header without a valid list of base entries`);
    }
    if (parsed.engine === REGIONS_ENGINE) {
      const { regions, baseEntries } = parsed;
      if (baseEntries !== undefined && !(Array.isArray(baseEntries) && baseEntries.every(isTarEntry))) {
        throw new BundleError('PATCH_FORMAT', `${patchPath} has a header with an invalid list of base entries`);
      }
      if (!isRegionList(regions, parsed.base.size, parsed.target.size)) {
        throw new BundleError('PATCH_FORMAT', `${patchPath} has regions that do not make its target from its base`);
      }
      const payload = regions.reduce((sum, op) => sum + payloadBytes(op), 0);
      if (payloadOffset + payload !== size) {
        throw new BundleError('PATCH_CORRUPT', `${patchPath} holds ${size - payloadOffset} bytes of payload, its regions ${payload}: it was cut or extended`);
      }
    }
    return { header: parsed as unknown as PatchHeader, payloadOffset };
  } finally {
    await handle.close();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDigest(v: unknown): v is Digest {
  return isRecord(v) && typeof v.sha256 === 'string' && /^[0-9a-f]{64}$/.test(v.sha256) && Number.isSafeInteger(v.size) && (v.size as number) >= 0;
}

/** Inputs of {@link applyPatch}. */
export interface ApplyPatchOptions {
  patchPath: string;
  /**
   * The base tar in memory. A `regions` patch reads it by position; a `zstd-patch-from` patch needs it
   * whole as its dictionary. Give this or `basePath`.
   */
  base?: Buffer;
  /** The base tar on disk, read by position (`regions`: memory stays flat whatever its size). */
  basePath?: string;
  /**
   * Hands `base` over: it is emptied (its memory freed) as soon as it is no longer needed (for a
   * `zstd-patch-from` patch, once the decoder holds its own copy). Leave it off if you use `base` after.
   * @default false
   */
  releaseBase?: boolean;
  /** Where the new tar goes; it appears only once it matches `expected`. */
  outPath: string;
  /** The signed digest of the new tar. */
  expected: Digest;
  /** Bytes of the new tar written so far, and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Inputs of {@link applyPatchFromFolder}: the install folder stands in for the base tar. */
export interface ApplyPatchFromFolderOptions extends Omit<ApplyPatchOptions, 'base' | 'basePath' | 'releaseBase'> {
  /** The installed app the patch applies to. */
  installDir: string;
  /**
   * The base version's entries (its signed entry list) for a `regions` patch, when the folder also holds
   * files the archive never had. Without it the folder is scanned as `tufup-repo add` scanned the bundle.
   */
  baseEntries?: readonly TarEntry[];
}

/**
 * Applies a patch, streaming the new tar to disk and hashing it on the way. A wrong base is refused
 * before any work (PATCH_BASE_MISMATCH); output that grows past, or ends short of, the signed size or
 * hash is deleted (HASH_MISMATCH); an undecodable payload is PATCH_CORRUPT.
 */
export async function applyPatch(options: ApplyPatchOptions): Promise<Digest> {
  const { header, payloadOffset } = await readPatchHeader(options.patchPath);
  const { base, basePath } = options;
  if (base !== undefined && basePath !== undefined) throw new TypeError('applyPatch takes base or basePath, not both');
  if (header.engine === ZSTD_ENGINE) {
    return decodeZstd(options, header, payloadOffset, base ?? (await readBase(basePath)), base === undefined || options.releaseBase === true);
  }
  const source = base !== undefined ? new BufferSource(base) : await TarFileSource.open(await pathOf(basePath));
  try {
    return await decodeRegions(options, header, payloadOffset, source);
  } finally {
    await source.close();
    if (base !== undefined && options.releaseBase === true) release(base);
  }
}

async function pathOf(basePath: string | undefined): Promise<string> {
  return basePath ?? Promise.reject(new TypeError('applyPatch needs base or basePath'));
}

async function readBase(basePath: string | undefined): Promise<Buffer> {
  const path = await pathOf(basePath);
  return readFile(path).catch((e: unknown) => {
    throw ioError(`could not read the patch base ${path}`, e);
  });
}

/**
 * Applies a patch to an installed app, reading the base from `installDir`'s files. A `regions` patch
 * scans the folder (or follows `baseEntries`) and reads each file by position; a `zstd-patch-from` patch
 * rebuilds the old tar in memory following the entry list in its header. Either way the base is checked
 * against the patch's signed base digest: a folder that no longer matches (a file changed, missing or
 * added) is PATCH_BASE_MISMATCH, and the caller falls back to the full archive.
 */
export async function applyPatchFromFolder(options: ApplyPatchFromFolderOptions): Promise<Digest> {
  const { header, payloadOffset } = await readPatchHeader(options.patchPath);
  const notBase = (cause: unknown): BundleError | undefined =>
    cause instanceof BundleError && ['CONTENT_MISMATCH', 'BUNDLE_NOT_FOUND', 'BUNDLE_EMPTY', 'UNSUPPORTED_ENTRY', 'UNSAFE_ENTRY'].includes(cause.code)
      ? new BundleError('PATCH_BASE_MISMATCH', `${options.installDir} is not the version ${options.patchPath} applies to: ${cause.message}`, { cause })
      : undefined;
  if (header.engine === ZSTD_ENGINE) {
    const base = await tarToBuffer(options.installDir, header.baseEntries).catch((cause: unknown) => {
      throw notBase(cause) ?? cause;
    });
    return decodeZstd(options, header, payloadOffset, base, true);
  }
  // The folder as scanned, else (an installer or the app added files) the version's entry list: the
  // caller's, or the header's when the patch carries one.
  const lists = options.baseEntries !== undefined ? [options.baseEntries] : [undefined, ...(header.baseEntries ? [header.baseEntries] : [])];
  let mismatch = new BundleError('PATCH_BASE_MISMATCH', `${options.installDir} holds another version than the one ${options.patchPath} applies to`);
  for (const list of lists) {
    let source: FolderSource | undefined;
    try {
      source = new FolderSource(options.installDir, list ?? (await scanBundle(options.installDir)));
      // A list that makes a tar of another size cannot be the base (an installer's extra file adds at
      // least a header block): known without reading a file.
      if (source.size !== header.base.size) {
        mismatch = new BundleError('PATCH_BASE_MISMATCH', `${options.installDir} ${list === undefined ? 'as scanned' : 'following the entry list'} makes a tar of ${source.size} bytes; ${options.patchPath} applies to one of ${header.base.size}`);
        continue;
      }
      // The whole base is hashed before a byte is written: a patch never runs on a base it was not made for.
      const digest = await source.digest();
      if (sameDigest(digest, header.base)) return await decodeRegions(options, header, payloadOffset, source, digest);
    } catch (cause) {
      // A scan that meets a file no bundle holds (a socket the app made), or a listed file that is gone:
      // the next list may still do.
      const problem = notBase(cause);
      if (problem === undefined) throw cause;
      mismatch = problem;
    } finally {
      await source?.close();
    }
  }
  throw mismatch;
}

/** Frees a buffer's memory now rather than at the next GC; only for a buffer that owns its whole store. */
function release(buffer: Buffer): void {
  const store = buffer.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (buffer.byteOffset === 0 && store.byteLength === buffer.length && typeof store.transfer === 'function') store.transfer(0);
}

function checkDigests(patchPath: string, header: PatchHeader, baseDigest: Digest, expected: Digest): void {
  if (!sameDigest(baseDigest, header.base)) {
    throw new BundleError(
      'PATCH_BASE_MISMATCH',
      `${patchPath} applies to a tar with sha256 ${header.base.sha256}, but the base given has ${baseDigest.sha256}`,
    );
  }
  if (!sameDigest(header.target, expected)) {
    throw new BundleError('HASH_MISMATCH', `${patchPath} produces sha256 ${header.target.sha256}, not the signed ${expected.sha256}`);
  }
}

async function decodeRegions(
  options: Omit<ApplyPatchOptions, 'base' | 'basePath' | 'releaseBase'>,
  header: RegionsPatchHeader,
  payloadOffset: number,
  source: BaseSource,
  baseDigest?: Digest,
): Promise<Digest> {
  // The whole base is hashed before a byte is written: a patch never runs on a base it was not made for.
  checkDigests(options.patchPath, header, baseDigest ?? (await source.digest()), options.expected);
  return writeDecoded(options, Readable.from(applyRegions(header.regions, options.patchPath, payloadOffset, source)));
}

async function decodeZstd(
  options: Omit<ApplyPatchOptions, 'base' | 'basePath' | 'releaseBase'>,
  header: ZstdPatchHeader,
  payloadOffset: number,
  base: Buffer,
  releaseBase: boolean,
): Promise<Digest> {
  checkDigests(options.patchPath, header, digestBuffer(base), options.expected);
  // The decoder copies the dictionary when it is made; from here on the caller's copy is dead weight.
  const decoder = createZstdDecompress({ dictionary: base, params: { [constants.ZSTD_d_windowLogMax]: MAX_WINDOW_LOG } });
  if (releaseBase) release(base);
  return writeDecoded(options, createReadStream(options.patchPath, { start: payloadOffset }), decoder);
}

/**
 * Streams `source` (through `decoder`) through a size limit and sha256 into `<outPath>.partial-*`, renamed to `outPath` only
 * when it matches the signed digest; the signal stops it, and nothing is left behind on any failure.
 */
async function writeDecoded(options: Omit<ApplyPatchOptions, 'base' | 'basePath' | 'releaseBase'>, source: Readable, decoder?: Transform): Promise<Digest> {
  const { patchPath, outPath, expected, signal } = options;
  const digest = new DigestStream((done) => options.onProgress?.(done, expected.size));
  const limit = new SizeLimit(expected.size);
  // pipeline() listens for errors on every stage and destroys them all on the first one, which then
  // reaches the reader below through `digest`; its callback has nothing to add.
  if (decoder === undefined) pipeline(source, limit, digest, () => undefined);
  else pipeline(source, decoder, limit, digest, () => undefined);
  const onAbort = (): void => {
    digest.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await writeFileAtomic(outPath, digest, undefined, () => {
      const actual = digest.digest();
      if (!sameDigest(actual, expected)) {
        throw new BundleError('HASH_MISMATCH', `the patched tar has sha256 ${actual.sha256} (${actual.size} bytes), not the signed ${expected.sha256}`);
      }
    });
  } catch (error) {
    const inner = error instanceof BundleError && error.code === 'IO' ? error.cause : error;
    if (inner instanceof BundleError) throw inner;
    if (signal?.aborted) throw signal.reason;
    const code = errnoOf(inner) ?? '';
    if (code.startsWith('ERR_ZSTD') || code.startsWith('ZSTD_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__ERROR') || code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new BundleError('PATCH_CORRUPT', `${patchPath} could not be applied: ${messageOf(inner)}`, { cause: inner });
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // When the write fails before reading (an output folder that cannot be made), nothing else would end
    // the pipeline: the patch file would stay open and the decoder keep its copy of the base.
    digest.destroy();
    source.destroy();
    decoder?.destroy();
  }
  return expected;
}

/** Fails the stream as soon as more bytes arrive than the signed size allows ("endless data"). */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      done(new BundleError('HASH_MISMATCH', `the patch produced more than the signed ${this.max} bytes`));
      return;
    }
    done(null, chunk);
  }
}
