import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createArchive,
  digestBuffer,
  digestFile,
  extractArchive,
  gunzipFile,
  gunzipToBuffer,
  listTar,
  scanBundle,
  tarSize,
  tarToBuffer,
  writeTar,
} from '../src/index.js';
import { readTree } from '@tufup/testkit';
import { FIXTURE_EMPTY_DIRS, FIXTURE_FILES, FIXTURE_LINKS, LONG_PATHS, writeFixtureBundle } from './bundle-fixture.js';
import { cleanTempDirs, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

describe('bundle folder -> tar.gz -> folder', () => {
  it('gives back the same tree: contents, exec bits, symlinks, empty folders, long and non-ASCII names', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);

    const info = await createArchive(app, join(work, 'MyApp-1.0.0.tar.gz'), join(work, 'MyApp-1.0.0.tar'));
    const out = join(work, 'extracted');
    const digest = await extractArchive(join(work, 'MyApp-1.0.0.tar.gz'), out, { expected: info.tar });

    expect(digest).toEqual(info.tar);
    const [before, after] = await Promise.all([readTree(app), readTree(out)]);
    expect(after).toEqual(before);
    // Spot checks of what the equality above covers, so a fixture mistake cannot hide a gap.
    expect(after.MyApp).toMatchObject({ type: 'file', mode: 0o755 });
    expect(after['resources/app.asar']).toMatchObject({ type: 'file', mode: 0o644 });
    expect(after['Frameworks/My.framework/Versions/Current']).toEqual({ type: 'symlink', target: 'A' });
    expect(after['Frameworks/My.framework/My']).toEqual({ type: 'symlink', target: 'Versions/Current/My' });
    expect(after[LONG_PATHS.over255]).toMatchObject({ type: 'file' });
    expect(after[LONG_PATHS.longName]).toMatchObject({ type: 'file' });
    expect(after['locales/日本語.pak']).toMatchObject({ type: 'file' });
    for (const dir of FIXTURE_EMPTY_DIRS) expect(await readdir(join(out, dir))).toEqual([]);
    // The framework chain resolves on disk, as the OS will follow it.
    expect(await readFile(join(out, 'Frameworks/My.framework/My'))).toEqual(FIXTURE_FILES[3]!.content);
  });

  it('extracts the .tar kept next to the archive to the same tree, and gunzip gives that tar back', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);
    const info = await createArchive(app, join(work, 'a.tar.gz'), join(work, 'a.tar'));

    expect(await digestFile(join(work, 'a.tar'))).toEqual(info.tar);
    expect(await digestFile(join(work, 'a.tar.gz'))).toEqual(info.archive);
    expect(await gunzipFile(join(work, 'a.tar.gz'), join(work, 'b.tar'))).toEqual(info.tar);
    expect(digestBuffer(await gunzipToBuffer(join(work, 'a.tar.gz')))).toEqual(info.tar);
    await extractArchive(join(work, 'a.tar'), join(work, 'out'));
    expect(await readTree(join(work, 'out'))).toEqual(await readTree(app));
  });

  it('refuses an output path that cannot be made with IO, leaving nothing', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);
    await createArchive(app, join(work, 'a.tar.gz'), join(work, 'a.tar'));
    await writeFile(join(work, 'not-a-folder'), 'x');
    await expectCode(gunzipFile(join(work, 'a.tar.gz'), join(work, 'not-a-folder', 'b.tar')), 'IO');
    await expectCode(writeTar(app, join(work, 'not-a-folder', 'sub', 'c.tar')), 'IO');
    expect((await readdir(work)).sort()).toEqual(['a.tar', 'a.tar.gz', 'app', 'not-a-folder']);
  });

  it('lists the archive with every entry, in path order, with normalised modes', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);
    const entries = await scanBundle(app);
    const tar = await tarToBuffer(app, entries);

    expect(tar.length).toBe(tarSize(entries));
    expect(await listTar(tar)).toEqual(entries);
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual([...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const file of FIXTURE_FILES) {
      expect(entries.find((e) => e.path === file.path)).toEqual({ path: file.path, type: 'file', mode: file.exec ? 0o755 : 0o644, size: file.content.length });
    }
    for (const link of FIXTURE_LINKS) {
      expect(entries.find((e) => e.path === link.path)).toMatchObject({ type: 'symlink', linkname: link.target });
    }
  });
});

describe('determinism', () => {
  it('gives byte-identical tars for the same folder archived twice', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);
    const first = await writeTar(app, join(work, '1.tar'));
    const second = await writeTar(app, join(work, '2.tar'));
    expect(second.tar).toEqual(first.tar);
    expect(await readFile(join(work, '2.tar'))).toEqual(await readFile(join(work, '1.tar')));
  });

  it('gives the same bytes and sha256 for a copy made in another order, with other mtimes and umask', async () => {
    const work = await tempDir();
    await writeFixtureBundle(join(work, 'a'));
    await writeFixtureBundle(join(work, 'b'), true);
    const a = await createArchive(join(work, 'a'), join(work, 'a.tar.gz'), join(work, 'a.tar'));
    const b = await createArchive(join(work, 'b'), join(work, 'b.tar.gz'), join(work, 'b.tar'));
    expect(b.tar).toEqual(a.tar);
    expect(b.archive).toEqual(a.archive);
    expect(await readFile(join(work, 'b.tar.gz'))).toEqual(await readFile(join(work, 'a.tar.gz')));
  });

  it('changes the digest when only an exec bit changes', async () => {
    const work = await tempDir();
    const app = join(work, 'app');
    await writeFixtureBundle(app);
    const before = digestBuffer(await tarToBuffer(app, await scanBundle(app)));
    await chmod(join(app, 'resources/app.asar'), 0o755);
    const after = digestBuffer(await tarToBuffer(app, await scanBundle(app)));
    expect(after.sha256).not.toBe(before.sha256);
  });
});

describe('bundle folders that cannot be archived', () => {
  it('refuses a missing folder with BUNDLE_NOT_FOUND and an empty one with BUNDLE_EMPTY', async () => {
    const work = await tempDir();
    await expectCode(scanBundle(join(work, 'nope')), 'BUNDLE_NOT_FOUND');
    await writeFile(join(work, 'file'), 'x');
    await expectCode(scanBundle(join(work, 'file')), 'BUNDLE_NOT_FOUND');
    await mkdir(join(work, 'empty'));
    await expectCode(createArchive(join(work, 'empty'), join(work, 'e.tar.gz'), join(work, 'e.tar')), 'BUNDLE_EMPTY');
    expect(await readdir(work)).toEqual(['empty', 'file']);
  });

  it('refuses a file name with a backslash, which Windows would read as a folder', async () => {
    const work = await tempDir();
    await mkdir(join(work, 'app'));
    await writeFile(join(work, 'app', 'a\\b.txt'), 'x');
    await expectCode(scanBundle(join(work, 'app')), 'UNSUPPORTED_ENTRY');
  });
});
