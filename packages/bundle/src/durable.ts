import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errnoOf } from './error.js';

/**
 * Durability after a power cut. A rename publishes a file or folder, but on ext4, XFS, APFS and the like
 * neither the data written before it nor the new name itself is on disk until someone asks: after a
 * crash the renamed file can be empty, or the old name can come back. So every publishing step here is
 * fsync the contents, rename, fsync the folder that holds the new name -- and only then the next step.
 */

/** Errors of a file system that cannot fsync a folder (some network and FUSE file systems): nothing to wait for there. */
const UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF']);

/**
 * fsync(2) on a folder: the names created, renamed or removed in it are on disk when it returns.
 * On Windows it does nothing: Node cannot open a folder there, and NTFS journals its metadata itself.
 */
export async function syncFolder(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (UNSUPPORTED.has(errnoOf(error) ?? '')) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!UNSUPPORTED.has(errnoOf(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` that remembers what it made: {@link syncMadeFolders} then makes the new folders' names
 * durable, so a file published inside them cannot lose its folder in a crash.
 */
export async function makeFolder(path: string): Promise<MadeFolders> {
  const first = await mkdir(path, { recursive: true });
  return { leaf: resolve(path), first: first === undefined ? undefined : resolve(first) };
}

/** What {@link makeFolder} made: `first` is the outermost new folder, undefined when `leaf` existed. */
export interface MadeFolders {
  leaf: string;
  first: string | undefined;
}

/** Syncs the folder holding a just-published name (`made.leaf`) and the parents of every folder `made` created. */
export async function syncMadeFolders(made: MadeFolders): Promise<void> {
  await syncFolder(made.leaf);
  if (made.first === undefined) return;
  // From the leaf up to the folder that holds the outermost new one.
  for (let dir = made.leaf; dir !== dirname(made.first); dir = dirname(dir)) {
    const parent = dirname(dir);
    if (parent === dir) break;
    await syncFolder(parent);
  }
}
