/**
 * bsdiff's approximate matching (Colin Percival, "Naive differences of executable code", 2003), as the
 * patch engine for executables.
 *
 * A rebuilt executable differs from the previous build in thousands of small places (addresses and
 * offsets shifted by the code that moved), so exact-match engines (zstd, xdelta3) see short matches cut
 * by every changed pointer. bsdiff instead aligns regions that are *mostly* equal and stores their
 * byte-wise difference, which is mostly zeros and a few repeated deltas: it compresses far better.
 *
 * The output is three streams, as in bsdiff 4: controls (add x bytes of old + diff, copy y new bytes,
 * seek z in old), the difference bytes and the extra (new) bytes. Unlike bsdiff 4 they are kept apart
 * as raw bytes here; the caller codes each with a general-purpose compressor.
 */
// Indexes into typed arrays in the hot loops below are in range by construction; `?? 0` on each would
// cost time on every byte of a 100 MB executable, so this file asserts them instead.
/* eslint-disable @typescript-eslint/no-non-null-assertion */
import { BundleError } from './error.js';
import { findMatch, matchIndex, SCAN_CANDIDATES, type MatchIndex } from './match-index.js';

/** The three streams of a bsdiff between two buffers. */
export interface BsdiffStreams {
  /** Triples (add, copy, seek) as varints: add and copy unsigned, seek zigzag-signed. */
  control: Buffer;
  /** new - old, byte-wise, over every "add" stretch. */
  diff: Buffer;
  /** The bytes of every "copy" stretch, verbatim. */
  extra: Buffer;
  /** The old bytes each difference byte is added to (the context of the difference coder). */
  under: Buffer;
}

/** A match longer than this is not compared further: long runs (zero padding) would make search quadratic. */
const MAX_MATCH = 1 << 16;
/** A search result shorter than this is a miss: no alignment worth taking starts here. */
const SHORT_MATCH = 8;
/** Largest step over consecutive misses. */
const MAX_STEP = 8;
/** A run of agreeing bytes this long at the current alignment counts as the alignment resuming... */
const RESUME_MIN = 12;
/** ...when it starts at most this many bytes on (an address or offset is 8 bytes at most). */
const RESUME_WITHIN = 8;
/** Bytes scanned between two progress reports. */
const PROGRESS_STEP = 1 << 22;

/**
 * Where, in the next {@link RESUME_WITHIN} bytes from `scan`, `neu` agrees with `old` at `offset` for at
 * least {@link RESUME_MIN} bytes: writes that position into `out[0]` and returns the run's length (at
 * most MAX_MATCH), or 0 when there is none.
 */
function resumedRun(old: Uint8Array, neu: Uint8Array, scan: number, offset: number, out: Int32Array): number {
  for (let at = Math.max(scan, -offset), end = Math.min(scan + RESUME_WITHIN, neu.length - 1, old.length - 1 - offset); at <= end; at++) {
    const max = Math.min(MAX_MATCH, neu.length - at, old.length - at - offset);
    let k = 0;
    while (k < max && old[at + offset + k] === neu[at + k]) k++;
    if (k >= RESUME_MIN) {
      out[0] = at;
      return k;
    }
  }
  return 0;
}

/**
 * The share of 32-byte samples of `neu` that occur verbatim somewhere in `old` (1024 samples, spread
 * evenly): near 1 for a rebuild of the same program, low for a different program, where bsdiff finds
 * only chance alignments and a general compressor does better.
 */
export function similarity(old: Uint8Array, index: MatchIndex, neu: Uint8Array, samples = 1024): number {
  if (neu.length < 2 * SAMPLE || old.length < SAMPLE) return 0;
  const found = new Int32Array(1);
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    const at = Math.floor(((i + 0.5) * (neu.length - SAMPLE)) / samples);
    // The same offset first (an unmoved stretch), then a long stretch of the chain: 1,024 searches are
    // cheap, and a common 8-byte start (padding, a frequent instruction) must not hide the sample.
    if (findMatch(index, old, neu, at, SAMPLE, at, SIMILARITY_CANDIDATES, found) >= SAMPLE) hits++;
  }
  return hits / samples;
}

const SIMILARITY_CANDIDATES = 4096;
const SAMPLE = 32;

