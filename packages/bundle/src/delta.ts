import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { constants, createZstdDecompress, gunzipSync, gzipSync, zstdCompress } from 'node:zlib';
import { BundleError, errnoOf, ioError, messageOf } from './error.js';
import { digestBuffer, DigestStream, sameDigest, type Digest } from './hash.js';
import { listTar } from './list.js';
import { tarToBuffer, writeFileAtomic, type TarEntry } from './tar.js';

const zstdCompressAsync = promisify(zstdCompress);

/** First bytes of every tufup patch file. */
export const PATCH_MAGIC = Buffer.from('TUFUPDLT', 'ascii');
/** Version of the container format (magic, header); engines are versioned by name inside it. */
export const PATCH_FORMAT_VERSION = 1;
/** The one engine so far: zstd with the old tar as a raw-content dictionary ("patch-from"). */
export const ZSTD_ENGINE = 'zstd-patch-from';
const FIXED_HEADER = 16;
/** Flag bit (u16 at offset 10): the JSON header is gzip-compressed. A base tar's entry list is most of
 * the header, and it compresses about tenfold (394 KB of a 5.2 MB patch for a 3,000-entry bundle). */
const FLAG_GZIP_HEADER = 1;
/** A header that inflates past this is refused rather than allowed to exhaust memory. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** zstd's largest window (64-bit builds): old + new tar must fit in 2 GiB. */
const MAX_WINDOW_LOG = 31;

/** The JSON header of a patch file, after the fixed 16 bytes. */
export interface PatchHeader {
  engine: string;
  /** The tar this patch applies to. */
  base: Digest;
  /** The tar this patch produces. */
  target: Digest;
  /** The base tar's entries, so a client can rebuild the base from an install folder. */
  baseEntries: TarEntry[];
}

/** Tuning of {@link createPatch}. */
export interface PatchOptions {
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
  const windowLog = Math.max(10, Math.ceil(Math.log2(baseSize + targetSize + 1)));
  if (windowLog > MAX_WINDOW_LOG) {
    throw new BundleError('TOO_LARGE', `a patch needs old + new tar under 2 GiB; these are ${baseSize + targetSize} bytes`);
  }
  // Tables as large as the window find the long matches against the dictionary: on typescript 5.8 -> 5.9
  // (22 MB tars) 2^26 tables gave 173 KB where zstd's level-19 defaults gave 230 KB (see docs/delta.md).
  const tableLog = Math.max(10, Math.min(maxTableLog, windowLog));
  return {
    [constants.ZSTD_c_compressionLevel]: level,
    [constants.ZSTD_c_windowLog]: windowLog,
    [constants.ZSTD_c_hashLog]: tableLog,
    [constants.ZSTD_c_chainLog]: tableLog,
    [constants.ZSTD_c_enableLongDistanceMatching]: 1,
    [constants.ZSTD_c_checksumFlag]: 1,
  };
}

