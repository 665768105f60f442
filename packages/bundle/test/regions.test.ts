import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferSource, type BaseSource } from '../src/base-source.js';
import { applyPatch, createPatch, digestBuffer, readPatchHeader, REGIONS_ENGINE, type RegionOp, type RegionsPatchHeader } from '../src/index.js';
import { applyRegions, ZSTD_REGION_MAX } from '../src/regions.js';
import { filler } from './bundle-fixture.js';
import { craftTar, type CraftEntry } from '@tufup/testkit';
import { cleanTempDirs, expectCode, tempDir } from './helpers.js';
import { editBinary, editJs, realFile, slice, splitPatch } from './patch-fixture.js';

afterEach(cleanTempDirs);

async function regionsOf(patch: Buffer): Promise<{ header: RegionsPatchHeader; patchPath: string; payloadOffset: number; dir: string }> {
  const dir = await tempDir('tufup-regions-');
  const patchPath = join(dir, 'p.patch');
  await writeFile(patchPath, patch);
  const { header, payloadOffset } = await readPatchHeader(patchPath);
  if (header.engine !== REGIONS_ENGINE) throw new Error(`expected a regions patch, got ${header.engine}`);
  return { header, patchPath, payloadOffset, dir };
}

async function applies(base: Buffer, target: Buffer): Promise<RegionOp[]> {
  const patch = await createPatch(base, target);
  const { header, patchPath, dir } = await regionsOf(patch);
  const outPath = join(dir, 'out.tar');
  await applyPatch({ patchPath, basePath: await written(dir, base), outPath, expected: digestBuffer(target) });
  expect((await readFile(outPath)).equals(target)).toBe(true);
  return header.regions;
}

async function written(dir: string, data: Buffer): Promise<string> {
  const path = join(dir, 'base.tar');
  await writeFile(path, data);
  return path;
}

const kinds = (ops: RegionOp[]): string[] => [...new Set(ops.map((op) => op[0]))].sort();

