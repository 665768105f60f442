import { chmod, lutimes, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A deterministic pseudo-random filler, so binary-looking content is the same in every run. */
export function filler(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const LONG_DIR = `deep/${'a'.repeat(60)}/${'b'.repeat(60)}`;
const VERY_LONG_DIR = Array.from({ length: 6 }, (_, i) => `${String(i)}${'x'.repeat(49)}`).join('/');
const LONG_NAME = `${'n'.repeat(150)}.bin`;
const LONG_LINK_TARGET = `../${LONG_DIR}/file.txt`;

interface FixtureFile {
  path: string;
  content: Buffer;
  exec: boolean;
}

/** Files of the fixture app: an executable, a framework, long and non-ASCII paths. */
export const FIXTURE_FILES: readonly FixtureFile[] = [
  { path: 'MyApp', content: filler(40_000, 1), exec: true },
  { path: 'resources/app.asar', content: filler(120_000, 2), exec: false },
  { path: 'resources/empty.txt', content: Buffer.alloc(0), exec: false },
  { path: 'Frameworks/My.framework/Versions/A/My', content: filler(30_000, 3), exec: true },
  { path: 'Frameworks/My.framework/Versions/A/Resources/Info.plist', content: Buffer.from('<plist version="1.0"/>\n'), exec: false },
  { path: `${LONG_DIR}/file.txt`, content: Buffer.from('more than 100 characters of path\n'), exec: false },
  { path: `${VERY_LONG_DIR}/file.txt`, content: Buffer.from('more than 255 characters of path\n'), exec: false },
  { path: `names/${LONG_NAME}`, content: filler(700, 4), exec: false },
  { path: 'locales/日本語.pak', content: Buffer.from('こんにちは\n'), exec: false },
  { path: 'ünïcödé/naïve café.txt', content: Buffer.from('crème brûlée\n'), exec: false },
  { path: 'ünïcödé/🚀.sh', content: Buffer.from('#!/bin/sh\necho launch\n'), exec: true },
];

/** Symlinks of the fixture: the macOS framework chain, and a link whose target is over 100 characters. */
export const FIXTURE_LINKS: readonly { path: string; target: string }[] = [
  { path: 'Frameworks/My.framework/Versions/Current', target: 'A' },
  { path: 'Frameworks/My.framework/My', target: 'Versions/Current/My' },
  { path: 'Frameworks/My.framework/Resources', target: 'Versions/Current/Resources' },
  { path: 'names/far-link', target: LONG_LINK_TARGET },
];

export const FIXTURE_EMPTY_DIRS: readonly string[] = ['resources/empty-dir', 'logs'];

/** Paths in the fixture longer than ustar's 100 and 255 limits (for assertions). */
export const LONG_PATHS = { over100: `${LONG_DIR}/file.txt`, over255: `${VERY_LONG_DIR}/file.txt`, longName: `names/${LONG_NAME}` };

/**
 * Writes the fixture app into `root`. `scrambled` writes the same content in reverse order, with other
 * mtimes and the modes a `umask 077` user would get, which must not change the archive.
 */
export async function writeFixtureBundle(root: string, scrambled = false): Promise<void> {
  const files = scrambled ? [...FIXTURE_FILES].reverse() : FIXTURE_FILES;
  const links = scrambled ? [...FIXTURE_LINKS].reverse() : FIXTURE_LINKS;
  const dirs = scrambled ? [...FIXTURE_EMPTY_DIRS].reverse() : FIXTURE_EMPTY_DIRS;
  const dirMode = scrambled ? 0o700 : 0o755;
  await mkdir(root, { recursive: true });
  for (const dir of dirs) await mkdir(join(root, dir), { recursive: true });
  for (const file of files) {
    const full = join(root, file.path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, file.content);
    await chmod(full, file.exec ? (scrambled ? 0o700 : 0o755) : scrambled ? 0o600 : 0o644);
  }
  for (const link of links) await symlink(link.target, join(root, link.path));
  const when = scrambled ? new Date('2001-02-03T04:05:06Z') : new Date('2024-06-01T12:00:00Z');
  for (const file of files) await utimes(join(root, file.path), when, when);
  for (const link of links) await lutimes(join(root, link.path), when, when);
  const allDirs = new Set<string>(dirs);
  for (const file of files) for (let d = dirname(file.path); d !== '.'; d = dirname(d)) allDirs.add(d);
  for (const dir of allDirs) await chmod(join(root, dir), dirMode);
}