/** Appends varints to a growing byte list. */
class VarintWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private length = 0;

  unsigned(value: number): void {
    if (this.length + 10 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    let v = value;
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  signed(value: number): void {
    this.unsigned(value < 0 ? -2 * value - 1 : 2 * value);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * The bsdiff of `old` -> `neu`: bsdiff 4.3's scan and scoring (a new exact match is taken only when it
 * beats continuing the current alignment by more than 8 bytes; each match is then extended forwards and
 * backwards while at least half the bytes agree). `onProgress` gets the bytes of `neu` scanned so far.
 */
export function bsdiff(old: Uint8Array, neu: Uint8Array, onProgress?: (scanned: number) => void, index: MatchIndex = matchIndex(old)): BsdiffStreams {
  let reported = 0;
  const oldSize = old.length;
  const newSize = neu.length;
  const control = new VarintWriter();
  const diff = Buffer.allocUnsafe(newSize);
  const extra = Buffer.allocUnsafe(newSize);
  const under = Buffer.allocUnsafe(newSize);
  let diffLength = 0;
  let extraLength = 0;
  const found = new Int32Array(1);

  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  while (scan < newSize) {
    if (onProgress !== undefined && scan - reported >= PROGRESS_STEP) {
      reported = scan;
      onProgress(scan);
    }
    let oldScore = 0;
    scan += len;
    let misses = 0;
    for (let scsc = scan; scan < newSize; ) {
      // The current alignment picks up again within a few bytes (past a changed address or offset, the
      // commonest difference in a rebuilt program): carry on with it, as bsdiff would after searching at
      // each of those bytes (unless another alignment matched much longer there, which the search at
      // the next mismatch still finds, and the backward extension takes back to its start).
      const run = resumedRun(old, neu, scan, lastOffset, found);
      if (run > 0) {
        scan = found[0]!;
        len = run;
        pos = scan + lastOffset;
        // Every byte of [scan, scan + len) agrees with the alignment, so its score is its length: below,
        // that continues the alignment past them.
        oldScore = len;
        break;
      }
      len = findMatch(index, old, neu, scan, Math.min(MAX_MATCH, newSize - scan), scan + lastOffset, SCAN_CANDIDATES, found);
      pos = found[0]!;
      for (; scsc < scan + len; scsc++) if (scsc + lastOffset < oldSize && old[scsc + lastOffset] === neu[scsc]) oldScore++;
      if ((len === oldScore && len !== 0) || len > oldScore + 8) break;
      // bsdiff searches again one byte on. Where nothing matches (new code, unrelated data) searching
      // every byte costs most of the time and finds nothing: step further the longer the drought lasts.
      // A match that starts in a skipped byte is still found a few bytes in, and the backward extension
      // below gives it its first bytes back.
      misses = len < SHORT_MATCH ? misses + 1 : 0;
      const step = Math.min(MAX_STEP, 1 + (misses >> 4));
      for (const end = Math.min(newSize, scan + step); scan < end; scan++) {
        if (scan + lastOffset < oldSize && old[scan + lastOffset] === neu[scan]) oldScore--;
      }
    }
    if (len === oldScore && scan !== newSize) continue;

    // Extend the previous match forwards while more than half its bytes agree.
    let s = 0;
    let best = 0;
    let lenF = 0;
    for (let i = 0; lastScan + i < scan && lastPos + i < oldSize; ) {
      if (old[lastPos + i] === neu[lastScan + i]) s++;
      i++;
      if (s * 2 - i > best * 2 - lenF) {
        best = s;
        lenF = i;
      }
    }
    // And the new one backwards.
    let lenB = 0;
    if (scan < newSize) {
      s = 0;
      best = 0;
      for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
        if (old[pos - i] === neu[scan - i]) s++;
        if (s * 2 - i > best * 2 - lenB) {
          best = s;
          lenB = i;
        }
      }
    }
    // Where the two extensions overlap, split them where the agreement changes hands.
    if (lastScan + lenF > scan - lenB) {
      const overlap = lastScan + lenF - (scan - lenB);
      s = 0;
      best = 0;
      let lenS = 0;
      for (let i = 0; i < overlap; i++) {
        if (neu[lastScan + lenF - overlap + i] === old[lastPos + lenF - overlap + i]) s++;
        if (neu[scan - lenB + i] === old[pos - lenB + i]) s--;
        if (s > best) {
          best = s;
          lenS = i + 1;
        }
      }
      lenF += lenS - overlap;
      lenB -= lenS;
    }

    for (let i = 0; i < lenF; i++) diff[diffLength + i] = neu[lastScan + i]! - old[lastPos + i]!;
    under.set(old.subarray(lastPos, lastPos + lenF), diffLength);
    diffLength += lenF;
    const copy = scan - lenB - (lastScan + lenF);
    extra.set(neu.subarray(lastScan + lenF, lastScan + lenF + copy), extraLength);
    extraLength += copy;
    control.unsigned(lenF);
    control.unsigned(copy);
    control.signed(pos - lenB - (lastPos + lenF));

    lastScan = scan - lenB;
    lastPos = pos - lenB;
    lastOffset = pos - scan;
  }
  return { control: control.bytes(), diff: diff.subarray(0, diffLength), extra: extra.subarray(0, extraLength), under: under.subarray(0, diffLength) };
}

/** Positional reads of the old bytes a bsdiff applies to. */
export interface OldReader {
  read(out: Buffer, position: number): Promise<void>;
}

/** Exactly-n-bytes reads from a stream of chunks (a decompressor's output). */
export class ChunkReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly what: string,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** The next `n` bytes; PATCH_CORRUPT if the stream ends first. */
  async read(n: number): Promise<Buffer> {
    if (this.pending.length >= n) {
      const out = this.pending.subarray(0, n);
      this.pending = this.pending.subarray(n);
      return out;
    }
    const parts = [this.pending];
    let have = this.pending.length;
    while (have < n) {
      const next = await this.iterator.next();
      if (next.done === true) throw new BundleError('PATCH_CORRUPT', `the ${this.what} stream of a bsdiff region ends early`);
      parts.push(next.value);
      have += next.value.length;
    }
    const all = Buffer.concat(parts, have);
    this.pending = all.subarray(n);
    return all.subarray(0, n);
  }

  /** PATCH_CORRUPT unless the stream has nothing left. */
  async end(): Promise<void> {
    if (this.pending.length > 0 || (await this.iterator.next()).done !== true) {
      throw new BundleError('PATCH_CORRUPT', `the ${this.what} stream of a bsdiff region is longer than its controls`);
    }
  }
}

