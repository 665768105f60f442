import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { Parser, type ReadEntry } from 'tar';
import { makeFolder, syncFolder, syncMadeFolders, type MadeFolders } from './durable.js';
import { BundleError, ioError, messageOf } from './error.js';
import { Hasher, sameDigest, type Digest } from './hash.js';
import { BundleValidator, kindOfTarType } from './validate.js';

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** The signed digest of the uncompressed tar; extraction fails and leaves nothing when it differs. */
  expected?: Digest;
  /** Called with the tar bytes read so far. */
  onProgress?: (bytes: number) => void;
  /**
   * Stops the extraction mid-way, even while the source is waiting for bytes: the partial folder is
   * removed and the promise rejects with the signal's `reason`.
   */
  signal?: AbortSignal;
}

/**
 * Extracts an uncompressed tar stream into `dest`, which must not exist yet. Entries are written into a
 * sibling `<dest>.partial-*` folder that is renamed to `dest` only when every entry is safe and the digest
 * matches; on any failure the partial folder is removed. Refuses (UNSAFE_ENTRY) absolute paths, `..`,
 * links that lead outside, writes through a link, duplicate paths, devices, FIFOs and set-id bits.
 * Durable: every file and folder is fsynced before the rename and the parent after it, so after a power
 * cut `dest` is either absent or complete, never a folder of empty files.
 */
