import { randomBytes } from 'node:crypto';
import { constants, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bsdiff, bspatch, ChunkReader, plainDifferences, type BsdiffStreams } from '../src/bsdiff.js';
import { BufferSource } from '../src/base-source.js';
import { DifferenceDecoder, encodeDifference } from '../src/diff-coder.js';
import { findMatch, matchIndex } from '../src/match-index.js';
import { chunksOf, expectCode } from './helpers.js';
import { editBinary, realFile, slice } from './patch-fixture.js';

/** The longest match of `neu[scan..]` (at most `limit` bytes) anywhere in `old`, by trying every offset. */
function naiveLongestMatch(old: Uint8Array, neu: Uint8Array, scan: number, limit: number): number {
  let best = 0;
  for (let p = 0; p < old.length; p++) {
    let k = 0;
    while (k < limit && p + k < old.length && old[p + k] === neu[scan + k]) k++;
    best = Math.max(best, k);
  }
  return best;
}

/** The Fibonacci word over {a, b}: repetitive at every scale, so its 8-byte strings have long hash chains. */
function fibonacciWord(length: number): Buffer {
  let [a, b] = ['a', 'ab'];
  while (b.length < length) [a, b] = [b, b + a];
  return Buffer.from(b.slice(0, length));
}

async function patched(old: Buffer, streams: BsdiffStreams, newLength: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const source = new BufferSource(old);
  const reader = (bytes: Buffer, what: string): ChunkReader => new ChunkReader(chunksOf(bytes, 1_000), what);
  for await (const chunk of bspatch(streams.control, plainDifferences(reader(streams.diff, 'difference')), reader(streams.extra, 'extra'), source, 0, old.length, newLength)) out.push(chunk);
  return Buffer.concat(out);
}

async function roundTrip(old: Buffer, neu: Buffer): Promise<BsdiffStreams> {
  const streams = bsdiff(old, neu);
  expect((await patched(old, streams, neu.length)).equals(neu)).toBe(true);
  return streams;
}

describe('match index (hash chains of 8-byte strings)', () => {
  it('finds the longest match of 8 bytes or more wherever it is, given every candidate', () => {
    const texts = [
      Buffer.from('banana bandana banana split'),
      Buffer.from('abababababababababababababab'),
      randomBytes(2_000),
      fibonacciWord(3_000),
    ];
    const found = new Int32Array(1);
    for (const old of texts) {
      const index = matchIndex(old);
      // New text: pieces of the old one, reordered and with a few bytes changed, and some noise.
      const neu = Buffer.concat([old.subarray(old.length >> 1), randomBytes(20), old.subarray(0, old.length >> 1)]);
      for (let i = 0; i < neu.length; i += 40) neu[(i * 7) % neu.length] = 0;
      for (let scan = 0; scan < neu.length; scan += 5) {
        const limit = Math.min(64, neu.length - scan);
        const length = findMatch(index, old, neu, scan, limit, -1, Infinity, found);
        const expected = naiveLongestMatch(old, neu, scan, limit);
        if (expected >= 8) expect(length).toBe(expected);
        if (length > 0) expect(old.subarray(found[0], (found[0] ?? 0) + length).equals(neu.subarray(scan, scan + length))).toBe(true);
      }
    }
  });

  it('finds a run of one byte from the start of the old run, however long the old and new runs are', () => {
    const old = Buffer.concat([randomBytes(500), Buffer.alloc(200_000, 0x90), randomBytes(500)]);
    const index = matchIndex(old);
    const found = new Int32Array(1);
    for (const run of [8, 100, 5_000, 150_000]) {
      const neu = Buffer.concat([Buffer.alloc(run, 0x90), randomBytes(50)]);
      expect(findMatch(index, old, neu, 0, neu.length, -1, 64, found)).toBeGreaterThanOrEqual(run);
    }
  });

  it('prefers the position it is given when it matches as long as any other, and indexes nothing in texts under 8 bytes', () => {
    const old = Buffer.from('0123456789abcdef'.repeat(8));
    const neu = Buffer.from('0123456789abcdef'.repeat(2));
    const found = new Int32Array(1);
    expect(findMatch(matchIndex(old), old, neu, 0, 32, 48, Infinity, found)).toBe(32);
    expect(found[0]).toBe(48);
    const tiny = Buffer.from('abcdefg');
    expect(findMatch(matchIndex(tiny), tiny, tiny, 0, 7, -1, Infinity, found)).toBe(0);
  });
});

