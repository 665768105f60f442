import { Parser, type ReadEntry } from 'tar';
import { BundleError, ioError, messageOf } from './error.js';
import type { TarEntry } from './tar.js';

/** Lists the entries of a tar, held in memory or streamed (a tar file read from disk), as {@link TarEntry}s. */
export async function listTar(tar: Buffer | AsyncIterable<Uint8Array>): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const parser = new Parser({ strict: true });
  let failure: unknown;
  parser.on('entry', (entry: ReadEntry) => {
    const path = entry.path.replace(/\/+$/, '');
    const mode = (entry.mode ?? 0) & 0o777;
    if (entry.type === 'File') entries.push({ path, type: 'file', mode, size: entry.size });
    else if (entry.type === 'Directory') entries.push({ path, type: 'directory', mode, size: 0 });
    else if (entry.type === 'SymbolicLink') entries.push({ path, type: 'symlink', mode, size: 0, linkname: entry.linkpath ?? '' });
    else failure ??= new BundleError('UNSUPPORTED_ENTRY', `"${entry.path}" is a ${entry.type} entry, not one a bundle holds`);
    entry.resume();
  });
  parser.on('error', (e: unknown) => (failure ??= e));
  const ended = new Promise<void>((resolve) => parser.on('end', resolve));
  if (Buffer.isBuffer(tar)) {
    parser.end(tar);
  } else {
    try {
      for await (const chunk of tar) {
        if (failure !== undefined) break;
        parser.write(chunk);
      }
    } catch (cause) {
      // Reading failed, not parsing: say so rather than call the tar invalid.
      throw ioError('could not read the tar', cause);
    }
    parser.end();
  }
  await ended;
  if (failure !== undefined) {
    throw failure instanceof BundleError ? failure : new BundleError('UNSUPPORTED_ENTRY', `not a valid tar: ${messageOf(failure)}`, { cause: failure });
  }
  return entries;
}
