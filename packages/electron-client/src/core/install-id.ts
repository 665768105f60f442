import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '@tufup/bundle';

/** The file in the cache folder that holds this install's id; nothing the client prunes touches it. */
export const INSTALL_ID_FILE = 'install-id';

const ID = /^[0-9a-f]{32}$/;

/**
 * This install's random, persistent id (128 bits, hex), read from `<cacheDir>/install-id`, made on first
 * use. It lives beside the downloads, never among them, so pruning downloads or staged updates keeps it.
 * Made atomically (written aside, then hard-linked in, which fails if another process made it first),
 * so two instances of the app starting at once agree on one id. It is only ever used on this machine,
 * to place the install in staged rollouts; it is never sent anywhere.
 */
export async function installId(cacheDir: string): Promise<string> {
  const path = join(cacheDir, INSTALL_ID_FILE);
  for (let attempt = 0; ; attempt++) {
    const existing = await readFile(path, 'utf8').then((text) => text.trim(), () => undefined);
    if (existing !== undefined && ID.test(existing)) return existing;
    if (existing !== undefined) {
      // Not an id (cut short by a crash of an older writer, or edited): replaced by a new one, once.
      if (attempt > 0) throw new Error(`${path} does not hold an install id`);
      await rename(path, `${path}.${randomBytes(4).toString('hex')}.invalid`).catch(() => undefined);
      continue;
    }
    await mkdir(cacheDir, { recursive: true });
    const id = randomBytes(16).toString('hex');
    const aside = `${path}.${id}.new`;
    try {
      await writeFile(aside, `${id}\n`, { flag: 'wx' });
      await link(aside, path);
      return id;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      // Another instance made it first: theirs is the one, read it on the next round.
    } finally {
      await rm(aside, { force: true });
    }
  }
}

/**
 * Where this install falls in the rollout of `version`: a number in [0, 100), uniform over installs,
 * fixed for an install and a version. The install takes a release rolled out to `p` percent when its
 * bucket is below `p`: raising `p` only adds installs, lowering it only stops new ones. Each version
 * draws its own bucket, so the first few percent are not the same installs for every release.
 */
export function rolloutBucket(id: string, appName: string, version: string): number {
  const hash = createHash('sha256').update(`${id}\n${appName}\n${version}`).digest();
  return (hash.readUInt32BE(0) / 2 ** 32) * 100;
}
