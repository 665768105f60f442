import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { craftTar, openFdsOnceSettled, readTree, type CraftEntry } from '@tufup/testkit';
import { digestBuffer, extractArchive, extractTar, type BundleErrorCode } from '../src/index.js';
import { chunksOf, cleanTempDirs, exists, expectCode, tempDir } from './helpers.js';

afterEach(cleanTempDirs);

/** Extracts `tar` into `<parent>/out` and returns the parent, so a test can see what was left behind. */
async function extractInto(tar: Buffer, options: Parameters<typeof extractTar>[2] = {}): Promise<{ parent: string; dest: string; result: Promise<unknown> }> {
  const parent = await tempDir();
  const dest = join(parent, 'out');
  return { parent, dest, result: extractTar(chunksOf(tar), dest, options) };
}

const file = (path: string, content = 'x'): CraftEntry => ({ path, content });

const refused: [string, CraftEntry[]][] = [
  ['a path climbing out with ../x', [file('ok.txt'), file('../x')]],
  ['an absolute path /abs', [file('/abs')]],
  ['a path that climbs out midway, a/../../x', [file('a/../../x')]],
  ['a Windows drive path', [file('C:/x')]],
  ['a symlink to ../outside', [{ path: 'link', type: '2', linkname: '../outside' }]],
  ['a symlink in a folder climbing out, sub/link -> ../../x', [{ path: 'sub/', type: '5' }, { path: 'sub/link', type: '2', linkname: '../../x' }]],
  ['an absolute symlink', [{ path: 'link', type: '2', linkname: '/etc/passwd' }]],
  [
    // y/x -> ../d/.. stays inside while d is a folder; once d -> . arrives, y/x resolves to the parent.
    'a symlink chain that only escapes once all links are known',
    [{ path: 'y/x', type: '2', linkname: '../d/..' }, { path: 'd', type: '2', linkname: '.' }],
  ],
  [
    // On macOS and Windows `D` is the link `d`, so x -> D/.. -> ./.. leads out.
    'a symlink that escapes through another link on a case-insensitive disk',
    [{ path: 'd', type: '2', linkname: '.' }, { path: 'x', type: '2', linkname: 'D/..' }],
  ],
  ['a file written through a symlink spelled in another case', [{ path: 'sub/', type: '5' }, { path: 'l', type: '2', linkname: 'sub' }, file('L/evil.txt')]],
  ['a symlink that replaces a folder made for earlier entries', [file('a/x'), { path: 'a', type: '2', linkname: '.' }]],
  ['a file that replaces a folder made for earlier entries', [file('a/x'), file('a')]],
  ['a symlink loop', [{ path: 'a', type: '2', linkname: 'b' }, { path: 'b', type: '2', linkname: 'a' }]],
  ['a file written through a symlink', [{ path: 'sub/', type: '5' }, { path: 'l', type: '2', linkname: 'sub' }, file('l/evil.txt')]],
  ['a file written through a symlink that points outside', [{ path: 'l', type: '2', linkname: '.' }, file('l/x')]],
  ['a hard link to outside', [{ path: 'h', type: '1', linkname: '../../etc/passwd' }]],
  ['a hard link to an absolute path', [{ path: 'h', type: '1', linkname: '/etc/passwd' }]],
  ['a hard link to a path that is not a member', [file('a.txt'), { path: 'h', type: '1', linkname: 'missing.txt' }]],
  ['a hard link to a symlink member', [{ path: 'l', type: '2', linkname: 'a.txt' }, file('a.txt'), { path: 'h', type: '1', linkname: 'l' }]],
  ['a character device', [{ path: 'null', type: '3' }]],
  ['a block device', [{ path: 'sda', type: '4' }]],
  ['a FIFO', [{ path: 'pipe', type: '6' }]],
  ['a setuid file', [{ path: 'suid', mode: 0o4755, content: '#!/bin/sh\n' }]],
  ['a setgid file', [{ path: 'sgid', mode: 0o2755, content: '#!/bin/sh\n' }]],
  ['a setgid folder', [{ path: 'dir/', type: '5', mode: 0o2755 }]],
  ['a duplicate file entry', [file('a.txt', 'first'), file('a.txt', 'second')]],
  ['a duplicate written as ./a.txt', [file('a.txt', 'first'), file('./a.txt', 'second')]],
  ['a file and a symlink of the same path', [{ path: 'a', type: '2', linkname: 'b' }, file('b'), file('a')]],
];

