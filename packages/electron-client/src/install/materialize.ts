import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '@tufup/bundle/base';
import type { EmbeddedFile } from '../assets/embedded.js';
import { UpdateError } from '../core/error.js';

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Makes `<dir>/<embedded.file>` hold exactly the embedded text and returns its path. The file is read and
 * hashed every time, just before it is used: a copy that was cut short, left by another version of the
 * app, or changed by anyone is replaced, never run. Other files of the same prefix (older workers) are
 * removed. The folder is the updater's own, in the user's cache; see docs/electron-client.md for what
 * running code from there means.
 */
export async function materialize(embedded: EmbeddedFile, dir: string, stalePrefix?: string): Promise<string> {
  const path = join(dir, embedded.file);
  const current = await readFile(path).catch(() => undefined);
  if (current !== undefined && sha256(current) === embedded.sha256) return path;
  try {
    await write(embedded, dir, path, stalePrefix);
  } catch (cause) {
    throw new UpdateError('DISK', `could not write ${embedded.file} to ${dir}: ${messageOf(cause)}`, { cause });
  }
  return path;
}

async function write(embedded: EmbeddedFile, dir: string, path: string, stalePrefix: string | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const partial = `${path}.partial-${process.pid}`;
  try {
    await writeFile(partial, embedded.source, { mode: 0o600 });
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  // Best effort: the umask may have widened the mode, and a worker of another version may still be in use.
  await chmod(path, 0o600).catch(() => undefined);
  if (stalePrefix !== undefined) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(stalePrefix) && name !== embedded.file) await rm(join(dir, name), { force: true }).catch(() => undefined);
    }
  }
  const written = await readFile(path);
  if (sha256(written) !== embedded.sha256) throw new Error('the file read back differs from what was written');
}
