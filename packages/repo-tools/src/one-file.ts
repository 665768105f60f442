import { chmod, copyFile, lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ONE_FILE_ENTRY } from '@tufup/bundle';
import { ioError } from './error.js';

/**
 * The bundle folder to publish for `path`: the folder itself, or, for a file (an AppImage), a temporary
 * folder holding a copy of it as the one executable entry {@link ONE_FILE_ENTRY}. Call `dispose` when done.
 */
export async function bundleFolderOf(path: string): Promise<{ dir: string; oneFile: boolean; dispose: () => Promise<void> }> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined || !st.isFile()) return { dir: path, oneFile: false, dispose: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'tufup-one-file-'));
  const dispose = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await copyFile(path, join(dir, ONE_FILE_ENTRY));
    await chmod(join(dir, ONE_FILE_ENTRY), 0o755);
  } catch (cause) {
    await dispose();
    throw ioError(`could not read ${path}`, cause);
  }
  return { dir, oneFile: true, dispose };
}
