import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createReadStream } from 'node:fs';
import { craftTar, rejectionOf, type CraftEntry } from '@tufup/testkit';
import { BundleError, createArchive, extractTar, scanBundle, validateTar } from '../src/index.js';
import { chunksOf, cleanTempDirs, tempDir } from './helpers.js';

// One set of rules, three places: the folder a publisher adds (scanBundle), a published tar (what
// `tufup-repo verify` reads) and the client's extraction. Whatever one refuses, the others refuse, each
// naming the entry.

afterEach(cleanTempDirs);

const file = (path: string, content = 'x'): CraftEntry => ({ path, content });

/** Archives every client refuses, each with the entry its refusal must name. */
const refusedTars: [string, CraftEntry[], string][] = [
  ['an absolute symlink', [{ path: 'lib/passwd', type: '2', linkname: '/etc/passwd' }], 'lib/passwd'],
  ['a symlink climbing out', [{ path: 'sub/', type: '5' }, { path: 'sub/up', type: '2', linkname: '../../..' }], 'sub/up'],
  ['a symlink chain that escapes once all links are known', [{ path: 'y/x', type: '2', linkname: '../d/..' }, { path: 'd', type: '2', linkname: '.' }], 'y/x'],
  ['a path climbing out', [file('../x')], '../x'],
  ['a file written through a symlink', [{ path: 'sub/', type: '5' }, { path: 'l', type: '2', linkname: 'sub' }, file('l/evil.txt')], 'l/evil.txt'],
  ['a setuid file', [{ path: 'suid', mode: 0o4755, content: '#!/bin/sh\n' }], 'suid'],
  ['a device', [{ path: 'null', type: '3' }], 'null'],
  ['a duplicate', [file('a.txt'), file('./a.txt')], 'a.txt'],
  ['a file inside a file', [file('a'), file('a/b')], 'a/b'],
];

describe('a published tar (tufup-repo verify) and the client extraction refuse the same entries', () => {
  it.each(refusedTars)('%s', async (_what, entries, named) => {
    const tar = craftTar([file('first.txt'), ...entries]);
    const verified = await rejectionOf(validateTar(chunksOf(tar), 'linux-x64/app-1.0.0.tar.gz'), BundleError);
    const extracted = await rejectionOf(extractTar(chunksOf(tar), join(await tempDir(), 'out')), BundleError);
    expect([verified.code, extracted.code]).toEqual(['UNSAFE_ENTRY', 'UNSAFE_ENTRY']);
    const verifiedPrefix = `the entry "${named}" of linux-x64/app-1.0.0.tar.gz `;
    const extractedPrefix = `the archive entry "${named}" `;
    expect(verified.message.startsWith(verifiedPrefix)).toBe(true);
    expect(extracted.message.startsWith(extractedPrefix)).toBe(true);
    // The same rule, in the same words after the entry's name.
    expect(verified.message.slice(verifiedPrefix.length).split(';')[0]).toBe(extracted.message.slice(extractedPrefix.length).split(';')[0]);
  });

  it('pass a bundle with relative links, nested folders and executables', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'Versions', 'A', 'Resources'), { recursive: true });
    await writeFile(join(dir, 'Versions', 'A', 'app'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('A', join(dir, 'Versions', 'Current'));
    await symlink('Versions/Current/Resources', join(dir, 'Resources'));
    const out = await tempDir();
    await createArchive(dir, join(out, 'a.tar.gz'), join(out, 'a.tar'));
    await validateTar(createReadStream(join(out, 'a.tar')), 'a.tar');
    await extractTar(createReadStream(join(out, 'a.tar')), join(out, 'x'));
  });
});

describe('a bundle folder about to be published (tufup-repo add) is refused what clients refuse', () => {
  it.each<[string, (dir: string) => Promise<void>, string, RegExp]>([
    ['a symlink to /etc/passwd', (dir) => symlink('/etc/passwd', join(dir, 'lib', 'passwd')), 'lib/passwd', /is a symlink to "\/etc\/passwd", outside the folder/],
    ['a symlink to ../../..', (dir) => symlink('../../..', join(dir, 'lib', 'up')), 'lib/up', /is a symlink to "\.\.\/\.\.\/\.\.", outside the folder/],
    ['two links that escape together', async (dir) => {
      await symlink('../d/..', join(dir, 'lib', 'x'));
      await symlink('.', join(dir, 'd'));
    }, 'lib/x', /is a symlink to "\.\.\/d\/\.\.", outside the folder/],
  ])('%s', async (_what, make, named, reason) => {
    const dir = await tempDir();
    await mkdir(join(dir, 'lib'));
    await writeFile(join(dir, 'app'), 'x');
    await make(dir);
    const error = await rejectionOf(scanBundle(dir), BundleError);
    expect(error.code).toBe('UNSAFE_ENTRY');
    expect(error.message).toMatch(new RegExp(`^the entry "${named}" of the bundle folder ${dir} `));
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('no client would install it');
  });
});
