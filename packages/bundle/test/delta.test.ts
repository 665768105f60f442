import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants, zstdCompressSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  applyPatch,
  applyPatchFromFolder,
  createPatch,
  createPatchFile,
  digestBuffer,
  listTar,
  PATCH_FORMAT_VERSION,
  readPatchHeader,
  scanBundle,
  tarToBuffer,
  ZSTD_ENGINE,
  zstdPatchParams,
  type Digest,
  type PatchEngine,
} from '../src/index.js';
import { craftTar, openFdsOnceSettled } from '@tufup/testkit';
import { filler } from './bundle-fixture.js';
import { cleanTempDirs, exists, expectCode, tempDir } from './helpers.js';
import { editBinary, editJs, joinPatch, realFile, slice, splitPatch, writeFiles } from './patch-fixture.js';

/** Two versions of a small app built from real JS and real machine code: about 1.5 MB of tar each. */
interface Versions {
  base: Buffer;
  target: Buffer;
  /** The patch made by each engine under test. */
  patches: Map<PatchEngine, Buffer>;
}
let v: Versions;

/** Both formats a client reads: `regions` (what `createPatch` makes) and the first one, `zstd-patch-from`. */
const ENGINES = [
  ['regions', 'auto'],
  ['zstd-patch-from', ZSTD_ENGINE],
] as const;

beforeAll(async () => {
  const work = await tempDir('tufup-delta-');
  const js = await slice(realFile('js'), 200_000, 300_000);
  const elf = await slice(realFile('elf'), 0, 1_000_000);
  const launcher = filler(20_000, 7);
  await writeFiles(join(work, 'v1'), { 'MyApp': launcher, 'resources/app.js': js, 'lib/native.node': elf });
  await writeFiles(join(work, 'v2'), {
    'MyApp': launcher,
    'resources/app.js': editJs(js),
    'lib/native.node': editBinary(elf),
    'resources/new.json': Buffer.from('{"feature":true}\n'),
  });
  const base = await tarToBuffer(join(work, 'v1'), await scanBundle(join(work, 'v1')));
  const target = await tarToBuffer(join(work, 'v2'), await scanBundle(join(work, 'v2')));
  const patches = new Map<PatchEngine, Buffer>();
  for (const [, engine] of ENGINES) patches.set(engine, await createPatch(base, target, { engine }));
  v = { base, target, patches };
});

afterEach(cleanTempDirs);

async function patchFile(bytes: Buffer): Promise<{ dir: string; patchPath: string; outPath: string }> {
  const dir = await tempDir('tufup-apply-');
  await writeFile(join(dir, 'app.patch'), bytes);
  return { dir, patchPath: join(dir, 'app.patch'), outPath: join(dir, 'new.tar') };
}

async function expectNoOutput(dir: string): Promise<void> {
  expect(await readdir(dir)).toEqual(['app.patch']);
}

