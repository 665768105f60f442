import { randomBytes } from 'node:crypto';
import { constants, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bsdiff, bspatch, ChunkReader, plainDifferences, type BsdiffStreams } from '../src/bsdiff.js';
import { BufferSource } from '../src/base-source.js';
import { DifferenceDecoder, encodeDifference } from '../src/diff-coder.js';
import { suffixArray } from '../src/suffix-array.js';
import { chunksOf, expectCode } from './helpers.js';
import { editBinary, realFile, slice } from './patch-fixture.js';

/** The suffix array by sorting every suffix: slow, obviously right. */
function naiveSuffixArray(data: Uint8Array): number[] {
  const buf = Buffer.from(data);
  return [...Array(data.length + 1).keys()].sort((a, b) => Buffer.compare(buf.subarray(a), buf.subarray(b)));
}

/** The Fibonacci word over {a, b}: repetitive at every scale, so SA-IS recurses as deep as it can. */
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

describe('suffix array (SA-IS)', () => {
  it('sorts every suffix, the empty one first, on texts made to stress induced sorting', () => {
    const texts = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('banana'),
      Buffer.from('mississippi'),
      Buffer.alloc(300, 0),
      Buffer.from('abababababababababab'),
      Buffer.from([255, 0, 255, 0, 1, 255]),
      ...Array.from({ length: 200 }, (_, i) => Buffer.from(Array.from({ length: i % 70 }, (_, j) => ((j * 7 + i) % (1 + (i % 4))) * 60))),
      randomBytes(2_000),
      fibonacciWord(6_000),
    ];
    for (const text of texts) expect(Array.from(suffixArray(text))).toEqual(naiveSuffixArray(text));
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
