import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTree } from '@tufup/testkit';
import { applyPatch, applyPatchFromFolder, createPatch, digestBuffer, extractTar, scanBundle, tarToBuffer } from '../src/index.js';
import { chunksOf, cleanTempDirs, tempDir } from './helpers.js';
import { editBinary, editJs, realFile, slice, writeFiles } from './patch-fixture.js';

afterEach(cleanTempDirs);

/** Builds the tars of two app versions, patches v1 -> v2, applies it to the v1 install folder. */
async function roundTrip(v1: Record<string, Buffer>, v2: Record<string, Buffer>): Promise<{ patch: Buffer; target: Buffer }> {
  const work = await tempDir('tufup-delta-heavy-');
  await writeFiles(join(work, 'v1'), v1);
  await writeFiles(join(work, 'v2'), v2);
  const base = await tarToBuffer(join(work, 'v1'), await scanBundle(join(work, 'v1')));
  const target = await tarToBuffer(join(work, 'v2'), await scanBundle(join(work, 'v2')));
  const patch = await createPatch(base, target);
  const patchPath = join(work, 'v2.patch');
  await writeFiles(work, { 'v2.patch': patch });
  const expected = digestBuffer(target);

  await applyPatch({ patchPath, base, outPath: join(work, 'from-buffer.tar'), expected });
  expect((await readFile(join(work, 'from-buffer.tar'))).equals(target)).toBe(true);

  await applyPatchFromFolder({ patchPath, installDir: join(work, 'v1'), outPath: join(work, 'from-folder.tar'), expected });
  await extractTar(chunksOf(await readFile(join(work, 'from-folder.tar')), 1 << 20), join(work, 'staged'), { expected });
  expect(await readTree(join(work, 'staged'))).toEqual(await readTree(join(work, 'v2')));
  return { patch, target };
}

describe('patches between real binaries', () => {
  it('rebuilds a recompiled native module (10 MB ELF, code shifted and changed) byte for byte, in a small patch', async () => {
    const elf = await readFile(realFile('elf'));
    const js = await slice(realFile('js'), 0, 1_000_000);
    const { patch, target } = await roundTrip({ 'lib/native.node': elf, 'app.js': js }, { 'lib/native.node': editBinary(elf), 'app.js': editJs(js) });
    expect(patch.length).toBeLessThan(target.length / 20);
  });

  it('replaces one native module with a different one (lightningcss -> rolldown, 31 MB) byte for byte', async () => {
    const { patch, target } = await roundTrip(
      { 'lib/native.node': await readFile(realFile('elf')) },
      { 'lib/native.node': await readFile(realFile('elf2')) },
    );
    expect(patch.length).toBeLessThan(target.length);
  });
});