describe.each(ENGINES)('patch round trip (%s)', (name, engine) => {
  const patch = (): Buffer => v.patches.get(engine)!;
  it('applied to the base, gives the target tar byte for byte', async () => {
    const { patchPath, outPath } = await patchFile(patch());
    const expected = digestBuffer(v.target);
    expect(await applyPatch({ patchPath, base: v.base, outPath, expected })).toEqual(expected);
    expect((await readFile(outPath)).equals(v.target)).toBe(true);
  });

  it('is much smaller than the new tar, and than the new tar compressed alone', () => {
    const alone = zstdCompressSync(v.target, { params: { [constants.ZSTD_c_compressionLevel]: 19 } });
    expect(patch().length).toBeLessThan(v.target.length / 10);
    expect(patch().length).toBeLessThan(alone.length / 3);
  });

  it('records the base and target digests in its header, and the base entries only in the first format', async () => {
    const { patchPath } = await patchFile(patch());
    const { header, payloadOffset } = await readPatchHeader(patchPath);
    expect(header.engine).toBe(name);
    expect(header.base).toEqual(digestBuffer(v.base));
    expect(header.target).toEqual(digestBuffer(v.target));
    // A regions patch leaves the list out: clients scan their folder, or fetch the version's signed list.
    expect(header.baseEntries).toEqual(engine === ZSTD_ENGINE ? await listTar(v.base) : undefined);
    expect(payloadOffset).toBeGreaterThan(16);
    expect(patch().subarray(0, 8).toString('ascii')).toBe('TUFUPDLT');
    expect(patch().readUInt16LE(8)).toBe(PATCH_FORMAT_VERSION);
  });

  it.skipIf(engine === ZSTD_ENGINE)('writes the entry list into the header when asked (baseEntries: true, for clients before the entries target), and still applies', async () => {
    const listed = await createPatch(v.base, v.target, { engine, baseEntries: true });
    const { patchPath, outPath } = await patchFile(listed);
    const { header } = await readPatchHeader(patchPath);
    expect(header.baseEntries).toEqual(await listTar(v.base));
    expect(listed.length).toBeGreaterThan(patch().length);
    // The payload is the same: only the header grew.
    expect(listed.subarray(-1000).equals(patch().subarray(-1000))).toBe(true);
    await applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target) });
    expect((await readFile(outPath)).equals(v.target)).toBe(true);
  });

  it('is the same bytes when made twice from the same tars', async () => {
    expect((await createPatch(v.base, v.target, { engine })).equals(patch())).toBe(true);
  });

  it('writes a patch file between two tar files that applies the same way', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.tar'), v.base);
    await writeFile(join(dir, 'b.tar'), v.target);
    const digest = await createPatchFile(join(dir, 'a.tar'), join(dir, 'b.tar'), join(dir, 'b.patch'), { engine });
    const bytes = await readFile(join(dir, 'b.patch'));
    expect(digest).toEqual(digestBuffer(bytes));
    await applyPatch({ patchPath: join(dir, 'b.patch'), base: v.base, outPath: join(dir, 'out.tar'), expected: digestBuffer(v.target) });
    expect((await readFile(join(dir, 'out.tar'))).equals(v.target)).toBe(true);
  });

  it('reports progress that only grows and ends at exactly the total', async () => {
    const { patchPath, outPath } = await patchFile(patch());
    const calls: [number, number][] = [];
    await applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target), onProgress: (done, total) => calls.push([done, total]) });
    expect(calls.length).toBeGreaterThan(1);
    const done = calls.map(([d]) => d);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(new Set(calls.map(([, t]) => t))).toEqual(new Set([v.target.length]));
    expect(calls.at(-1)).toEqual([v.target.length, v.target.length]);
  });
});