/** A base source that records each read, to see how the base is read. */
class SpySource implements BaseSource {
  readonly reads: number[] = [];
  constructor(private readonly inner: BufferSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(out: Buffer, position: number): Promise<void> {
    this.reads.push(out.length);
    return this.inner.read(out, position);
  }
  digest(): ReturnType<BaseSource['digest']> {
    return this.inner.digest();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('regions patches: engine per entry', () => {
  it('copies unchanged entries, bsdiffs the changed executable, zstd-codes the changed JavaScript', async () => {
    const elf = await slice(realFile('elf'), 0, 400_000);
    const js = await slice(realFile('js'), 0, 200_000);
    const runtime = filler(300_000, 3);
    const base = craftTar([{ path: 'runtime.bin', content: runtime }, { path: 'app.js', content: js }, { path: 'native.node', content: elf }]);
    const target = craftTar([{ path: 'runtime.bin', content: runtime }, { path: 'app.js', content: editJs(js) }, { path: 'native.node', content: editBinary(elf) }]);
    const ops = await applies(base, target);
    expect(kinds(ops)).toEqual(['bsdiff', 'copy', 'zstd']);
    // The unchanged runtime comes first: copied from the base at its own offset, with its header.
    expect(ops[0]).toEqual(['copy', 0, 512 + 300_032]);
  });

  it('round-trips an empty old tar, an empty new tar, identical tars and unrelated tars', async () => {
    const a = craftTar([{ path: 'a.bin', content: randomBytes(70_000) }, { path: 'b.txt', content: 'hello' }]);
    const b = craftTar([{ path: 'c.bin', content: randomBytes(90_000) }]);
    const empty = Buffer.alloc(1024);
    expect(kinds(await applies(empty, a))).toEqual(['copy', 'zstd']);
    expect(kinds(await applies(a, empty))).toEqual(['copy']);
    expect(await applies(a, Buffer.from(a))).toEqual([['copy', 0, a.length]]);
    await applies(a, b);
  });

  it('finds an entry whose folder was renamed by its file name', async () => {
    const js = await slice(realFile('js'), 0, 300_000);
    const base = craftTar([{ path: 'app-1.0.0/main.js', content: js }]);
    const target = craftTar([{ path: 'app-1.0.1/main.js', content: editJs(js) }]);
    const ops = await applies(base, target);
    const zstd = ops.find((op) => op[0] === 'zstd');
    // Its dictionary is the old main.js: the patch is a small fraction of the file.
    expect(zstd?.slice(3)).toEqual([0, base.length - 1024]);
    expect(zstd![2]).toBeLessThan(js.length / 20);
  });

  it('treats bytes that are not a tar as one region, and still round-trips them', async () => {
    const old = await slice(realFile('elf'), 0, 200_000);
    const ops = await applies(old, editBinary(old));
    expect(ops).toHaveLength(1);
  });
});

describe('regions patches: applying in bounded memory', () => {
  it('reads the base by position, at most 1 MiB at a time, outside zstd dictionaries; the output is right', async () => {
    const big = filler(5 * 2 ** 20, 9);
    const elf = await slice(realFile('elf'), 0, 300_000);
    const entries = (bin: Buffer): CraftEntry[] => [{ path: 'big.dat', content: big }, { path: 'x.node', content: bin }, { path: 'tail.dat', content: big.subarray(0, 2 ** 20) }];
    const base = craftTar(entries(elf));
    const target = craftTar(entries(editBinary(elf)));
    const { header, patchPath, payloadOffset } = await regionsOf(await createPatch(base, target));
    expect(kinds(header.regions)).toEqual(['bsdiff', 'copy']);
    const spy = new SpySource(new BufferSource(base));
    const out: Buffer[] = [];
    for await (const chunk of applyRegions(header.regions, patchPath, payloadOffset, spy)) out.push(chunk);
    expect(Buffer.concat(out).equals(target)).toBe(true);
    expect(Math.max(...spy.reads)).toBeLessThanOrEqual(2 ** 20);
    expect(Math.max(...out.map((c) => c.length))).toBeLessThanOrEqual(2 ** 20);
  });

  it('spreads a new entry larger than 32 MiB over several zstd frames, each within the bound, and round-trips it', async () => {
    const base = craftTar([{ path: 'a.js', content: 'x'.repeat(1000) }]);
    const big = Buffer.alloc(40 * 2 ** 20, 'tufup ');
    const target = craftTar([{ path: 'a.js', content: 'y'.repeat(1000) }, { path: 'assets/big.bin', content: big }]);
    const { header } = splitPatch(await createPatch(base, target, { level: 3 }));
    if (header.engine !== REGIONS_ENGINE) throw new Error('regions expected');
    const frames = header.regions.filter((op) => op[0] === 'zstd');
    expect(frames.length).toBeGreaterThan(1);
    // Each frame's new bytes (its first region and the continuations up to the next frame) stay within 32 MiB.
    let bytes = 0;
    for (const op of [...header.regions, ['zstd', 0, 0] as const]) {
      if (op[0] === 'zstd') {
        expect(bytes).toBeLessThanOrEqual(ZSTD_REGION_MAX);
        bytes = 0;
        const [, , , ...ranges] = op;
        expect(ranges.filter((_, i) => i % 2 === 1).reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(ZSTD_REGION_MAX);
      }
      if (op[0] === 'zstd' || op[0] === 'zstd+') bytes += op[1];
    }
    const spy = new SpySource(new BufferSource(base));
    const dir = await tempDir('tufup-regions-');
    await writeFile(join(dir, 'p.patch'), await createPatch(base, target, { level: 3 }));
    const { payloadOffset } = await readPatchHeader(join(dir, 'p.patch'));
    const out: Buffer[] = [];
    for await (const chunk of applyRegions(header.regions, join(dir, 'p.patch'), payloadOffset, spy)) out.push(chunk);
    expect(Buffer.concat(out).equals(target)).toBe(true);
  });

  it('refuses a bsdiff region whose streams were damaged or cut with a PATCH_ error, and writes nothing', async () => {
    const elf = await slice(realFile('elf'), 0, 300_000);
    const base = craftTar([{ path: 'x.node', content: elf }]);
    const target = craftTar([{ path: 'x.node', content: editBinary(elf) }]);
    const patch = await createPatch(base, target);
    const { payload } = splitPatch(patch);
    const damaged = Buffer.from(patch);
    for (let i = 0; i < 64; i++) damaged[patch.length - payload.length + 10 + i * 97]! ^= 0x55;
    for (const bytes of [damaged, patch.subarray(0, patch.length - 50)]) {
      const dir = await tempDir('tufup-regions-');
      await writeFile(join(dir, 'p.patch'), bytes);
      const outPath = join(dir, 'out.tar');
      await expectCode(applyPatch({ patchPath: join(dir, 'p.patch'), base, outPath, expected: digestBuffer(target) }), ['PATCH_CORRUPT', 'HASH_MISMATCH']);
      expect(await readFile(outPath).catch(() => undefined)).toBeUndefined();
    }
  });
});
