import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyPatchFromFolder,
  createArchive,
  createPatch,
  digestBuffer,
  ENTRY_LIST_SCHEMA,
  extractArchive,
  parseEntryList,
  serializeEntryList,
  type Digest,
  type TarEntry,
} from '../src/index.js';
import { writeFixtureBundle } from './bundle-fixture.js';
import { cleanTempDirs, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

/** A published v1 (its entries and tar digest, as `tufup-repo add` has them) and its install folder. */
async function published(): Promise<{ work: string; entries: TarEntry[]; tar: Digest; install: string }> {
  const work = await tempDir();
  await writeFixtureBundle(join(work, 'v1'));
  const { entries, tar } = await createArchive(join(work, 'v1'), join(work, 'v1.tar.gz'), join(work, 'v1.tar'));
  const install = join(work, 'install');
  await extractArchive(join(work, 'v1.tar.gz'), install);
  return { work, entries, tar, install };
}

/** An entry list file with any content, gzip-compressed as the real ones are. */
const listFile = (value: unknown): Buffer => gzipSync(JSON.stringify(value));

describe('a version’s entry list target', () => {
  it('round-trips the archive’s entries, symlinks with their targets', async () => {
    const { entries, tar } = await published();
    expect(entries.some((e) => e.type === 'symlink')).toBe(true);
    expect(parseEntryList(serializeEntryList(tar, entries), tar, 'app-1.0.0.entries')).toEqual(entries);
  });

  it('is small: a few dozen bytes per entry, compressed', async () => {
    const { entries, tar } = await published();
    const bytes = serializeEntryList(tar, entries);
    expect(bytes.length).toBeLessThan(JSON.stringify(entries).length / 2);
  });

  it('is the same bytes for the same archive (publishing twice changes nothing)', async () => {
    const { entries, tar } = await published();
    expect(serializeEntryList(tar, entries).equals(serializeEntryList(tar, structuredClone(entries)))).toBe(true);
  });

  it('rebuilds the base from an install folder an installer added files to, where the scan does not', async () => {
    const { work, entries, tar, install } = await published();
    await writeFixtureBundle(join(work, 'v2'));
    await writeFile(join(work, 'v2', 'MyApp'), 'v2 launcher');
    const v2 = await createArchive(join(work, 'v2'), join(work, 'v2.tar.gz'), join(work, 'v2.tar'));
    const patchPath = join(work, 'v2.patch');
    await writeFile(patchPath, await createPatch(await readFile(join(work, 'v1.tar')), await readFile(join(work, 'v2.tar'))));
    await writeFile(join(install, 'Uninstall MyApp.exe'), 'MZ uninstaller');
    const outPath = join(work, 'out.tar');
    await expectCode(applyPatchFromFolder({ patchPath, installDir: install, outPath, expected: v2.tar }), 'PATCH_BASE_MISMATCH');
    const baseEntries = parseEntryList(serializeEntryList(tar, entries), tar, 'app-1.0.0.entries');
    expect(await applyPatchFromFolder({ patchPath, installDir: install, baseEntries, outPath, expected: v2.tar })).toEqual(v2.tar);
    expect(digestBuffer(await readFile(outPath))).toEqual(v2.tar);
  });

  it('only rebuilds the tar it was signed for: a list that reads other files still fails the signed digest', async () => {
    const { work, entries, install } = await published();
    await writeFixtureBundle(join(work, 'v2'));
    const v2 = await createArchive(join(work, 'v2'), join(work, 'v2.tar.gz'), join(work, 'v2.tar'));
    const patchPath = join(work, 'v2.patch');
    await writeFile(patchPath, await createPatch(await readFile(join(work, 'v1.tar')), await readFile(join(work, 'v2.tar'))));
    // Same size (so it passes the parser's checks) but another file of the folder under one entry's name.
    const swapped = entries.map((e) => ({ ...e }));
    const a = swapped.findIndex((e) => e.type === 'file');
    const b = swapped.findIndex((e, i) => i > a && e.type === 'file');
    const [first, second] = [swapped[a]!, swapped[b]!];
    [first.path, second.path] = [second.path, first.path];
    [first.size, second.size, first.mode, second.mode] = [second.size, first.size, second.mode, first.mode];
    await expectCode(applyPatchFromFolder({ patchPath, installDir: install, baseEntries: swapped, outPath: join(work, 'out.tar'), expected: v2.tar }), 'PATCH_BASE_MISMATCH');
  });

  describe('refuses, with INVALID_ENTRY_LIST naming the target', () => {
    const cases: [string, (tar: Digest, entries: TarEntry[]) => Buffer][] = [
      ['bytes that are not gzip', () => Buffer.from('{"schema":1}')],
      ['gzip that is not JSON', () => gzipSync('entries')],
      ['a JSON array', (tar, entries) => listFile(entries)],
      ['a newer schema', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA + 1, tar, entries })],
      ['the list of another tar', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar: { ...tar, sha256: 'f'.repeat(64) }, entries })],
      ['no entries', (tar) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: [] })],
      ['entries that add up to another size', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: entries.slice(1) })],
      ['an entry climbing out with ..', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: [...entries.slice(1), { path: '../outside', type: 'directory', mode: 0o755, size: 0 }] })],
      ['an absolute entry', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: [{ ...entries[0], path: '/etc/passwd' }, ...entries.slice(1)] })],
      ['a device entry', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: [{ ...entries[0], type: 'device' }, ...entries.slice(1)] })],
      ['a negative size', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: [{ ...entries[0], size: -1 }, ...entries.slice(1)] })],
      ['a symlink without a target', (tar, entries) => listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: entries.map((e) => (e.type === 'symlink' ? { ...e, linkname: undefined } : e)) })],
    ];
    it.each(cases)('%s', async (_what, make) => {
      const { entries, tar } = await published();
      const error = await expectCode(Promise.resolve().then(() => parseEntryList(make(tar, entries), tar, 'linux-x64/app-1.0.0.entries')), 'INVALID_ENTRY_LIST');
      expect(error.message).toContain('linux-x64/app-1.0.0.entries');
    });

    it('a list that inflates past 64 MiB, without inflating it all', async () => {
      const { tar } = await published();
      const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024, 0x20));
      await expectCode(Promise.resolve().then(() => parseEntryList(bomb, tar, 'x.entries')), 'INVALID_ENTRY_LIST');
    });
  });

  it('refuses a list no client would install (a symlink out of the folder) with UNSAFE_ENTRY, even when it adds up', async () => {
    const work = await tempDir();
    await mkdir(join(work, 'app'));
    await writeFile(join(work, 'app', 'main.js'), 'x');
    await symlink('main.js', join(work, 'app', 'link'));
    const { entries, tar } = await createArchive(join(work, 'app'), join(work, 'a.tar.gz'), join(work, 'a.tar'));
    const out = entries.map((e) => (e.type === 'symlink' ? { ...e, linkname: '../../../../etc/passwd' } : e));
    // Same tar size: a link's target lives in its header block.
    await expectCode(Promise.resolve().then(() => parseEntryList(listFile({ schema: ENTRY_LIST_SCHEMA, tar, entries: out }), tar, 'x.entries')), 'UNSAFE_ENTRY');
  });
});
