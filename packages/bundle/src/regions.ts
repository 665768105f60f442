/**
 * The "regions" patch engine: the new tar as a list of regions, each made the cheapest way for what it
 * holds. Unchanged entries are copied from the base by position; changed executables are bsdiffed
 * against the same entry of the old tar; other changes (JavaScript, resources, headers of resized
 * entries) are zstd frames whose dictionary is the matching old entries. Every region reads a bounded
 * part of the base, so applying never needs the old tar whole (see docs/delta.md, "Engine choice").
 */
import { createReadStream } from 'node:fs';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompressSync, constants, createBrotliDecompress, createZstdDecompress, zstdCompress, zstdDecompressSync, type ZstdOptions } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import type { BaseSource } from './base-source.js';
import { bsdiff, bspatch, ChunkReader, plainDifferences, similarity, type DifferenceSource } from './bsdiff.js';
import { DifferenceDecoder, encodeDifference } from './diff-coder.js';
import { BundleError } from './error.js';
import { matchIndex } from './match-index.js';
import { indexTar, type TarSpan } from './tar-index.js';

const zstdCompressAsync = promisify(zstdCompress);
const brotliCompressAsync = promisify(brotliCompress);

/** Name of this engine in a patch header. */
export const REGIONS_ENGINE = 'regions';

/** `[kind, ...]`: one region of the new tar, in order. Offsets and lengths are bytes of the tars. */
export type RegionOp =
  /** Bytes of the base, verbatim. */
  | ['copy', from: number, length: number]
  /**
   * The first `length` bytes of a zstd frame of `payload` bytes, decoded with the listed base ranges
   * (from, length pairs) as its dictionary.
   */
  | ['zstd', length: number, payload: number, ...dictionary: number[]]
  /** The next `length` bytes of the last zstd frame: one frame spans the changed entries between copies. */
  | ['zstd+', length: number]
  /**
   * bsdiff against base bytes [from, from + oldLength): the coded controls, difference bytes and extra
   * bytes, each a coding tag (0 brotli, 1 zstd, 2 the difference model) and the compressed stream.
   */
  | ['bsdiff', length: number, from: number, oldLength: number, control: number, diff: number, extra: number];

/** Bytes of patch payload a region carries. */
export function payloadBytes(op: RegionOp): number {
  if (op[0] === 'copy' || op[0] === 'zstd+') return 0;
  if (op[0] === 'zstd') return op[2];
  return op[4] + op[5] + op[6];
}

/** Bytes of new tar a region makes. */
export function regionLength(op: RegionOp): number {
  return op[0] === 'copy' ? op[2] : op[1];
}

/** `[a, b, c, d]` -> `[[a, b], [c, d]]`: a zstd region's dictionary ranges. */
function pairsOf(flat: readonly number[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] ?? 0, flat[i + 1] ?? 0]);
  return pairs;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Whether `ops` is a list of regions that makes exactly `targetSize` bytes from a base of `baseSize`
 * bytes: every range inside the base, every count a non-negative integer.
 */
export function isRegionList(ops: unknown, baseSize: number, targetSize: number): ops is RegionOp[] {
  if (!Array.isArray(ops)) return false;
  let made = 0;
  let inFrame = false;
  const inBase = (from: unknown, length: unknown): boolean => isCount(from) && isCount(length) && from + length <= baseSize;
  for (const op of ops as unknown[]) {
    if (!Array.isArray(op)) return false;
    const [kind, ...n] = op as unknown[];
    if (!n.every(isCount)) return false;
    const v = n;
    const [first = 0, second = 0, third = 0] = v;
    if (kind === 'copy' && v.length === 2 && inBase(first, second)) made += second;
    else if (kind === 'zstd' && v.length >= 2 && v.length % 2 === 0 && pairsOf(v.slice(2)).every(([from, length]) => inBase(from, length))) {
      made += first;
      inFrame = true;
    } else if (kind === 'zstd+' && v.length === 1 && inFrame) made += first;
    else if (kind === 'bsdiff' && v.length === 6 && inBase(second, third)) made += first;
    else return false;
  }
  return made === targetSize;
}

// --- making a patch ----------------------------------------------------------------------------