/** Makes the bytes of a patch from tar `base` to tar `target`. Both tars are held in memory. */
export async function createPatch(base: Buffer, target: Buffer, options: PatchOptions = {}): Promise<Buffer> {
  const header: PatchHeader = {
    engine: ZSTD_ENGINE,
    base: digestBuffer(base),
    target: digestBuffer(target),
    baseEntries: await listTar(base),
  };
  const payload = await zstdCompressAsync(target, {
    dictionary: base,
    pledgedSrcSize: target.length,
    params: zstdPatchParams(base.length, target.length, options.level ?? 19, options.maxTableLog),
  });
  const json = gzipSync(JSON.stringify(header), { level: 9 });
  const fixed = Buffer.alloc(FIXED_HEADER);
  PATCH_MAGIC.copy(fixed, 0);
  fixed.writeUInt16LE(PATCH_FORMAT_VERSION, 8);
  fixed.writeUInt16LE(FLAG_GZIP_HEADER, 10);
  fixed.writeUInt32LE(json.length, 12);
  return Buffer.concat([fixed, json, payload]);
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
    if (!isPatchHeader(parsed)) throw new BundleError('PATCH_FORMAT', `${patchPath} has a header without engine, base, target or base entries`);
    const header = parsed;
    if (header.engine !== ZSTD_ENGINE) {
      throw new BundleError('PATCH_FORMAT', `${patchPath} needs the patch engine "${header.engine}", which this client does not have`);
    }
    return { header, payloadOffset: FIXED_HEADER + length };
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

function isTarEntry(v: unknown): v is TarEntry {
  if (!isRecord(v) || !isEntryPath(v.path) || !Number.isSafeInteger(v.mode) || !Number.isSafeInteger(v.size)) return false;
  if (v.type === 'symlink') return typeof v.linkname === 'string';
  return v.type === 'file' || v.type === 'directory';
}

/**
 * Whether `v` is a path as scanBundle writes it: applyPatchFromFolder joins it onto the install
 * folder, so a forged header must not name anything outside it (no `..`, absolute or drive paths,
 * backslashes, NUL, empty or `.` segments).
 */
function isEntryPath(v: unknown): v is string {
  if (typeof v !== 'string' || /^[A-Za-z]:/.test(v) || v.includes('\\') || v.includes('\0')) return false;
  return v.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function isPatchHeader(v: unknown): v is PatchHeader {
  return (
    isRecord(v) &&
    typeof v.engine === 'string' &&
    isDigest(v.base) &&
    isDigest(v.target) &&
    Array.isArray(v.baseEntries) &&
    v.baseEntries.every(isTarEntry)
  );
}

/** Inputs of {@link applyPatch}. */
export interface ApplyPatchOptions {
  patchPath: string;
  /** The base tar, in memory (zstd needs the whole dictionary). */
  base: Buffer;
  /**
   * Hands the base over: it is emptied (its memory freed) as soon as the decoder holds its own copy, so
   * the old tar is not in memory twice while the new one is decoded. Leave it off if you use `base` after.
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
export interface ApplyPatchFromFolderOptions extends Omit<ApplyPatchOptions, 'base' | 'releaseBase'> {
  /** The installed app the patch applies to; files the archive never had are ignored. */
  installDir: string;
}

/**
 * Applies a patch, streaming the new tar to disk and hashing it on the way. A wrong base is refused
 * before any work (PATCH_BASE_MISMATCH); output that grows past, or ends short of, the signed size or
 * hash is deleted (HASH_MISMATCH); an undecodable payload is PATCH_CORRUPT.
 */
export async function applyPatch(options: ApplyPatchOptions): Promise<Digest> {
  const { header, payloadOffset } = await readPatchHeader(options.patchPath);
  return decode(options, header, payloadOffset, options.base, options.releaseBase === true);
}

/**
 * Applies a patch to an installed app: rebuilds the base tar from `installDir` following the patch's
 * list of base entries (not the folder listing, so files an installer added do not matter), then applies
 * as {@link applyPatch} does, holding the old tar in memory only once. A folder that no longer matches
 * the base is PATCH_BASE_MISMATCH: the caller should fall back to the full archive.
 */
export async function applyPatchFromFolder(options: ApplyPatchFromFolderOptions): Promise<Digest> {
  const { header, payloadOffset } = await readPatchHeader(options.patchPath);
  let base: Buffer;
  try {
    base = await tarToBuffer(options.installDir, header.baseEntries);
  } catch (cause) {
    if (cause instanceof BundleError && cause.code === 'CONTENT_MISMATCH') {
      throw new BundleError('PATCH_BASE_MISMATCH', `${options.installDir} is not the version ${options.patchPath} applies to: ${cause.message}`, { cause });
    }
    throw cause;
  }
  return decode(options, header, payloadOffset, base, true);
}

/** Frees a buffer's memory now rather than at the next GC; only for a buffer that owns its whole store. */
function release(buffer: Buffer): void {
  const store = buffer.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (buffer.byteOffset === 0 && store.byteLength === buffer.length && typeof store.transfer === 'function') store.transfer(0);
}

async function decode(
  options: Omit<ApplyPatchOptions, 'base' | 'releaseBase'>,
  header: PatchHeader,
  payloadOffset: number,
  base: Buffer,
  releaseBase: boolean,
): Promise<Digest> {
  const { patchPath, outPath, expected, signal } = options;
  const baseDigest = digestBuffer(base);
  if (!sameDigest(baseDigest, header.base)) {
    throw new BundleError(
      'PATCH_BASE_MISMATCH',
      `${patchPath} applies to a tar with sha256 ${header.base.sha256}, but the base given has ${baseDigest.sha256}`,
    );
  }
  if (!sameDigest(header.target, expected)) {
    throw new BundleError('HASH_MISMATCH', `${patchPath} produces sha256 ${header.target.sha256}, not the signed ${expected.sha256}`);
  }
  const digest = new DigestStream((done) => options.onProgress?.(done, expected.size));
  // The decoder copies the dictionary when it is made; from here on the caller's copy is dead weight.
  const decoder = createZstdDecompress({ dictionary: base, params: { [constants.ZSTD_d_windowLogMax]: MAX_WINDOW_LOG } });
  if (releaseBase) release(base);
  const limit = new SizeLimit(expected.size);
  const input = createReadStream(patchPath, { start: payloadOffset });
  // pipeline() listens for errors on every stage and destroys them all on the first one, which then
  // reaches the reader below through `digest`; its callback has nothing to add.
  pipeline(input, decoder, limit, digest, () => undefined);
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
    if (code.startsWith('ERR_ZSTD') || code.startsWith('ZSTD_') || code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new BundleError('PATCH_CORRUPT', `${patchPath} could not be applied: ${messageOf(inner)}`, { cause: inner });
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // When the write fails before reading (an output folder that cannot be made), nothing else would end
    // the pipeline: the patch file would stay open and the decoder keep its copy of the base.
    digest.destroy();
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