/** Reads the control varints back. */
class VarintReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  unsigned(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.buf.length || scale > 2 ** 49) throw new BundleError('PATCH_CORRUPT', 'a bsdiff control is cut or too large');
      const byte = this.buf[this.at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  signed(): number {
    const v = this.unsigned();
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  }
}

/** The difference bytes while applying: given the old bytes they are added to, the next as many. */
export interface DifferenceSource {
  read(old: Buffer): Promise<Buffer>;
  /** PATCH_CORRUPT if the stream holds more than the controls used (when the coding can tell). */
  end(): Promise<void>;
}

/** A difference stream a general-purpose decoder yields, which does not need the old bytes. */
export function plainDifferences(reader: ChunkReader): DifferenceSource {
  return { read: (old) => reader.read(old.length), end: () => reader.end() };
}

/**
 * Reads old bytes through a 1 MiB window: bsdiff's controls move mostly forwards in small steps, and a
 * read per control (tens of thousands in an executable) would each cost a file read.
 */
class ReadAhead {
  /** One buffer, refilled in place: a new one per refill would leave the collector gigabytes to free. */
  private readonly buffer = Buffer.allocUnsafe(APPLY_CHUNK);
  private window = Buffer.alloc(0);
  private windowStart = 0;
  constructor(
    private readonly old: OldReader,
    private readonly start: number,
    private readonly length: number,
  ) {}

  /** Fills `out` from old offset `position` (relative to the region's start). */
  async read(out: Buffer, position: number): Promise<void> {
    if (position < this.windowStart || position + out.length > this.windowStart + this.window.length) {
      if (out.length >= APPLY_CHUNK) {
        await this.old.read(out, this.start + position);
        return;
      }
      this.windowStart = position;
      this.window = this.buffer.subarray(0, Math.min(APPLY_CHUNK, this.length - position));
      await this.old.read(this.window, this.start + position);
    }
    this.window.copy(out, 0, position - this.windowStart, position - this.windowStart + out.length);
  }
}

/** Largest slice of old, diff or extra bytes held at once while applying. */
const APPLY_CHUNK = 1 << 20;

/**
 * Applies bsdiff streams: yields the `newLength` new bytes in chunks of at most 1 MiB, reading old bytes
 * by position from `old` (offsets relative to `oldStart`, never past `oldLength`) and the diff and extra
 * bytes as they decompress. Memory stays a few MiB whatever the sizes.
 */
export async function* bspatch(
  control: Buffer,
  diff: DifferenceSource,
  extra: ChunkReader,
  old: OldReader,
  oldStart: number,
  oldLength: number,
  newLength: number,
): AsyncGenerator<Buffer> {
  const controls = new VarintReader(control);
  const cached = new ReadAhead(old, oldStart, oldLength);
  let written = 0;
  let oldPos = 0;
  while (!controls.done) {
    const add = controls.unsigned();
    const copy = controls.unsigned();
    const seek = controls.signed();
    if (written + add + copy > newLength || oldPos < 0 || oldPos + add > oldLength) {
      throw new BundleError('PATCH_CORRUPT', 'a bsdiff control reaches outside the old or new bytes');
    }
    for (let done = 0; done < add; ) {
      const n = Math.min(APPLY_CHUNK, add - done);
      const out = Buffer.allocUnsafe(n);
      await cached.read(out, oldPos + done);
      const delta = await diff.read(out);
      for (let i = 0; i < n; i++) out[i] = out[i]! + delta[i]!;
      done += n;
      yield out;
    }
    for (let done = 0; done < copy; ) {
      const n = Math.min(APPLY_CHUNK, copy - done);
      yield await extra.read(n);
      done += n;
    }
    written += add + copy;
    oldPos += add + seek;
  }
  if (written !== newLength) throw new BundleError('PATCH_CORRUPT', `a bsdiff region made ${written} bytes, not ${newLength}`);
  await diff.end();
  await extra.end();
}
