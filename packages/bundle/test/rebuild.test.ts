import { execFileSync } from 'node:child_process';
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
  listTar,
  tarToBuffer,
  ZSTD_ENGINE,
  type PatchEngine,
  type TarEntry,
} from '../src/index.js';
import { readTree } from '@tufup/testkit';
import { writeFixtureBundle } from './bundle-fixture.js';
import { chunksOf, cleanTempDirs, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

/**
 * An installed v1: the fixture app extracted from its archive, a patch to v2 (made by `engine`), and the
 * v1 tar's entries, which is what a client follows when it rebuilds the base tar from the install folder.
 */
async function installedApp(
  engine: PatchEngine = 'auto',
  baseEntries = true,
): Promise<{ work: string; install: string; baseTar: Buffer; entries: TarEntry[]; patchPath: string; v2Tar: Buffer }> {
  const work = await tempDir();
  await writeFixtureBundle(join(work, 'v1'));
  await writeFixtureBundle(join(work, 'v2'));
  await writeFile(join(work, 'v2', 'MyApp'), Buffer.concat([await readFile(join(work, 'v2', 'MyApp')), Buffer.from('v2')]));
  await createArchive(join(work, 'v1'), join(work, 'v1.tar.gz'), join(work, 'v1.tar'));
  await createArchive(join(work, 'v2'), join(work, 'v2.tar.gz'), join(work, 'v2.tar'));
  const baseTar = await readFile(join(work, 'v1.tar'));
  const v2Tar = await readFile(join(work, 'v2.tar'));
  const patchPath = join(work, 'v2.patch');
  await writeFile(patchPath, await createPatch(baseTar, v2Tar, { engine, baseEntries }));
  const install = join(work, 'install');
  await extractArchive(join(work, 'v1.tar.gz'), install);
  return { work, install, baseTar, entries: await listTar(baseTar), patchPath, v2Tar };
}

describe('rebuilding the base tar from an install folder', () => {
  it('gives back the original tar, byte for byte', async () => {
    const { install, baseTar, entries } = await installedApp();
    expect((await tarToBuffer(install, entries)).equals(baseTar)).toBe(true);
    expect(await digestTarOf(install, entries)).toEqual(digestBuffer(baseTar));
  });

  it('still gives the original tar after an installer added files and folders to the install', async () => {
    const { install, baseTar, entries } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    await mkdir(join(install, 'logs', 'crash'), { recursive: true });
    await writeFile(join(install, 'logs', 'crash', 'dump.dmp'), 'dump');
    await symlink('MyApp', join(install, 'myapp-link'));
    expect((await tarToBuffer(install, entries)).equals(baseTar)).toBe(true);
  });

  it('lets the patch be applied to the rebuilt base, and the result extracts to the new version', async () => {
    const { work, install, entries, patchPath, v2Tar } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    const base = await tarToBuffer(install, entries);
    const expected = digestBuffer(v2Tar);
    await applyPatch({ patchPath, base, outPath: join(work, 'new.tar'), expected });
    await extractTar(chunksOf(await readFile(join(work, 'new.tar'))), join(work, 'staged'), { expected });
    expect(await readTree(join(work, 'staged'))).toEqual(await readTree(join(work, 'v2')));
  });

  it('gives another digest when one byte of an installed file changed', async () => {
    const { install, entries, baseTar } = await installedApp();
    const file = join(install, 'resources/app.asar');
    const bytes = await readFile(file);
    bytes[500]! ^= 0xff;
    await writeFile(file, bytes);
    const rebuilt = await tarToBuffer(install, entries).then(digestBuffer, (e: unknown) => e);
    expect(rebuilt).not.toEqual(digestBuffer(baseTar));
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
    const { install, entries } = await installedApp();
    await damage(install);
    await expectCode(tarToBuffer(install, entries), 'CONTENT_MISMATCH');
    await expectCode(digestTarOf(install, entries), 'CONTENT_MISMATCH');
  });
});

describe('applying a patch straight to an install folder', () => {
  it('reads the base from a clean install by scanning it when the patch carries no entry list', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp('auto', false);
    const expected = digestBuffer(v2Tar);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, outPath: join(work, 'new.tar'), expected })).toEqual(expected);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });

  // Without a list, applyPatchFromFolder is also what clients before the entries target run on a patch
  // that has none: PATCH_BASE_MISMATCH, on which they download the full archive.
  it('without an entry list, refuses an install an installer added files to with PATCH_BASE_MISMATCH, and applies once given the version’s list', async () => {
    const { work, install, entries, patchPath, v2Tar } = await installedApp('auto', false);
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    await mkdir(join(install, 'logs', 'crash'), { recursive: true });
    const expected = digestBuffer(v2Tar);
    const outPath = join(work, 'new.tar');
    await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected }), 'PATCH_BASE_MISMATCH');
    expect((await readdir(work)).filter((name) => name.startsWith('new.tar'))).toEqual([]);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, baseEntries: entries, outPath, expected })).toEqual(expected);
    expect((await readFile(outPath)).equals(v2Tar)).toBe(true);
  });

  it('follows the entry list in the header when the scan finds files the archive never had', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp();
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    const expected = digestBuffer(v2Tar);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, outPath: join(work, 'new.tar'), expected })).toEqual(expected);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });

  it.skipIf(process.platform === 'win32')('follows the header’s list when the scan meets a file no bundle holds (a FIFO the app made)', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp();
    execFileSync('mkfifo', [join(install, 'app.sock')]);
    const expected = digestBuffer(v2Tar);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, outPath: join(work, 'new.tar'), expected })).toEqual(expected);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });

  it('still applies a zstd-patch-from patch (the first format), following the entry list in its header, ignoring added files', async () => {
    const { work, install, patchPath, v2Tar } = await installedApp(ZSTD_ENGINE);
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'uninstaller');
    const expected = digestBuffer(v2Tar);
    expect(await applyPatchFromFolder({ patchPath, installDir: install, outPath: join(work, 'new.tar'), expected })).toEqual(expected);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });

  it.each([['regions', 'auto'] as const, ['zstd-patch-from', ZSTD_ENGINE] as const])(
    'refuses a changed install with PATCH_BASE_MISMATCH and writes nothing (%s)',
    async (_name, engine) => {
      const { work, install, patchPath, v2Tar } = await installedApp(engine);
      const file = join(install, 'resources/app.asar');
      const bytes = await readFile(file);
      bytes[10]! ^= 1;
      await writeFile(file, bytes);
      const outPath = join(work, 'new.tar');
      await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected: digestBuffer(v2Tar) }), 'PATCH_BASE_MISMATCH');
      await unlink(join(install, 'MyApp'));
      await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected: digestBuffer(v2Tar) }), 'PATCH_BASE_MISMATCH');
      expect((await readdir(work)).filter((name) => name.startsWith('new.tar'))).toEqual([]);
    },
  );

  it('with releaseBase, empties the caller’s base buffer once the decoder has its copy', async () => {
    const { work, baseTar, patchPath, v2Tar } = await installedApp(ZSTD_ENGINE);
    const base = Buffer.from(baseTar);
    await applyPatch({ patchPath, base, releaseBase: true, outPath: join(work, 'new.tar'), expected: digestBuffer(v2Tar) });
    expect(base.length).toBe(0);
    expect((await readFile(join(work, 'new.tar'))).equals(v2Tar)).toBe(true);
  });
});
