import { randomBytes, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoOf } from '@tufup/bundle';
import { METADATA_DIR, TARGETS_DIR } from '../config.js';
import { ioError, RepoError } from '../error.js';
import type { Destination, RemoteFile } from './destination.js';
import type { PlannedFile } from './plan.js';

/** Partial files are named so a listing (and a web server's index) can tell them apart and a later run can remove them. */
const PARTIAL = /^\..+\.tufup-partial-[0-9a-f]+$/;

/**
 * A folder served by a web server (GitHub Pages, nginx, any static host). Each file is written under a
 * hidden partial name, synced, and renamed into place, so a reader (or a publish killed half-way) never
 * sees part of a file. Targets are hashed while they are copied and refused if they differ from their
 * signed hash. Cache headers are the web server's to set (see docs/shipping.md).
 */
export class FolderDestination implements Destination {
  readonly description: string;
  /** Folders this run listed or wrote into, whose leftover partials (from a killed run) close() removes. */
  private readonly touched = new Set<string>();

  constructor(private readonly root: string) {
    this.description = root;
  }

  async list(): Promise<Map<string, RemoteFile>> {
    const found = new Map<string, RemoteFile>();
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch (cause) {
        if (errnoOf(cause) === 'ENOENT') return;
        throw ioError(`cannot list ${join(this.root, rel)}`, cause);
      }
      this.touched.add(join(this.root, rel));
      for (const entry of entries) {
        const key = `${rel}/${entry.name}`;
        if (entry.isDirectory()) await walk(key);
        else if (entry.isFile() && !PARTIAL.test(entry.name)) found.set(key, { size: (await stat(join(this.root, key))).size });
      }
    };
    await walk(METADATA_DIR);
    await walk(TARGETS_DIR);
    return found;
  }

  async md5Of(key: string): Promise<string | undefined> {
    const hash = createHash('md5');
    try {
      for await (const chunk of createReadStream(join(this.root, key))) hash.update(chunk as Buffer);
    } catch (cause) {
      if (errnoOf(cause) === 'ENOENT') return undefined;
      throw ioError(`cannot read ${join(this.root, key)}`, cause);
    }
    return hash.digest('hex');
  }

  async put(file: PlannedFile): Promise<void> {
    const dest = join(this.root, ...file.key.split('/'));
    const dir = dirname(dest);
    const partial = join(dir, `.${file.key.split('/').at(-1) ?? 'file'}.tufup-partial-${randomBytes(6).toString('hex')}`);
    this.touched.add(dir);
    let handle: FileHandle | undefined;
    try {
      await mkdir(dir, { recursive: true });
      handle = await open(partial, 'wx', 0o644);
      if ('bytes' in file.source) {
        await handle.writeFile(file.source.bytes);
      } else {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(file.source.path)) {
          hash.update(chunk as Buffer);
          await handle.write(chunk as Buffer);
        }
        if (hash.digest('hex') !== file.source.sha256) {
          throw new RepoError('VERIFY_FAILED', `${file.source.path} does not match the sha256 signed for it; run "tufup-repo verify"`);
        }
      }
      // On disk before the rename that publishes it: after a power cut the name holds all of the file or none.
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(partial, dest);
    } catch (cause) {
      await handle?.close().catch(() => undefined);
      await rm(partial, { force: true }).catch(() => undefined);
      throw ioError(`could not publish ${file.key} to ${this.root}`, cause);
    }
  }

  /** Removes partial files a killed run left (one publish at a time: a concurrent one would lose its partials). */
  async close(): Promise<void> {
    for (const dir of this.touched) {
      const names = await readdir(dir).catch(() => []);
      for (const name of names) if (PARTIAL.test(name)) await rm(join(dir, name), { force: true }).catch(() => undefined);
    }
  }
}