/** Tuning of {@link createRegions}. */
export interface RegionOptions {
  /** zstd level of the zstd regions and of bsdiff's difference stream. */
  level: number;
  /** Upper bound of zstd's hash and chain table logs. */
  maxTableLog: number;
  /** `auto`: bsdiff for executables, zstd for the rest; or one engine for every changed entry. */
  engine: 'auto' | 'zstd' | 'bsdiff';
  /** Bytes of the new tar planned so far, and its size: called often during long diffs. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Largest new bytes, and largest dictionary, of one zstd region. The decoder holds both (it copies the
 * dictionary and buffers up to the frame's content size), so they bound the memory of applying.
 */
export const ZSTD_REGION_MAX = 32 * 2 ** 20;
/** Entries smaller than this are never bsdiffed: a zstd frame against the old entry costs less there. */
const BSDIFF_MIN = 64 * 1024;

/** ELF, PE (MZ), Mach-O (either byte order, 32/64, fat), WebAssembly: machine code that bsdiff suits. */
function isExecutable(data: Uint8Array): boolean {
  if (data.length < 4) return false;
  const magic = Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0);
  return (
    magic === 0x7f454c46 ||
    (data[0] === 0x4d && data[1] === 0x5a) ||
    [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0x0061736d].includes(magic)
  );
}

/** Pairs of (new span, old span or undefined): same path first, else the unused old entry of the same file name. */
function pairEntries(oldSpans: TarSpan[], newSpans: TarSpan[]): (TarSpan | undefined)[] {
  const byPath = new Map(oldSpans.map((s) => [s.path, s]));
  const used = new Set<TarSpan>();
  const pairs = newSpans.map((s) => {
    const old = byPath.get(s.path);
    if (old !== undefined) used.add(old);
    return old;
  });
  // Moved or renamed folders (`app-1.2.3/` -> `app-1.2.4/`): match by file name, then the closest size.
  const byName = new Map<string, TarSpan[]>();
  const fileName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  for (const s of oldSpans) if (!used.has(s) && s.size > 0) byName.set(fileName(s.path), [...(byName.get(fileName(s.path)) ?? []), s]);
  return newSpans.map((s, i) => {
    const old = pairs[i];
    if (old !== undefined || s.size === 0) return old;
    const candidates = (byName.get(fileName(s.path)) ?? []).filter((c) => !used.has(c));
    const best = candidates.sort((a, b) => Math.abs(a.size - s.size) - Math.abs(b.size - s.size))[0];
    if (best !== undefined) used.add(best);
    return best;
  });
}

/**
 * zstd's window and match tables for a frame of `length` bytes against a `dictionary`-byte dictionary,
 * shared by both engines: the window covers both, and tables as large as the window (up to
 * `maxTableLog`) find the long matches against the dictionary: on typescript 5.8 -> 5.9 (22 MB tars)
 * 2^26 tables gave 173 KB where zstd's level-19 defaults gave 230 KB (see docs/delta.md).
 */
export function zstdWindowParams(dictionary: number, length: number, level: number, maxTableLog: number): Record<number, number> {
  const windowLog = Math.max(10, Math.ceil(Math.log2(dictionary + length + 1)));
  const tableLog = Math.max(10, Math.min(maxTableLog, windowLog));
  return {
    [constants.ZSTD_c_compressionLevel]: level,
    [constants.ZSTD_c_windowLog]: windowLog,
    [constants.ZSTD_c_hashLog]: tableLog,
    [constants.ZSTD_c_chainLog]: tableLog,
    [constants.ZSTD_c_enableLongDistanceMatching]: 1,
  };
}

function zstdParams(dictionary: number, length: number, level: number, maxTableLog: number): ZstdOptions['params'] {
  return {
    ...zstdWindowParams(dictionary, length, level, maxTableLog),
    [constants.ZSTD_c_contentSizeFlag]: 1,
    ...(level >= BINARY_TREE_LEVEL ? { [constants.ZSTD_c_searchLog]: SEARCH_LOG } : {}),
  };
}

/**
 * From this level zstd searches binary trees, SEARCH_LOG levels deep here instead of level 19's default.
 * On the typescript 5.8 -> 5.9 frame (23 MB against a 22 MB dictionary) that took the diff from 15.6 to
 * 10.3 s of CPU for 3.7% more bytes (174,200 -> 180,589); depth 5 gave 13.1 s / 175,918 B, depth 3
 * 9.6 s / 192,697 B, and level 16 instead 10.9 s / 190,100 B (see docs/bench-delta-results.md).
 */
