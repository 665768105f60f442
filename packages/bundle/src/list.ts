import { Parser, type ReadEntry } from 'tar';
import { BundleError, messageOf } from './error.js';
import type { TarEntry } from './tar.js';

/** Lists the entries of a tar held in memory, as {@link TarEntry}s. */
export async function listTar(tar: Buffer): Promise<TarEntry[]> {
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
  await new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.end(tar);
  });
  if (failure !== undefined) {
    throw failure instanceof BundleError ? failure : new BundleError('UNSUPPORTED_ENTRY', `not a valid tar: ${messageOf(failure)}`, { cause: failure });
  }
  return entries;
}
