import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeFolder, syncMadeFolders } from './durable.js';
import { BundleError, ioError } from './error.js';
import { Hasher, type Digest } from './hash.js';
import { validateBundleEntries } from './validate.js';

/** The kinds of entry a bundle archive may hold. */
export type TarEntryType = 'file' | 'directory' | 'symlink';

/** One archive entry without its content: enough to rebuild the tar from a folder byte for byte. */
export interface TarEntry {
  /** Relative, `/`-separated, no trailing slash. */
  path: string;
  type: TarEntryType;
  /** Permission bits only (0o755 or 0o644 for files, 0o755 for folders, 0o777 for links). */
  mode: number;
  /** Content length; 0 for folders and links. */
  size: number;
  /** Link target, for symlinks. */
  linkname?: string;
}

const BLOCK = 512;
const EOF_BLOCKS = 2 * BLOCK;
/** Fixed mtime for every entry, so the same folder always gives the same bytes. */
const MTIME = 0;
const MAX_OCTAL_SIZE = 0o77777777777;

/**
 * Lists a bundle folder as archive entries: sorted by path, modes normalised to what matters; refuses
 * (UNSAFE_ENTRY) what the client's extraction would, such as a symlink leading out of the folder.
 */
export async function scanBundle(dir: string): Promise<TarEntry[]> {
  let rootStat;
  try {
    rootStat = await lstat(dir);
  } catch (cause) {
    throw new BundleError('BUNDLE_NOT_FOUND', `the bundle folder ${dir} does not exist`, { cause });
  }
  if (!rootStat.isDirectory()) throw new BundleError('BUNDLE_NOT_FOUND', `${dir} is not a folder`);
  const entries: TarEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? dir : join(dir, rel));
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      checkEntryPath(path);
      const full = join(dir, path);
      const st = await lstat(full);
      if (st.isDirectory()) {
        entries.push({ path, type: 'directory', mode: 0o755, size: 0 });
        await walk(path);
      } else if (st.isFile()) {
        if (st.size > MAX_OCTAL_SIZE) throw new BundleError('TOO_LARGE', `${full} is larger than 8 GiB`);
        entries.push({ path, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size });
      } else if (st.isSymbolicLink()) {
        entries.push({ path, type: 'symlink', mode: 0o777, size: 0, linkname: await readlink(full) });
      } else {
        throw new BundleError('UNSUPPORTED_ENTRY', `${full} is not a file, folder or symlink; bundles cannot hold it`);
      }
    }
  };
  await walk('');
  if (entries.length === 0) throw new BundleError('BUNDLE_EMPTY', `the bundle folder ${dir} is empty`);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  // The rules every client extracts by: a bundle they would refuse (a symlink out of it) is refused here.
  validateBundleEntries(entries, `the bundle folder ${dir}`);
  return entries;
}

function checkEntryPath(path: string): void {
  if (path.includes('\\') || path.includes('\0')) {
    throw new BundleError('UNSUPPORTED_ENTRY', `"${path}" has a backslash or NUL in its name; bundles cannot hold it`);
  }
}

/** The exact byte length of the tar that {@link tarChunks} writes for these entries. */
export function tarSize(entries: readonly TarEntry[]): number {
  let size = EOF_BLOCKS;
  for (const entry of entries) size += headerBytes(entry).length + padded(entry.type === 'file' ? entry.size : 0);
  return size;
}

export function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Throws CONTENT_MISMATCH unless `full` is still what `entry` says: same kind, link target, file size. */
async function checkOnDisk(full: string, entry: TarEntry): Promise<void> {
  if (entry.type === 'symlink') {
    const target = await readlink(full).catch(() => undefined);
    if (target !== entry.linkname) throw mismatch(entry.path, 'is not the same symlink');
  } else {
    const st = await lstat(full).catch(() => undefined);
    if (entry.type === 'directory' && !st?.isDirectory()) throw mismatch(entry.path, 'is not a folder');
    if (entry.type === 'file' && (!st?.isFile() || st.size !== entry.size)) throw mismatch(entry.path, 'is missing or has another size');
  }
}

/**
 * Yields the tar of `dir` following `entries`: paths, types and modes from the list, content and link
 * targets from the disk. Throws CONTENT_MISMATCH as soon as the disk disagrees with the list.
 */
export async function* tarChunks(dir: string, entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const full = join(dir, entry.path);
    await checkOnDisk(full, entry);
    yield headerBytes(entry);
    if (entry.type !== 'file') continue;
    let read = 0;
    for await (const chunk of createReadStream(full) as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > entry.size) throw mismatch(entry.path, 'grew while it was read');
      yield chunk;
    }
    if (read !== entry.size) throw mismatch(entry.path, 'shrank while it was read');
    const pad = padded(entry.size) - entry.size;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(EOF_BLOCKS);
}

function mismatch(path: string, what: string): BundleError {
  return new BundleError('CONTENT_MISMATCH', `"${path}" ${what}: the folder no longer matches the archive it came from`);
}

/**
 * Builds the tar in memory; for a patch base, so no second copy of the app lands on disk. Files are read
 * straight into the result, so building it leaves no chunks behind for the garbage collector.
 */