const BINARY_TREE_LEVEL = 16;
const SEARCH_LOG = 4;

const brotliParams = (size: number): Record<number, number> => ({
  [constants.BROTLI_PARAM_QUALITY]: 11,
  [constants.BROTLI_PARAM_LGWIN]: 24,
  [constants.BROTLI_PARAM_SIZE_HINT]: size,
});

/** A zstd frame being gathered: the changed entries it makes, and the old entries it may copy from. */
interface PlannedFrame {
  /** The frame's first region; its payload length and dictionary are filled in when the frame closes. */
  op: RegionOp & ['zstd', ...number[]];
  parts: [number, number][];
  bytes: number;
  dictionary: [number, number][];
  dictionaryBytes: number;
}

/**
 * Plans and encodes the regions that turn `base` into `target`. Returns them with their payloads, in
 * order. zstd and brotli run in libuv's thread pool while the next bsdiff scans on the main thread.
 */
export async function createRegions(base: Buffer, target: Buffer, options: RegionOptions): Promise<{ ops: RegionOp[]; payloads: Buffer[] }> {
  const oldSpans = indexTar(base) ?? [{ path: '', start: 0, dataStart: 0, size: base.length, end: base.length }];
  const newSpans = indexTar(target) ?? [{ path: '', start: 0, dataStart: 0, size: target.length, end: target.length }];
  const pairs = pairEntries(oldSpans, newSpans);
  const ops: RegionOp[] = [];
  // Payloads in the order of the regions that carry them (a frame's at its first region).
  const payloads: Promise<Buffer>[] = [];
  let frame: PlannedFrame | undefined;
  const progress = (done: number): void => options.onProgress?.(done, target.length);

  const closeFrame = (): void => {
    if (frame === undefined) return;
    const { op, parts, bytes, dictionary, dictionaryBytes } = frame;
    op.push(...dictionary.flat());
    const dict = Buffer.concat(dictionary.map(([from, length]) => base.subarray(from, from + length)));
    const zstdOptions: ZstdOptions = { pledgedSrcSize: bytes, params: zstdParams(dictionaryBytes, bytes, options.level, options.maxTableLog) };
    if (dict.length > 0) zstdOptions.dictionary = dict;
    const content = Buffer.concat(parts.map(([start, end]) => target.subarray(start, end)));
    const index = payloads.findIndex((p) => p === FRAME_SLOT);
    payloads[index] = zstdCompressAsync(content, zstdOptions).then((compressed) => {
      op[2] = compressed.length;
      return compressed;
    });
    frame = undefined;
  };

  const addToFrame = (start: number, end: number, old: TarSpan | undefined): PlannedFrame => {
    const length = end - start;
    const oldLength = old === undefined ? 0 : old.end - old.start;
    if (frame !== undefined && (frame.bytes + length > ZSTD_REGION_MAX || frame.dictionaryBytes + oldLength > ZSTD_REGION_MAX)) closeFrame();
    const last = ops.at(-1);
    let f = frame;
    if (f === undefined) {
      const op: RegionOp & ['zstd', ...number[]] = ['zstd', length, 0];
      f = { op, parts: [], bytes: 0, dictionary: [], dictionaryBytes: 0 };
      ops.push(op);
      payloads.push(FRAME_SLOT);
    } else if (last !== undefined && (last === f.op || last[0] === 'zstd+') && f.parts.at(-1)?.[1] === start) {
      last[1] += length;
    } else {
      ops.push(['zstd+', length]);
    }
    const part = f.parts.at(-1);
    if (part !== undefined && part[1] === start) part[1] = end;
    else f.parts.push([start, end]);
    f.bytes += length;
    if (old !== undefined) {
      const range = f.dictionary.at(-1);
      if (range !== undefined && range[0] + range[1] === old.start) range[1] += oldLength;
      else f.dictionary.push([old.start, oldLength]);
      f.dictionaryBytes += oldLength;
    }
    return f;
  };

  // An entry past a frame's bound (one with no old entry to bsdiff against) is spread over several
  // frames; an old entry past the bound is left out of the dictionary.
  const addSpan = (span: TarSpan, old: TarSpan | undefined): void => {
    const dictionary = old !== undefined && old.end - old.start <= ZSTD_REGION_MAX ? old : undefined;
    for (let at = span.start; at < span.end; at += ZSTD_REGION_MAX) {
      frame = addToFrame(at, Math.min(span.end, at + ZSTD_REGION_MAX), at === span.start ? dictionary : undefined);
    }
  };

  for (const [i, span] of newSpans.entries()) {
    const old = pairs[i];
    const length = span.end - span.start;
    const oldLength = old === undefined ? 0 : old.end - old.start;
    if (old !== undefined && length === oldLength && base.compare(target, span.start, span.end, old.start, old.end) === 0) {
      const last = ops.at(-1);
      if (last?.[0] === 'copy' && last[1] + last[2] === old.start) last[2] += length;
      else ops.push(['copy', old.start, length]);
      progress(span.end);
      continue;
    }
    const wantsBsdiff =
      old !== undefined &&
      options.engine !== 'zstd' &&
      (options.engine === 'bsdiff' || length > ZSTD_REGION_MAX || oldLength > ZSTD_REGION_MAX || (span.size >= BSDIFF_MIN && isExecutable(target.subarray(span.dataStart, span.dataStart + 4))));
    if (!wantsBsdiff) {
      addSpan(span, old);
      progress(span.end);
      continue;
    }
    const oldBytes = base.subarray(old.start, old.end);
    const newBytes = target.subarray(span.start, span.end);
    const index = matchIndex(oldBytes);
    // A different program under the same name (another native module, a rewritten tool): bsdiff would
    // only find chance alignments there, slowly; zstd against the old file does better.
    if (options.engine === 'auto' && length <= ZSTD_REGION_MAX && oldLength <= ZSTD_REGION_MAX && similarity(oldBytes, index, newBytes) < MIN_SIMILARITY) {
      addSpan(span, old);
      progress(span.end);
      continue;
    }
    const streams = bsdiff(oldBytes, newBytes, (scanned) => progress(span.start + scanned), index);
    const op: RegionOp = ['bsdiff', length, old.start, oldLength, 0, 0, 0];
    ops.push(op);
    // zstd and brotli start in the thread pool; the difference coder (JavaScript) runs here meanwhile.
    const packed = Promise.all([packStream(streams.control, options), packStream(streams.extra, options)]);
    const diff = Buffer.concat([Buffer.of(STREAM_DIFFERENCE_MODEL), encodeDifference(streams.diff, streams.under)]);
    release(index.head, index.chain, streams.diff, streams.under);
    payloads.push(
      packed.then(([control, extra]) => {
        op[4] = control.length;
        op[5] = diff.length;
        op[6] = extra.length;
        return Buffer.concat([control, diff, extra]);
      }),
    );
    progress(span.end);
  }
  closeFrame();
  return { ops, payloads: await Promise.all(payloads) };
}

