import { createReadStream } from 'node:fs';
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
  const hasher = new Hasher();
  const gzip = createGzip({ level: 9 });
  createReadStream(source).on('error', (e) => gzip.destroy(e)).pipe(gzip);
  await writeFileAtomic(dest, gzip, (chunk) => hasher.update(chunk));
  return hasher.digest();
}

/** Decompresses a `.tar.gz` to its tar, streaming, atomically. */
export async function gunzipFile(source: string, dest: string): Promise<Digest> {
  const hasher = new Hasher();
  await writeFileAtomic(dest, gunzipStream(source), (chunk) => hasher.update(chunk));
  return hasher.digest();
}

function gunzipStream(source: string): AsyncIterable<Buffer> {
  const gunzip = createGunzip();
  createReadStream(source).on('error', (e) => gunzip.destroy(e)).pipe(gunzip);
  return gunzip;
}

/** Reads a `.tar.gz` whole into memory as its uncompressed tar. */
export async function gunzipToBuffer(source: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of gunzipStream(source)) chunks.push(chunk);
  } catch (cause) {
    throw new BundleError('IO', `could not decompress ${source}: ${(cause as Error).message}`, { cause });
  }
  return Buffer.concat(chunks);
}

/** Extracts a `.tar.gz` or `.tar` file into the fresh folder `dest`; see {@link extractTar}. */
export async function extractArchive(archivePath: string, dest: string, options: ExtractOptions = {}): Promise<Digest> {
  const source = archivePath.endsWith('.gz') ? gunzipStream(archivePath) : (createReadStream(archivePath) as AsyncIterable<Buffer>);
  try {
    return await extractTar(source, dest, options);
  } catch (error) {
    throw error instanceof BundleError ? error : ioError(`could not read ${archivePath}`, error);
  }
}
