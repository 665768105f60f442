import { createReadStream } from 'node:fs';
import { pipeline, type Readable, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { BundleError, ioError } from './error.js';
import { Hasher, type Digest } from './hash.js';
import { extractTar, type ExtractOptions } from './extract.js';
import { writeFileAtomic, writeTar, type TarEntry } from './tar.js';

/** What {@link createArchive} made. */
export interface ArchiveInfo {
  /** The bundle's entries, in archive order. */
  entries: TarEntry[];
  /** Digest of the uncompressed tar: the client checks a patched result against it. */
  tar: Digest;
  /** Digest of the `.tar.gz` file. */
  archive: Digest;
}

/**
 * Turns a bundle folder into `archivePath` (`.tar.gz`) and keeps the uncompressed tar at `tarPath`,
 * which a patch to the next version needs. Both files appear atomically.
 */
export async function createArchive(bundleDir: string, archivePath: string, tarPath: string): Promise<ArchiveInfo> {
  const { entries, tar } = await writeTar(bundleDir, tarPath);
  const archive = await gzipFile(tarPath, archivePath);
  return { entries, tar, archive };
}

/** Compresses a file with gzip (no name or time in the header, so output depends on content only). */
export async function gzipFile(source: string, dest: string): Promise<Digest> {
  return writeThrough(fileThrough(source, createGzip({ level: 9 })), dest);
}

/** Decompresses a `.tar.gz` to its tar, streaming, atomically. */
export async function gunzipFile(source: string, dest: string): Promise<Digest> {
  return writeThrough(gunzipStream(source), dest);
}

async function writeThrough(stream: Readable, dest: string): Promise<Digest> {
  const hasher = new Hasher();
  try {
    await writeFileAtomic(dest, stream, (chunk) => hasher.update(chunk));
  } finally {
    // Also when the write failed before reading (an unwritable dest): the source file is closed either way.
    stream.destroy();
  }
  return hasher.digest();
}

/**
 * The bytes of file `source` through `transform`. Destroying the result, as leaving a `for await` early
 * does, closes the file too (`.pipe()` would leave it open, and on Windows undeletable).
 */
function fileThrough<T extends Transform>(source: string, transform: T): T {
  // Errors reach the reader through `transform`, which pipeline() destroys with them.
  pipeline(createReadStream(source), transform, () => undefined);
  return transform;
}

function gunzipStream(source: string): Readable {
  return fileThrough(source, createGunzip());
}

/** Reads a `.tar.gz` whole into memory as its uncompressed tar. */
export async function gunzipToBuffer(source: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of gunzipStream(source) as AsyncIterable<Buffer>) chunks.push(chunk);
  } catch (cause) {
    throw ioError(`could not decompress ${source}`, cause);
  }
  return Buffer.concat(chunks);
}

/**
 * Extracts a `.tar.gz` or `.tar` file into the fresh folder `dest`; see {@link extractTar}. The archive
 * file is closed however extraction ends; a fired `options.signal` rejects with its reason.
 */
export async function extractArchive(archivePath: string, dest: string, options: ExtractOptions = {}): Promise<Digest> {
  options.signal?.throwIfAborted();
  const source = archivePath.endsWith('.gz') ? gunzipStream(archivePath) : createReadStream(archivePath);
  try {
    return await extractTar(source, dest, options);
  } catch (error) {
    if (options.signal?.aborted === true && error === options.signal.reason) throw error;
    throw error instanceof BundleError ? error : ioError(`could not read ${archivePath}`, error);
  } finally {
    // extractTar may refuse before reading a byte (DESTINATION_EXISTS); the file must not stay open.
    source.destroy();
  }
}