describe('bsdiff and bspatch', () => {
  it('round-trip an empty old, an empty new, and both empty', async () => {
    await roundTrip(Buffer.alloc(0), randomBytes(5_000));
    await roundTrip(randomBytes(5_000), Buffer.alloc(0));
    await roundTrip(Buffer.alloc(0), Buffer.alloc(0));
  });

  it('make identical inputs one aligned stretch: no extra bytes, difference all zeros', async () => {
    const data = await slice(realFile('elf'), 0, 200_000);
    const { diff, extra } = await roundTrip(data, Buffer.from(data));
    expect(extra.length).toBe(0);
    expect(diff.every((b) => b === 0)).toBe(true);
  });

  it('store unrelated new bytes as extra bytes', async () => {
    const { extra } = await roundTrip(randomBytes(50_000), randomBytes(60_000));
    expect(extra.length).toBeGreaterThan(55_000);
  });

  it('align shifted, lightly edited machine code: the difference is mostly zeros and the extra bytes few', async () => {
    const old = await slice(realFile('elf'), 0, 600_000);
    const neu = editBinary(old);
    const { diff, extra } = await roundTrip(old, neu);
    expect(extra.length).toBeLessThan(neu.length / 50);
    expect(diff.filter((b) => b !== 0).length).toBeLessThan(diff.length / 100);
  });

  it('survive long runs of one byte (zero padding) in both inputs', async () => {
    const old = Buffer.concat([Buffer.alloc(300_000), randomBytes(1_000), Buffer.alloc(200_000, 0x90)]);
    const neu = Buffer.concat([Buffer.alloc(250_000), randomBytes(500), old.subarray(300_000, 301_000), Buffer.alloc(260_000, 0x90)]);
    await roundTrip(old, neu);
  });

  it('refuse streams cut short, or controls that reach outside the old bytes, with PATCH_CORRUPT', async () => {
    const old = await slice(realFile('elf'), 0, 100_000);
    const neu = editBinary(old);
    const streams = bsdiff(old, neu);
    await expectCode(patched(old, { ...streams, diff: streams.diff.subarray(0, streams.diff.length - 10) }, neu.length), 'PATCH_CORRUPT');
    await expectCode(patched(old, { ...streams, control: streams.control.subarray(0, streams.control.length - 1) }, neu.length), 'PATCH_CORRUPT');
    await expectCode(patched(old, streams, neu.length - 1), 'PATCH_CORRUPT');
    await expectCode(patched(old.subarray(0, 1_000), streams, neu.length), 'PATCH_CORRUPT');
  });
});

describe('difference coder', () => {
  it('decodes what it encoded, whole or in chunks of any size, on real bsdiff output and on noise', async () => {
    const old = await slice(realFile('elf'), 0, 400_000);
    const { diff, under } = bsdiff(old, editBinary(old));
    const noise = randomBytes(50_000);
    const cases: [Buffer, Buffer][] = [
      [diff, under],
      [noise, randomBytes(50_000)],
      [Buffer.alloc(0), Buffer.alloc(0)],
    ];
    for (const [bytes, context] of cases) {
      const packed = encodeDifference(bytes, context);
      const decoder = new DifferenceDecoder(packed);
      const parts: Buffer[] = [];
      for (let at = 0, step = 1; at < context.length; at += step, step = (step * 7) % 9_001 + 1) parts.push(decoder.decode(context.subarray(at, at + step)));
      expect(Buffer.concat(parts).equals(bytes)).toBe(true);
    }
  });

  it('codes the differences of shifted machine code far smaller than zstd -19 does', async () => {
    const old = await slice(realFile('elf'), 0, 1_000_000);
    const { diff, under } = bsdiff(old, editBinary(old));
    const zstd = zstdCompressSync(diff, { params: { [constants.ZSTD_c_compressionLevel]: 19 } });
    expect(encodeDifference(diff, under).length).toBeLessThan(zstd.length);
  });
});