/**
 * Frees the memory of arrays this module made and is done with now, not at the collector's next full
 * pass: a 126 MB executable's index and streams (about 820 MB) were sometimes still held when the zstd
 * frame after them allocated its tables, and the diff's peak went from 1.3 to 1.8 GB. Only arrays of
 * their own (at least 1 MiB, never a slice of Buffer's shared pool) are detached; a runtime without
 * `ArrayBuffer.prototype.transfer` leaves them to the collector.
 */
function release(...arrays: ArrayBufferView[]): void {
  for (const array of arrays) {
    const buffer = array.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
    if (buffer.byteLength >= RELEASE_MIN) buffer.transfer?.(0);
  }
}

const RELEASE_MIN = 2 ** 20;

/** Below this share of old 32-byte samples found in the new file, an executable is not bsdiffed. */
const MIN_SIMILARITY = 0.3;

/**
 * First byte of each coded bsdiff stream: how the rest is compressed. brotli (quality 11) is 5-15% smaller
 * on controls and extra bytes but about 1 MB/s, so streams past {@link BROTLI_MAX} (the difference bytes
 * of a large executable, mostly zeros) use zstd.
 */
const STREAM_BROTLI = 0;
const STREAM_ZSTD = 1;
/** The difference bytes coded by diff-coder.ts, with the old bytes as context (held whole while applying). */
const STREAM_DIFFERENCE_MODEL = 2;
const BROTLI_MAX = 4 * 2 ** 20;