describe('extraction refuses unsafe entries and leaves nothing behind', () => {
  it.each(refused)('refuses %s with UNSAFE_ENTRY', async (_what, entries) => {
    // A good file first, so a partial folder would have existed had the failure not cleaned it up.
    const { parent, dest, result } = await extractInto(craftTar([file('first.txt', 'good'), ...entries]));
    await expectCode(result, 'UNSAFE_ENTRY');
    expect(await exists(dest)).toBe(false);
    expect(await readdir(parent)).toEqual([]);
  });

  it('did not write outside the destination while refusing', async () => {
    const parent = await tempDir();
    const dest = join(parent, 'deep', 'out');
    await expectCode(extractTar(chunksOf(craftTar([file('../escaped.txt'), file('../../escaped2.txt')])), dest), 'UNSAFE_ENTRY');
    expect(await exists(join(parent, 'deep', 'escaped.txt'))).toBe(false);
    expect(await exists(join(parent, 'escaped2.txt'))).toBe(false);
    expect(await readdir(join(parent, 'deep'))).toEqual([]);
  });

  it('refuses bytes that are not a tar with UNSAFE_ENTRY and leaves nothing', async () => {
    const { parent, result } = await extractInto(Buffer.from('this is not a tar archive at all, just text'.repeat(30)));
    await expectCode(result, 'UNSAFE_ENTRY');
    expect(await readdir(parent)).toEqual([]);
  });

  it('refuses a tar cut off inside a file and leaves nothing', async () => {
    const whole = craftTar([file('big.bin', 'y'.repeat(5000))]);
    const { parent, result } = await extractInto(whole.subarray(0, 2048));
    await expectCode(result, ['UNSAFE_ENTRY', 'HASH_MISMATCH']);
    expect(await readdir(parent)).toEqual([]);
  });
});

describe('extraction of safe archives', () => {
  it('accepts links that stay inside, hard links to members, and ./-prefixed paths', async () => {
    const tar = craftTar([
      { path: './', type: '5' },
      { path: 'A/', type: '5' },
      file('A/lib.so', 'library'),
      { path: 'Current', type: '2', linkname: 'A' },
      { path: 'lib.so', type: '2', linkname: 'Current/lib.so' },
      { path: 'A/self', type: '2', linkname: '../A/./lib.so' },
      { path: 'copy.so', type: '1', linkname: 'A/lib.so' },
      { path: './tool', mode: 0o755, content: '#!/bin/sh\n' },
    ]);
    const { dest, result } = await extractInto(tar);
    expect(await result).toEqual(digestBuffer(tar));
    expect(await readFile(join(dest, 'lib.so'), 'utf8')).toBe('library');
    expect(await readFile(join(dest, 'copy.so'), 'utf8')).toBe('library');
    expect(await readTree(dest)).toMatchObject({ tool: { type: 'file', mode: 0o755 }, Current: { type: 'symlink', target: 'A' } });
  });

  it('reports progress as bytes of tar read, ending at the tar size', async () => {
    const tar = craftTar([file('a.bin', 'z'.repeat(50_000)), file('b.bin', 'w'.repeat(20_000))]);
    const seen: number[] = [];
    const { result } = await extractInto(tar, { onProgress: (bytes) => seen.push(bytes) });
    await result;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(tar.length);
  });
});

describe('extraction destinations and digests', () => {
  it('refuses an existing destination with DESTINATION_EXISTS and leaves it untouched', async () => {
    const parent = await tempDir();
    const dest = join(parent, 'out');
    await mkdir(join(dest, 'keep'), { recursive: true });
    await writeFile(join(dest, 'keep', 'mine.txt'), 'do not touch');
    const before = await readTree(dest);

    await expectCode(extractTar(chunksOf(craftTar([file('keep/mine.txt', 'overwritten')])), dest), 'DESTINATION_EXISTS');
    expect(await readTree(dest)).toEqual(before);
    expect(await readdir(parent)).toEqual(['out']);
  });

  it('refuses an existing empty destination too, since extraction only makes fresh folders', async () => {
    const parent = await tempDir();
    await mkdir(join(parent, 'out'));
    await expectCode(extractTar(chunksOf(craftTar([file('a')])), join(parent, 'out')), 'DESTINATION_EXISTS');
    expect(await readdir(join(parent, 'out'))).toEqual([]);
  });

  it('refuses a tar whose digest is not the expected one with HASH_MISMATCH and leaves nothing', async () => {
    const tar = craftTar([file('a.txt', 'hello')]);
    const other = digestBuffer(craftTar([file('a.txt', 'hellO')]));
    const { parent, result } = await extractInto(tar, { expected: other });
    await expectCode(result, 'HASH_MISMATCH');
    expect(await readdir(parent)).toEqual([]);
  });

  it('refuses a tar of the right hash but wrong declared size with HASH_MISMATCH', async () => {
    const tar = craftTar([file('a.txt', 'hello')]);
    const { sha256, size } = digestBuffer(tar);
    const { parent, result } = await extractInto(tar, { expected: { sha256, size: size + 1 } });
    await expectCode(result, 'HASH_MISMATCH');
    expect(await readdir(parent)).toEqual([]);
  });

  it('refuses a missing archive file with IO and leaves nothing', async () => {
    const parent = await tempDir();
    await expectCode(extractArchive(join(parent, 'missing.tar.gz'), join(parent, 'out')), 'IO');
    expect(await readdir(parent)).toEqual([]);
  });
});