export async function tarToBuffer(dir: string, entries: readonly TarEntry[]): Promise<Buffer> {
  const out = Buffer.allocUnsafe(tarSize(entries));
  let offset = 0;
  for (const entry of entries) {
    const full = join(dir, entry.path);
    await checkOnDisk(full, entry);
    offset += headerBytes(entry).copy(out, offset);
    if (entry.type !== 'file') continue;
    const handle = await open(full, 'r').catch(() => {
      throw mismatch(entry.path, 'cannot be read');
    });
    try {
      let read = 0;
      while (read < entry.size) {
        const { bytesRead } = await handle.read(out, offset + read, entry.size - read, read);
        if (bytesRead === 0) throw mismatch(entry.path, 'shrank while it was read');
        read += bytesRead;
      }
      if ((await handle.read(Buffer.alloc(1), 0, 1, read)).bytesRead !== 0) throw mismatch(entry.path, 'grew while it was read');
    } finally {
      await handle.close();
    }
    offset += entry.size;
    const end = offset - entry.size + padded(entry.size);
    out.fill(0, offset, end);
    offset = end;
  }
  out.fill(0, offset);
  if (offset + EOF_BLOCKS !== out.length) throw new BundleError('IO', `tar of ${dir} came out at ${offset + EOF_BLOCKS} bytes, not ${out.length}`);
  return out;
}

/** The tar's digest without keeping it: checks whether a folder still matches an archive. */
export async function digestTarOf(dir: string, entries: readonly TarEntry[]): Promise<Digest> {
  const hasher = new Hasher();
  for await (const chunk of tarChunks(dir, entries)) hasher.update(chunk);
  return hasher.digest();
}

/**
 * Writes a file atomically and durably: into `<path>.partial-*`, fsynced, renamed over `path` only when
 * complete, then the folder fsynced, so after a power cut `path` holds the old bytes or all the new ones.
 */
export async function writeFileAtomic(
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => void,
  beforeCommit?: () => void,
): Promise<void> {
  const partial = `${path}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const made = await makeFolder(dirname(path));
    const handle = await open(partial, 'wx');
    try {
      for await (const chunk of chunks) {
        onChunk?.(chunk);
        // write(2) may store only part of a chunk (a filling disk does); the rest must follow or fail,
        // or a truncated file would be committed under a digest of the whole chunk.
        for (let offset = 0; offset < chunk.length; ) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    beforeCommit?.();
    await rename(partial, path);
    await syncMadeFolders(made);
  } catch (cause) {
    // A failed clean-up (the folder was never made) must not replace the error the caller acts on.
    await rm(partial, { force: true }).catch(() => undefined);
    throw ioError(`could not write ${path}`, cause);
  }
}

/** Writes the deterministic tar of a bundle folder to `outPath`; returns its entries and digest. */
export async function writeTar(dir: string, outPath: string, entries?: readonly TarEntry[]): Promise<{ entries: TarEntry[]; tar: Digest }> {
  const list = entries === undefined ? await scanBundle(dir) : [...entries];
  const hasher = new Hasher();
  await writeFileAtomic(outPath, tarChunks(dir, list), (chunk) => hasher.update(chunk));
  return { entries: list, tar: hasher.digest() };
}

// --- header encoding -------------------------------------------------------------------------

/** The header block(s) of one entry, as the tar writer emits them (a pax block first when needed). */
export function headerBytes(entry: TarEntry): Buffer {
  const name = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? '';
  const split = ustarSplit(name);
  const linkFits = isAscii(linkname) && Buffer.byteLength(linkname) <= 100;
  const blocks: Buffer[] = [];
  if (split === undefined || !linkFits) {
    const records: [string, string][] = [];
    if (split === undefined) records.push(['path', name]);
    if (!linkFits) records.push(['linkpath', linkname]);
    const body = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(''));
    blocks.push(ustarHeader({ name: 'PaxHeader', prefix: '', size: body.length, mode: 0o644, type: 'x', linkname: '' }));
    blocks.push(body, Buffer.alloc(padded(body.length) - body.length));
  }
  const [prefix, shortName] = split ?? ['', asciiTail(name, 100)];
  blocks.push(
    ustarHeader({
      name: shortName,
      prefix,
      size: entry.type === 'file' ? entry.size : 0,
      mode: entry.mode,
      type: entry.type === 'file' ? '0' : entry.type === 'directory' ? '5' : '2',
      linkname: linkFits ? linkname : asciiTail(linkname, 100),
    }),
  );
  return Buffer.concat(blocks);
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x01-\x7f]*$/.test(s);
}

function asciiTail(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(-max);
}

/** ustar keeps a path as prefix (155) + name (100) split at a slash; undefined when it cannot. */
function ustarSplit(path: string): [string, string] | undefined {
  if (!isAscii(path)) return undefined;
  if (path.length <= 100) return ['', path];
  for (let i = path.length - 101; i < path.length; i++) {
    if (i > 0 && path[i] === '/' && i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) {
      return [path.slice(0, i), path.slice(i + 1)];
    }
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLength = Buffer.byteLength(rest);
  let length = restLength + 1;
  while (String(length).length + restLength !== length) length = String(length).length + restLength;
  return `${length}${rest}`;
}

interface RawHeader {
  name: string;
  prefix: string;
  size: number;
  mode: number;
  type: '0' | '2' | '5' | 'x';
  linkname: string;
}

function ustarHeader(h: RawHeader): Buffer {
  if (h.size > MAX_OCTAL_SIZE) throw new BundleError('TOO_LARGE', `an entry of ${h.size} bytes is too large for a tar header`);
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'ascii');
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, MTIME);
  b.write(h.type, 156, 1, 'ascii');
  b.write(h.linkname, 157, 100, 'ascii');
  b.write('ustar\u000000', 257, 8, 'ascii');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  b.write(h.prefix, 345, 155, 'ascii');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return b;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}