async function packStream(bytes: Buffer, options: Pick<RegionOptions, 'level' | 'maxTableLog'>): Promise<Buffer> {
  if (bytes.length <= BROTLI_MAX) return Buffer.concat([Buffer.of(STREAM_BROTLI), await brotliCompressAsync(bytes, { params: brotliParams(bytes.length) })]);
  const params = zstdParams(0, bytes.length, options.level, options.maxTableLog);
  return Buffer.concat([Buffer.of(STREAM_ZSTD), await zstdCompressAsync(bytes, { pledgedSrcSize: bytes.length, params })]);
}

/** The decoder for a coded stream's tag; PATCH_CORRUPT for a tag this code does not know. */
function streamDecoder(tag: number | undefined, what: string): Transform {
  if (tag === STREAM_BROTLI) return createBrotliDecompress();
  if (tag === STREAM_ZSTD) return createZstdDecompress({ params: { [constants.ZSTD_d_windowLogMax]: 31 } });
  throw corrupt(`${what} stream (unknown coding ${String(tag)})`);
}

/** Stands in the payload list for the frame still being gathered. */
const FRAME_SLOT: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));

// --- applying a patch --------------------------------------------------------------------------

/** Largest slice of the base, or of a zstd frame's output, handed on at once. */
const APPLY_CHUNK = 1 << 20;
/** Size of the pieces the new tar is written in. */
const OUTPUT_CHUNK = 1 << 16;
/** A bsdiff region's controls are decoded whole; a larger claim is a corrupt patch, not an allocation. */
const MAX_CONTROL_BYTES = 256 * 2 ** 20;

/** Runs `source` through `decoder`, yielding its output, and closes both however the consumer stops. */
async function* decoded(source: Readable, decoder: Transform): AsyncGenerator<Buffer> {
  source.on('error', (e) => decoder.destroy(e));
  source.pipe(decoder);
  try {
    for await (const chunk of decoder as AsyncIterable<Buffer>) yield chunk;
  } finally {
    source.destroy();
    decoder.destroy();
  }
}

function corrupt(what: string, cause?: unknown): BundleError {
  return new BundleError('PATCH_CORRUPT', `the patch's ${what} could not be decoded`, cause === undefined ? undefined : { cause });
}

/**
 * Yields the new tar region by region. Reads the patch payload from `payloadOffset` of `patchPath` and the
 * base by position; holds at most one zstd region's dictionary and window (32 MiB each) or a few MiB
 * of a bsdiff region at a time.
 */