export async function extractTar(source: AsyncIterable<Uint8Array>, dest: string, options: ExtractOptions = {}): Promise<Digest> {
  const { signal } = options;
  signal?.throwIfAborted();
  if (await lstat(dest).then(() => true, () => false)) {
    throw new BundleError('DESTINATION_EXISTS', `${dest} already exists; extraction only writes into a fresh folder`);
  }
  const partial = join(dirname(dest), `.${basename(dest)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  const digest = new Hasher(options.onProgress);
  try {
    const made = await makeFolder(dirname(dest));
    mkdirSync(partial);
    const writer = new EntryWriter(partial);
    try {
      await writeEntries(source, writer, digest, signal);
    } finally {
      writer.dispose();
    }
    return await commit(writer, digest, options.expected, partial, dest, made);
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    if (signal?.aborted === true && error === signal.reason) throw error;
    if (error instanceof BundleError) throw error;
    throw ioError(`could not extract into ${dest}`, error);
  }
}

/**
 * The stream loop: parses `source` as a strict tar, hashing every byte, and has `writer` write each entry.
 * Resolves once every entry is written; rejects with the first failure (the entry's BundleError, the
 * parser's, the source's), or with the signal's reason when a cancel came first.
 */
async function writeEntries(source: AsyncIterable<Uint8Array>, writer: EntryWriter, digest: Hasher, signal: AbortSignal | undefined): Promise<void> {
  const parser = new Parser({ strict: true });
  let failure: { error: unknown; cancelled: boolean } | undefined;
  const fail = (error: unknown, cancelled = false): void => {
    failure ??= { error, cancelled };
    parser.abort(error instanceof Error ? error : new Error(String(error)));
  };
  parser.on('entry', (entry: ReadEntry) => {
    if (failure !== undefined) return entry.resume();
    try {
      writer.add(entry);
    } catch (error) {
      entry.resume();
      fail(error);
    }
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    fail(new BundleError('UNSAFE_ENTRY', `"${entry.path}" is an entry of unknown type ${entry.type}`));
  });
  parser.on('error', (error: unknown) => {
    failure ??= { error: new BundleError('UNSAFE_ENTRY', `the archive is not a valid tar: ${messageOf(error)}`, { cause: error }), cancelled: false };
  });
  // Settles however parsing stops: a clean end, an abort from `fail`, or a strict-mode error. Nothing
  // here rejects, so every failure reaches the caller through `failure` with its own code.
  const settled = new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.on('abort', () => resolve());
    parser.on('error', () => resolve());
  });
  const cancel = whenAborted(signal, () => fail(new Error('extraction cancelled'), true));
  try {
    await feed(source, parser, digest, { settled, cancelled: cancel.promise, stop: () => failure !== undefined });
    if (failure === undefined) {
      parser.end();
      await settled;
    }
  } catch (error) {
    fail(error);
  } finally {
    cancel.dispose();
  }
  if (failure !== undefined) throw failure.cancelled ? signal?.reason : failure.error;
}

/**
 * Writes the chunks of `source` to `parser`, hashing each, until the source ends, `stop()` says so, or
 * `cancelled` resolves: a cancel must also end a wait for the next chunk, which a stalled source may
 * never deliver.
 */
async function feed(
  source: AsyncIterable<Uint8Array>,
  parser: Parser,
  digest: Hasher,
  until: { settled: Promise<void>; cancelled: Promise<'cancelled'>; stop: () => boolean },
): Promise<void> {
  const chunks = source[Symbol.asyncIterator]();
  let ended = false;
  let cancelled = false;
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), until.cancelled]);
      if (next === 'cancelled') {
        cancelled = true;
        return;
      }
      if (next.done === true) {
        ended = true;
        return;
      }
      digest.update(next.value);
      if (until.stop()) return;
      if (!parser.write(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length))) {
        await Promise.race([once(parser, 'drain').catch(() => undefined), until.settled]);
      }
    }
  } finally {
    // Like leaving a `for await` early, this lets the source go (a stream closes its file); not awaited
    // after a cancel, since an async generator stuck in a pending read finishes its return only after it.
    if (!ended) {
      const closing = Promise.resolve(chunks.return?.()).catch(() => undefined);
      if (!cancelled) await closing;
    }
  }
}

/** A promise that resolves when `signal` fires (at once if it has), after calling `onAbort`; `dispose` stops listening. */
function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): { promise: Promise<'cancelled'>; dispose: () => void } {
  let listener = (): void => undefined;
  const promise = new Promise<'cancelled'>((resolve) => {
    listener = () => {
      onAbort();
      resolve('cancelled');
    };
  });
  if (signal?.aborted === true) listener();
  else signal?.addEventListener('abort', listener, { once: true });
  return { promise, dispose: () => signal?.removeEventListener('abort', listener) };
}

/**
 * The commit of the partial folder: once every entry is written, checks the links again with the full
 * link map and the tar against its signed digest, gives folders their modes, syncs them, and renames it
 * to `dest` (then syncs the folder that holds the new name).
 */
async function commit(writer: EntryWriter, digest: Hasher, expected: Digest | undefined, partial: string, dest: string, made: MadeFolders): Promise<Digest> {
  writer.checkLinks();
  const actual = digest.digest();
  if (expected !== undefined && !sameDigest(actual, expected)) {
    throw new BundleError('HASH_MISMATCH', `the archive's tar does not match its signed hash (got ${actual.size} bytes, sha256 ${actual.sha256})`);
  }
  // Last, because read-only folders could not be cleaned up by a user who is not root.
  writer.applyFolderModes();
  // Files were synced as they were closed; the folders' entries and modes now, innermost first.
  const folders = (await readdir(partial, { recursive: true, withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name));
  for (const folder of folders.reverse()) await syncFolder(folder);
  await syncFolder(partial);
  await rename(partial, dest);
  await syncMadeFolders(made);
  return actual;
}

/**
 * Writes entries one at a time, synchronously, so the parser never runs ahead of the disk; each entry is
 * first checked by the bundle rules ({@link BundleValidator}, shared with the publisher's tools).
 */
class EntryWriter {
  private readonly rules = new BundleValidator((path, what) => `the archive entry "${path}" ${what}; nothing was extracted`);
  private readonly dirs: [string, number][] = [];
  /** Files still being written; closed by {@link dispose} when parsing stops early. */
  private readonly open = new Set<number>();

  constructor(private readonly root: string) {}

  add(entry: ReadEntry): void {
    const mode = entry.mode ?? 0o644;
    const parts = this.rules.add({ path: entry.path, kind: kindOfTarType(entry.type), mode, ...(entry.linkpath ? { target: entry.linkpath } : {}) });
    if (parts.length === 0) {
      entry.resume();
      return;
    }
    const full = join(this.root, ...parts);
    switch (entry.type) {
      case 'Directory':
        mkdirSync(full, { recursive: true, mode: 0o700 });
        this.dirs.push([full, mode & 0o777]);
        entry.resume();
        return;
      case 'SymbolicLink':
        mkdirSync(dirname(full), { recursive: true });
        symlinkSync(entry.linkpath ?? '', full);
        entry.resume();
        return;
      case 'Link':
        mkdirSync(dirname(full), { recursive: true });
        linkSync(join(this.root, ...(entry.linkpath ?? '').split('/').filter((p) => p !== '' && p !== '.')), full);
        entry.resume();
        return;
      default:
        // The rules admit no other kind than files here.
        this.writeFile(entry, full, mode & 0o777);
    }
  }

  private writeFile(entry: ReadEntry, full: string, mode: number): void {
    mkdirSync(dirname(full), { recursive: true });
    const fd = openSync(full, 'wx', 0o600);
    this.open.add(fd);
    const close = (): void => {
      if (this.open.delete(fd)) closeSync(fd);
    };
    entry.on('data', (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
    });
    entry.on('end', () => {
      // Mode first, then fsync: a chmod after the sync could be lost in a crash (an app without its
      // executable bit), and the rename that publishes the folder must find every byte on disk.
      fchmodSync(fd, mode);
      fsyncSync(fd);
      close();
    });
    entry.on('error', close);
  }

  /** Checks every link again with the full link map: a later link can make an earlier one escape. */
  checkLinks(): void {
    this.rules.finish();
  }

  /** Gives folders their modes, deepest first, once nothing more is written into them. */
  applyFolderModes(): void {
    for (const [dir, mode] of this.dirs.reverse()) chmodSync(dir, mode);
  }

  dispose(): void {
    for (const fd of this.open) closeSync(fd);
    this.open.clear();
  }
}
