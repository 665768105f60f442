/**
 * The base of a patch, read by position: a tar in memory, a tar file, or the tar an install folder
 * would make, read straight from its files. Applying a patch reads only the ranges it copies from, a
 * bounded slice at a time, so the old version never has to be in memory whole (issue 13, item 3).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, ioError } from './error.js';
import { digestBuffer, digestFile, type Digest } from './hash.js';
import { digestTarOf, headerBytes, padded, type TarEntry } from './tar.js';

/** Bytes of a patch base by position. */
export interface BaseSource {
  readonly size: number;
  /** Fills `out` with the base's bytes from `position`; the range must lie inside the base. */
  read(out: Buffer, position: number): Promise<void>;
  /** sha256 and size of the whole base, read once. */
  digest(): Promise<Digest>;
  close(): Promise<void>;
}

function outside(position: number, length: number, size: number): BundleError {
  return new BundleError('PATCH_CORRUPT', `the patch reads base bytes ${position}..${position + length}, past its end (${size})`);
}

/** A base tar held in memory. */
export class BufferSource implements BaseSource {
  constructor(private readonly tar: Buffer) {}
  get size(): number {
    return this.tar.length;
  }
  read(out: Buffer, position: number): Promise<void> {
    if (position < 0 || position + out.length > this.tar.length) return Promise.reject(outside(position, out.length, this.tar.length));
    this.tar.copy(out, 0, position, position + out.length);
    return Promise.resolve();
  }
  digest(): Promise<Digest> {
    return Promise.resolve(digestBuffer(this.tar));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function readFully(handle: FileHandle, out: Buffer, position: number, what: () => BundleError): Promise<void> {
  for (let done = 0; done < out.length; ) {
    const { bytesRead } = await handle.read(out, done, out.length - done, position + done);
    if (bytesRead === 0) throw what();
    done += bytesRead;
  }
}

/** A base tar on disk. */
export class TarFileSource implements BaseSource {
  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<TarFileSource> {
    const handle = await open(path, 'r').catch((e: unknown) => {
      throw ioError(`could not open the patch base ${path}`, e);
    });
    return new TarFileSource(path, handle, (await handle.stat()).size);
  }

  async read(out: Buffer, position: number): Promise<void> {
    if (position < 0 || position + out.length > this.size) throw outside(position, out.length, this.size);
    await readFully(this.handle, out, position, () => new BundleError('PATCH_BASE_MISMATCH', `${this.path} shrank while the patch was applied`));
  }
  digest(): Promise<Digest> {
    return digestFile(this.path);
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

/** One stretch of a folder's virtual tar: header bytes, a file's content, or zeros. */
interface Piece {
  start: number;
  length: number;
  header?: Buffer;
  file?: string;
}

/**
 * The deterministic tar of an install folder, following `entries` (paths, types and modes from the list,
 * content from the disk), without writing or holding it: each read opens the files it covers.
 */
export class FolderSource implements BaseSource {
  readonly size: number;
  private readonly pieces: Piece[] = [];
  private openFile: { path: string; handle: FileHandle } | undefined;

  constructor(
    private readonly dir: string,
    private readonly entries: readonly TarEntry[],
  ) {
    let at = 0;
    const add = (piece: Omit<Piece, 'start'>): void => {
      if (piece.length > 0) this.pieces.push({ start: at, ...piece });
      at += piece.length;
    };
    for (const entry of entries) {
      const header = headerBytes(entry);
      add({ length: header.length, header });
      if (entry.type !== 'file') continue;
      add({ length: entry.size, file: entry.path });
      add({ length: padded(entry.size) - entry.size });
    }
    add({ length: 1024 });
    this.size = at;
  }

  async read(out: Buffer, position: number): Promise<void> {
    if (position < 0 || position + out.length > this.size) throw outside(position, out.length, this.size);
    // The last piece starting at or before `position`.
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.pieces[mid]?.start ?? Infinity) <= position) lo = mid;
      else hi = mid - 1;
    }
    for (let done = 0, i = lo; done < out.length; i++) {
      const piece = this.pieces[i];
      if (piece === undefined) throw outside(position, out.length, this.size);
      const from = position + done - piece.start;
      const length = Math.min(piece.length - from, out.length - done);
      const slice = out.subarray(done, done + length);
      if (piece.header !== undefined) piece.header.copy(slice, 0, from, from + length);
      else if (piece.file !== undefined) await this.readFile(piece.file, slice, from);
      else slice.fill(0);
      done += length;
    }
  }

  private async readFile(path: string, out: Buffer, position: number): Promise<void> {
    const changed = (): BundleError => new BundleError('PATCH_BASE_MISMATCH', `"${path}" in ${this.dir} changed while the patch was applied`);
    if (this.openFile?.path !== path) {
      await this.openFile?.handle.close();
      this.openFile = undefined;
      const handle = await open(join(this.dir, path), 'r').catch(() => {
        throw changed();
      });
      this.openFile = { path, handle };
    }
    await readFully(this.openFile.handle, out, position, changed);
  }

  digest(): Promise<Digest> {
    return digestTarOf(this.dir, this.entries);
  }

  async close(): Promise<void> {
    await this.openFile?.handle.close();
    this.openFile = undefined;
  }
}
