import { mkdir, readdir, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyPatch,
  applyPatchFromFolder,
  createArchive,
  createPatch,
  digestBuffer,
  digestTarOf,
  extractArchive,
  extractTar,
  readPatchHeader,
  tarToBuffer,
  type PatchHeader,
} from '../src/index.js';
import { readTree } from '@tufup/testkit';
import { writeFixtureBundle } from './bundle-fixture.js';
import { chunksOf, cleanTempDirs, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

/**
 * An installed v1: the fixture app extracted from its archive, and a patch to v2 whose header lists the
 * v1 entries, which is what a client has when it rebuilds the base tar from the install folder.
 */
async function installedApp(): Promise<{ work: string; install: string; baseTar: Buffer; header: PatchHeader; patchPath: string; v2Tar: Buffer }> {
  const work = await tempDir();
  await writeFixtureBundle(join(work, 'v1'));
  await writeFixtureBundle(join(work, 'v2'));
  await writeFile(join(work, 'v2', 'MyApp'), Buffer.concat([await readFile(join(work, 'v2', 'MyApp')), Buffer.from('v2')]));
  await createArchive(join(work, 'v1'), join(work, 'v1.tar.gz'), join(work, 'v1.tar'));
  await createArchive(join(work, 'v2'), join(work, 'v2.tar.gz'), join(work, 'v2.tar'));
  const baseTar = await readFile(join(work, 'v1.tar'));
  const v2Tar = await readFile(join(work, 'v2.tar'));
  const patchPath = join(work, 'v2.patch');
  await writeFile(patchPath, await createPatch(baseTar, v2Tar));
  const install = join(work, 'install');
  await extractArchive(join(work, 'v1.tar.gz'), install);
  const { header } = await readPatchHeader(patchPath);
  return { work, install, baseTar, header, patchPath, v2Tar };
}

describe('rebuilding the base tar from an install folder', () => {
  it('gives back the original tar, byte for byte', async () => {
    const { install, baseTar, header } = await installedApp();
    expect((await tarToBuffer(install, header.baseEntries)).equals(baseTar)).toBe(true);
    expect(await digestTarOf(install, header.baseEntries)).toEqual(header.base);
  });

  it('still gives the original tar after an installer added files and folders to the install', async () => {
    const { install, baseTar, header } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    await mkdir(join(install, 'logs', 'crash'), { recursive: true });
    await writeFile(join(install, 'logs', 'crash', 'dump.dmp'), 'dump');
    await symlink('MyApp', join(install, 'myapp-link'));
    expect((await tarToBuffer(install, header.baseEntries)).equals(baseTar)).toBe(true);
  });

  it('lets the patch be applied to the rebuilt base, and the result extracts to the new version', async () => {
    const { work, install, header, patchPath, v2Tar } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    const base = await tarToBuffer(install, header.baseEntries);
    const expected = digestBuffer(v2Tar);
    await applyPatch({ patchPath, base, outPath: join(work, 'new.tar'), expected });
    await extractTar(chunksOf(await readFile(join(work, 'new.tar'))), join(work, 'staged'), { expected });
    expect(await readTree(join(work, 'staged'))).toEqual(await readTree(join(work, 'v2')));
  });

  it('gives another digest when one byte of an installed file changed', async () => {
    const { install, header } = await installedApp();
    const file = join(install, 'resources/app.asar');
    const bytes = await readFile(file);
    bytes[500]! ^= 0xff;
    await writeFile(file, bytes);
    const rebuilt = await tarToBuffer(install, header.baseEntries).then(digestBuffer, (e: unknown) => e);
    expect(rebuilt).not.toEqual(header.base);
  });

  it.each([
    ['a file shrank', async (dir: string) => truncate(join(dir, 'resources/app.asar'), 10)],
    ['a file is missing', async (dir: string) => unlink(join(dir, 'MyApp'))],
    ['a folder became a file', async (dir: string) => rm(join(dir, 'logs'), { recursive: true }).then(() => writeFile(join(dir, 'logs'), 'x'))],
    [
      'a framework symlink points elsewhere',
      async (dir: string) => {
        await unlink(join(dir, 'Frameworks/My.framework/Versions/Current'));
        await symlink('B', join(dir, 'Frameworks/My.framework/Versions/Current'));
      },
    ],
  ])('refuses with CONTENT_MISMATCH when %s', async (_what, damage) => {
    const { install, header } = await installedApp();
    await damage(install);
    await expectCode(tarToBuffer(install, header.baseEntries), 'CONTENT_MISMATCH');
    await expectCode(digestTarOf(install, header.baseEntries), 'CONTENT_MISMATCH');
  });
});

describe('applying a patch straight to an install folder', () => {
  it('rebuilds the base from the folder, ignoring added files, and writes the new tar', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    const expected = digestBuffer(v2Tar);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, outPath: join(work, 'new.tar'), expected })).toEqual(expected);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });

  it('refuses a changed install with PATCH_BASE_MISMATCH and writes nothing', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp();
    const file = join(install, 'resources/app.asar');
    const bytes = await readFile(file);
    bytes[10]! ^= 1;
    await writeFile(file, bytes);
    const outPath = join(work, 'new.tar');
    await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected: digestBuffer(v2Tar) }), 'PATCH_BASE_MISMATCH');
    await unlink(join(install, 'MyApp'));
    await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected: digestBuffer(v2Tar) }), 'PATCH_BASE_MISMATCH');
    expect((await readdir(work)).filter((name) => name.startsWith('new.tar'))).toEqual([]);
  });

  it('with releaseBase, empties the caller’s base buffer once the decoder has its copy', async () => {
    const { work, baseTar, patchPath, v2Tar } = await installedApp();
    const base = Buffer.from(baseTar);
    await applyPatch({ patchPath, base, releaseBase: true, outPath: join(work, 'new.tar'), expected: digestBuffer(v2Tar) });
    expect(base.length).toBe(0);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });
});