export async function* applyRegions(ops: readonly RegionOp[], patchPath: string, payloadOffset: number, base: BaseSource): AsyncGenerator<Buffer> {
  // bsdiff regions yield a piece per control, often a few bytes: gather them into 64 KiB chunks, so the
  // writer makes a write per 64 KiB rather than tens of thousands of tiny ones (and progress still moves
  // through a small update).
  let pending = Buffer.allocUnsafe(OUTPUT_CHUNK);
  let filled = 0;
  for await (const piece of regionPieces(ops, patchPath, payloadOffset, base)) {
    if (piece.length >= OUTPUT_CHUNK && filled === 0) {
      yield piece;
      continue;
    }
    for (let at = 0; at < piece.length; ) {
      const n = piece.copy(pending, filled, at);
      filled += n;
      at += n;
      if (filled === OUTPUT_CHUNK) {
        yield pending;
        pending = Buffer.allocUnsafe(OUTPUT_CHUNK);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield pending.subarray(0, filled);
}

async function* regionPieces(ops: readonly RegionOp[], patchPath: string, payloadOffset: number, base: BaseSource): AsyncGenerator<Buffer> {
  let at = payloadOffset;
  let frame: Frame | undefined;
  try {
  for (const op of ops) {
    if (op[0] === 'copy') {
      const [, from, length] = op;
      for (let done = 0; done < length; ) {
        const chunk = Buffer.allocUnsafe(Math.min(APPLY_CHUNK, length - done));
        await base.read(chunk, from + done);
        done += chunk.length;
        yield chunk;
      }
    } else if (op[0] === 'zstd') {
      const [, length, payload, ...ranges] = op;
      await frame?.close();
      frame = await openFrame(patchPath, at, payload, ranges, base);
      at += payload;
      yield* frame.take(length);
    } else if (op[0] === 'zstd+') {
      if (frame === undefined) throw corrupt('regions (a zstd continuation without a frame)');
      yield* frame.take(op[1]);
    } else {
      const [, length, from, oldLength, controlBytes, diffBytes, extraBytes] = op;
      if (controlBytes < 2 || diffBytes < 2 || extraBytes < 2) throw corrupt('bsdiff region (an empty stream)');
      let control: Buffer;
      try {
        const packed = await readSlice(patchPath, at, controlBytes);
        control = packed[0] === STREAM_BROTLI
          ? brotliDecompressSync(packed.subarray(1), { maxOutputLength: MAX_CONTROL_BYTES })
          : zstdDecompressSync(packed.subarray(1), { maxOutputLength: MAX_CONTROL_BYTES });
      } catch (cause) {
        throw corrupt('bsdiff controls', cause);
      }
      at += controlBytes;
      const stream = async (length: number, what: string): Promise<AsyncGenerator<Buffer>> => {
        const tag = (await readSlice(patchPath, at, 1))[0];
        const out = decoded(createReadStream(patchPath, { start: at + 1, end: at + length - 1 }), streamDecoder(tag, what));
        at += length;
        return out;
      };
      let diff: DifferenceSource;
      let diffStream: AsyncGenerator<Buffer> | undefined;
      if ((await readSlice(patchPath, at, 1))[0] === STREAM_DIFFERENCE_MODEL) {
        const decoder = new DifferenceDecoder((await readSlice(patchPath, at, diffBytes)).subarray(1));
        diff = { read: (old) => Promise.resolve(decoder.decode(old)), end: () => Promise.resolve() };
        at += diffBytes;
      } else {
        diffStream = await stream(diffBytes, 'difference');
        diff = plainDifferences(new ChunkReader(diffStream, 'difference'));
      }
      const extra = await stream(extraBytes, 'extra');
      try {
        yield* bspatch(control, diff, new ChunkReader(extra, 'extra'), base, from, oldLength, length);
      } finally {
        await diffStream?.return(undefined);
        await extra.return(undefined);
      }
    }
  }
  await frame?.close();
  } finally {
    await frame?.abandon();
  }
}

/** An open zstd frame whose output several regions take in turn. */
interface Frame {
  take(length: number): AsyncGenerator<Buffer>;
  /** PATCH_CORRUPT unless every byte of the frame was taken. */
  close(): Promise<void>;
  abandon(): Promise<void>;
}

async function openFrame(patchPath: string, at: number, payload: number, ranges: number[], base: BaseSource): Promise<Frame> {
  if (payload === 0) throw corrupt('zstd region');
  let dictionary: Buffer | undefined;
  const pairs = pairsOf(ranges);
  if (pairs.length > 0) {
    dictionary = Buffer.allocUnsafe(pairs.reduce((sum, [, length]) => sum + length, 0));
    let offset = 0;
    for (const [from, length] of pairs) {
      await base.read(dictionary.subarray(offset, offset + length), from);
      offset += length;
    }
  }
  // The decoder copies the dictionary; ours is garbage once it is made.
  const decoder = createZstdDecompress({ ...(dictionary ? { dictionary } : {}), params: { [constants.ZSTD_d_windowLogMax]: 31 } });
  const output = decoded(createReadStream(patchPath, { start: at, end: at + payload - 1 }), decoder);
  const reader = new ChunkReader(output, 'zstd');
  return {
    async *take(length: number): AsyncGenerator<Buffer> {
      for (let done = 0; done < length; ) {
        const chunk = await reader.read(Math.min(APPLY_CHUNK, length - done));
        done += chunk.length;
        yield chunk;
      }
    },
    async close(): Promise<void> {
      await reader.end();
    },
    async abandon(): Promise<void> {
      await output.return(undefined);
    },
  };
}

async function readSlice(path: string, start: number, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of createReadStream(path, { start, end: start + length - 1 }) as AsyncIterable<Buffer>) parts.push(chunk);
  const out = Buffer.concat(parts);
  if (out.length !== length) throw corrupt('payload (the file ends early)');
  return out;
}