describe.each(ENGINES)('patches that must not apply (%s)', (name, engine) => {
  const patch = (): Buffer => v.patches.get(engine)!;
  it('refuses a patch with a flipped payload byte (PATCH_CORRUPT or HASH_MISMATCH) and writes no output', async () => {
    const { payload } = splitPatch(patch());
    const tampered = Buffer.from(patch());
    tampered[patch().length - payload.length + Math.floor(payload.length / 2)]! ^= 0x40;
    const { dir, patchPath, outPath } = await patchFile(tampered);
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target) }), ['PATCH_CORRUPT', 'HASH_MISMATCH']);
    expect(await exists(outPath)).toBe(false);
    await expectNoOutput(dir);
  });

  it('refuses a patch cut short and writes no output', async () => {
    const { dir, patchPath, outPath } = await patchFile(patch().subarray(0, patch().length - 200));
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target) }), ['PATCH_CORRUPT', 'HASH_MISMATCH']);
    await expectNoOutput(dir);
  });

  it('refuses another base with PATCH_BASE_MISMATCH before writing anything', async () => {
    const { dir, patchPath, outPath } = await patchFile(patch());
    const wrongBase = Buffer.from(v.base);
    wrongBase[1_000]! ^= 1;
    await expectCode(applyPatch({ patchPath, base: wrongBase, outPath, expected: digestBuffer(v.target) }), 'PATCH_BASE_MISMATCH');
    await expectNoOutput(dir);
  });

  it('refuses a patch whose header names another target than the signed digest with HASH_MISMATCH', async () => {
    const { patchPath, outPath, dir } = await patchFile(patch());
    const signed: Digest = digestBuffer(Buffer.concat([v.target, Buffer.from('x')]));
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: signed }), 'HASH_MISMATCH');
    await expectNoOutput(dir);
  });

  it('refuses a forged header that claims the signed target but whose payload makes something else', async () => {
    // The forger knows the signed digest and puts it in the header; the payload still decodes to v.target.
    const { header, payload } = splitPatch(patch());
    const signed = digestBuffer(Buffer.concat([v.target.subarray(0, v.target.length - 512), Buffer.alloc(512, 1)]));
    const { dir, patchPath, outPath } = await patchFile(joinPatch({ ...header, target: signed }, payload));
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: signed }), 'HASH_MISMATCH');
    await expectNoOutput(dir);
  });

  it('stops a patch that produces more than the signed size (regions: refused from the header alone)', async () => {
    const { header, payload } = splitPatch(patch());
    const signed = digestBuffer(v.target.subarray(0, 100_000));
    const { dir, patchPath, outPath } = await patchFile(joinPatch({ ...header, target: signed }, payload));
    // A regions header must add up to its target's size: a forged smaller target does not.
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: signed }), engine === ZSTD_ENGINE ? 'HASH_MISMATCH' : 'PATCH_FORMAT');
    await expectNoOutput(dir);
  });

  it.each([
    ['a file that is not a patch', Buffer.from('#!/bin/sh\necho this is not a patch, but long enough to read a header\n')],
    ['an empty file', Buffer.alloc(0)],
    ['a zstd frame without our header', Buffer.from('28b52ffd0458610000', 'hex')],
  ])('refuses %s with PATCH_FORMAT', async (_what, bytes) => {
    const { dir, patchPath, outPath } = await patchFile(bytes);
    await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target) }), 'PATCH_FORMAT');
    await expectNoOutput(dir);
  });

  it('refuses a newer format version, an unknown engine, and malformed headers with PATCH_FORMAT', async () => {
    const { header, payload } = splitPatch(patch());
    const truncatedHeader = Buffer.from(patch().subarray(0, 16));
    truncatedHeader.writeUInt32LE(0xfffffff0, 12);
    const malformed =
      header.engine === ZSTD_ENGINE
        ? [joinPatch({ ...header, baseEntries: [{ path: 'a', type: 'device', mode: 0, size: 0 }] }, payload)]
        : [
            joinPatch({ ...header, regions: [['copy', 0, v.base.length + 1]] }, payload),
            joinPatch({ ...header, regions: [['zstd+', v.target.length]] }, payload),
            joinPatch({ ...header, regions: [['move', 0, v.target.length]] }, payload),
            joinPatch({ ...header, regions: [['bsdiff', v.target.length, -1, 10, 1, 1, 1]] }, payload),
            joinPatch({ ...header, regions: 'all of it' }, payload),
          ];
    const variants = [
      joinPatch(header, payload, PATCH_FORMAT_VERSION + 1),
      joinPatch({ ...header, engine: 'courgette' }, payload),
      joinPatch({ ...header, base: { sha256: 'not hex', size: 1 } }, payload),
      ...malformed,
      joinPatch('just a string', payload),
      Buffer.concat([truncatedHeader, Buffer.from('{}')]),
      Buffer.concat([patch().subarray(0, 16), Buffer.from('{not json')]),
      withFlags(joinPatch(header, payload), 2),
      withFlags(joinPatch(header, payload), 1),
    ];
    for (const bytes of variants) {
      const { dir, patchPath, outPath } = await patchFile(bytes);
      await expectCode(readPatchHeader(patchPath), 'PATCH_FORMAT');
      await expectCode(applyPatch({ patchPath, base: v.base, outPath, expected: digestBuffer(v.target) }), 'PATCH_FORMAT');
      await expectNoOutput(dir);
    }
  });

  // applyPatchFromFolder reads each base entry at installDir/<path>: a forged list must not reach outside.
  it.skipIf(engine !== ZSTD_ENGINE).each([
    ['climbs out with ..', '../outside.txt'],
    ['climbs out further down', 'resources/../../outside.txt'],
    ['is absolute', '/etc/passwd'],
    ['has a drive letter', 'C:/Windows/win.ini'],
    ['has a drive-relative drive letter', 'c:outside.txt'],
    ['uses backslashes', 'resources\\..\\..\\outside.txt'],
    ['holds a NUL', 'resources/app.js\0.txt'],
    ['is empty', ''],
    ['has an empty segment', 'resources//app.js'],
    ['has a . segment', './resources/app.js'],
    ['ends with a slash', 'resources/'],
  ])('refuses a header whose base entry path %s with PATCH_FORMAT and reads nothing outside', async (_what, path) => {
    const { header, payload } = splitPatch(v.patches.get(ZSTD_ENGINE)!);
    if (header.engine !== ZSTD_ENGINE) throw new Error('the first format has the entry list');
    const baseEntries = [...header.baseEntries, { path, type: 'file', mode: 0o644, size: 11 }];
    const { dir, patchPath, outPath } = await patchFile(joinPatch({ ...header, baseEntries }, payload));
    await expectCode(readPatchHeader(patchPath), 'PATCH_FORMAT');
    await expectCode(applyPatchFromFolder({ patchPath, installDir: join(dir, 'install'), outPath, expected: digestBuffer(v.target) }), 'PATCH_FORMAT');
    await expectNoOutput(dir);
  });

  it('stores the header gzip-compressed', async () => {
    const { header } = splitPatch(patch());
    const { patchPath } = await patchFile(patch());
    expect(patch().readUInt32LE(12)).toBeLessThan(JSON.stringify(header).length);
    expect((await readPatchHeader(patchPath)).header).toEqual(header);
  });

  it('refuses a missing patch file with IO', async () => {
    const dir = await tempDir();
    await expectCode(readPatchHeader(join(dir, 'missing.patch')), 'IO');
  });

  // An open handle keeps Windows from deleting the patch, and each failed try would leak another.
  it.skipIf(process.platform !== 'linux')('closes the patch file when the output cannot be written', async () => {
    // Unrelated random content makes a patch of about 1 MB, far more than is read before the output opens.
    const base = craftTar([{ path: 'a', content: randomBytes(1024 * 1024) }]);
    const target = craftTar([{ path: 'a', content: randomBytes(1024 * 1024) }]);
    const { dir, patchPath } = await patchFile(await createPatch(base, target, { level: 1, engine }));
    const notAFolder = join(dir, 'not-a-folder');
    await writeFile(notAFolder, 'x');
    await expectCode(applyPatch({ patchPath, base, outPath: join(notAFolder, 'new.tar'), expected: digestBuffer(target) }), 'IO');
    expect(await openFdsOnceSettled(patchPath)).toBe(0);
  });

  it('stops when aborted, rejecting with the abort reason and writing no output', async () => {
    const { dir, patchPath, outPath } = await patchFile(patch());
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const result = applyPatch({
      patchPath,
      base: v.base,
      outPath,
      expected: digestBuffer(v.target),
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    });
    await expect(result).rejects.toBe(reason);
    await expectNoOutput(dir);
  });
});

describe('zstd parameters', () => {
  it('sizes the window to hold old and new tar, and refuses pairs past zstd’s 2 GiB window', () => {
    const params = zstdPatchParams(3_000_000, 3_500_000, 19);
    expect(2 ** params[constants.ZSTD_c_windowLog]!).toBeGreaterThanOrEqual(6_500_000);
    expect(params[constants.ZSTD_c_compressionLevel]).toBe(19);
    expect(() => zstdPatchParams(1.5 * 2 ** 30, 1.5 * 2 ** 30, 19)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });
});

/** The same patch with other header flags: an unknown bit, or "gzip" on a header that is not. */
function withFlags(patch: Buffer, flags: number): Buffer {
  const copy = Buffer.from(patch);
  copy.writeUInt16LE(flags, 10);
  return copy;
}