describe('a refused archive is let go', () => {
  // An open handle keeps Windows from deleting the refused download, and a client that retries leaks one per try.
  const cases: [string, BundleErrorCode, (parent: string) => Promise<unknown>][] = [
    ['an entry is refused early', 'UNSAFE_ENTRY', () => Promise.resolve()],
    ['the destination exists before a byte is read', 'DESTINATION_EXISTS', (parent) => mkdir(join(parent, 'out'))],
  ];
  it.skipIf(process.platform !== 'linux').each(cases)('closes the .tar.gz it was reading when %s', async (_when, code, prepare) => {
    const parent = await tempDir();
    const archive = join(parent, 'bad.tar.gz');
    // Incompressible content after the unsafe entry, so the file is far from read when extraction stops.
    await writeFile(archive, gzipSync(craftTar([file('../evil'), { path: 'big', content: randomBytes(2 * 1024 * 1024) }])));
    await prepare(parent);
    await expectCode(extractArchive(archive, join(parent, 'out')), code);
    expect(await openFdsOnceSettled(archive)).toBe(0);
  });
});

describe('cancelling an extraction', () => {
  const big = (): Buffer => craftTar([file('a.bin', 'a'.repeat(60_000)), file('b.bin', 'b'.repeat(60_000))]);

  it('stops mid-way when the signal fires, rejects with its reason and leaves nothing', async () => {
    const controller = new AbortController();
    const reason = new Error('the user closed the window');
    const { parent, dest, result } = await extractInto(big(), {
      signal: controller.signal,
      onProgress: (bytes) => {
        if (bytes >= 7_000) controller.abort(reason);
      },
    });
    await expect(result).rejects.toBe(reason);
    expect(await exists(dest)).toBe(false);
    expect(await readdir(parent)).toEqual([]);
  });

  it('stops while the source waits for bytes that never come', async () => {
    const controller = new AbortController();
    const tar = big();
    async function* stalled(): AsyncGenerator<Buffer> {
      yield tar.subarray(0, 10_000);
      controller.abort('stop');
      await new Promise<never>(() => undefined);
    }
    const parent = await tempDir();
    const result = extractTar(stalled(), join(parent, 'out'), { signal: controller.signal });
    await expect(result).rejects.toBe('stop');
    expect(await readdir(parent)).toEqual([]);
  });

  it('makes nothing at all when the signal has already fired', async () => {
    const parent = await tempDir();
    const reason = new Error('already cancelled');
    const result = extractTar(chunksOf(big()), join(parent, 'deep', 'out'), { signal: AbortSignal.abort(reason) });
    await expect(result).rejects.toBe(reason);
    expect(await readdir(parent)).toEqual([]);
  });

  it('finishes normally when the signal never fires', async () => {
    const tar = big();
    const { dest, result } = await extractInto(tar, { signal: new AbortController().signal });
    expect(await result).toEqual(digestBuffer(tar));
    expect(await readFile(join(dest, 'b.bin'), 'utf8')).toBe('b'.repeat(60_000));
  });

  it.skipIf(process.platform !== 'linux')('stops an archive mid-way, closes the .tar.gz and leaves nothing', async () => {
    const parent = await tempDir();
    const archive = join(parent, 'big.tar.gz');
    await writeFile(archive, gzipSync(craftTar([{ path: 'big', content: randomBytes(2 * 1024 * 1024) }])));
    const controller = new AbortController();
    const reason = new Error('cancelled by the app');
    const result = extractArchive(archive, join(parent, 'out'), {
      signal: controller.signal,
      onProgress: (bytes) => {
        if (bytes > 100_000) controller.abort(reason);
      },
    });
    await expect(result).rejects.toBe(reason);
    expect(await readdir(parent)).toEqual(['big.tar.gz']);
    expect(await openFdsOnceSettled(archive)).toBe(0);
  });
});
