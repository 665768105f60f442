import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addBundle, initRepository } from '@tufup/repo-tools';
import { expect } from 'vitest';
import { UpdateClient, UpdateError, type CoreOptions } from '@tufup/electron-client/core';
import { LoopbackServer } from './server.js';

export const APP = 'demoapp';
export const PLATFORM = 'linux';
export const ARCH = 'x64';

/** Deterministic pseudo-random bytes: incompressible, and the same for the same seed. */
export function noise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** The `code` of the UpdateError `promise` rejects with; the calling test fails if it resolves or rejects with anything else. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpdateError);
  return (error as UpdateError).code;
}

/** What a bundle of one version looks like. */
export interface BundleShape {
  /** Size of the big, mostly unchanging resource file. @default 256 KiB */
  assetSize?: number;
  /** Replace the big resource with fresh noise, so no patch can reuse the previous version. */
  churn?: boolean;
}

/**
 * Writes a small but realistic app bundle: an executable, a big resource that changes a little between
 * versions, a versioned library with a symlink to it, nested folders and an empty one.
 */
export async function writeBundle(dir: string, version: string, shape: BundleShape = {}): Promise<string> {
  const assetSize = shape.assetSize ?? 256 * 1024;
  await mkdir(join(dir, 'resources', 'locales'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await mkdir(join(dir, 'empty'), { recursive: true });
  await writeFile(join(dir, APP), `#!/bin/sh\necho ${APP} ${version}\n`);
  await chmod(join(dir, APP), 0o755);
  const asset = noise(shape.churn === true ? `asset-${version}` : 'asset', assetSize);
  // A few bytes per version change, as in a real app update.
  asset.write(`version ${version}`, 1000);
  await writeFile(join(dir, 'resources', 'app.asar'), asset);
  await writeFile(join(dir, 'resources', 'locales', 'en.json'), JSON.stringify({ version, greeting: 'hello' }));
  await writeFile(join(dir, 'lib', 'libhelper.so.1'), noise(`lib-${version.split('.')[0] ?? ''}`, 8 * 1024));
  await chmod(join(dir, 'lib', 'libhelper.so.1'), 0o755);
  await symlink('libhelper.so.1', join(dir, 'lib', 'libhelper.so'));
  await writeFile(join(dir, 'version.txt'), `${version}\n`);
  return dir;
}

/** A TUF repository made with @tufup/repo-tools, served over HTTP on 127.0.0.1, in a temp folder. */
export class RepoFixture {
  readonly repoDir: string;
  readonly keysDir: string;
  readonly server: LoopbackServer;
  private counter = 0;
  private now: Date | undefined;

  private constructor(readonly tmp: string) {
    this.repoDir = join(tmp, 'repo');
    this.keysDir = join(tmp, 'keys');
    this.server = new LoopbackServer(this.repoDir);
  }

  /** `now` moves the publisher's clock (for expired metadata). */
  static async create(options: { now?: Date } = {}): Promise<RepoFixture> {
    const fixture = new RepoFixture(await mkdtemp(join(tmpdir(), 'tufup-core-')));
    fixture.now = options.now;
    await initRepository({ repoDir: fixture.repoDir, keysDir: fixture.keysDir, appName: APP, ...(options.now ? { now: options.now } : {}) });
    await fixture.server.start();
    return fixture;
  }

  get metadataUrl(): string {
    return `${this.server.url}/metadata/`;
  }

  get targetsUrl(): string {
    return `${this.server.url}/targets/`;
  }

  /** The root.json an app would ship (version 1, as made by init). */
  get trustedRoot(): string {
    return join(this.repoDir, 'metadata', '1.root.json');
  }

  bundleDir(version: string): string {
    return join(this.tmp, 'bundles', version);
  }

  /** Writes the bundle of `version` and publishes it. */
  async publish(version: string, options: BundleShape & { required?: boolean; releaseNotes?: string; platform?: string } = {}): Promise<void> {
    const dir = this.bundleDir(version);
    await rm(dir, { recursive: true, force: true });
    await writeBundle(dir, version, options);
    await addBundle({
      repoDir: this.repoDir,
      keysDir: this.keysDir,
      bundleDir: dir,
      version,
      platform: options.platform ?? PLATFORM,
      arch: ARCH,
      required: options.required === true,
      ...(options.releaseNotes === undefined ? {} : { releaseNotes: options.releaseNotes }),
      ...(this.now ? { now: this.now } : {}),
    });
  }

  /** A fresh install folder holding `version`'s bundle, as an installer would leave it. */
  async install(version: string): Promise<string> {
    const dir = join(this.tmp, `install-${++this.counter}`);
    await cp(this.bundleDir(version), dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    return dir;
  }

  /** Options of a client running `version` from `installDir`, with its own fresh cache folder. */
  clientOptions(version: string, installDir: string, extra: Partial<CoreOptions> = {}): CoreOptions {
    return {
      appName: APP,
      currentVersion: version,
      installDir,
      metadataUrl: this.metadataUrl,
      targetsUrl: this.targetsUrl,
      cacheDir: join(this.tmp, `cache-${++this.counter}`),
      trustedRoot: this.trustedRoot,
      platform: PLATFORM,
      arch: ARCH,
      stallTimeoutMs: 5_000,
      ...extra,
    };
  }

  /** A client running `version`, freshly installed. */
  async client(version: string, extra: Partial<CoreOptions> = {}): Promise<{ client: UpdateClient; options: CoreOptions }> {
    const options = this.clientOptions(version, await this.install(version), extra);
    return { client: new UpdateClient(options), options };
  }

  async cleanup(): Promise<void> {
    await this.server.close();
    await rm(this.tmp, { recursive: true, force: true });
  }
}

/** One entry of a folder as the OS sees it: type, permission bits, content hash or link target. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  content: string;
}

/** Lists a folder recursively, sorted, with exact modes and content hashes, for comparing trees. */
export async function readTree(dir: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const st = await lstat(full);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', mode: 0, content: await readlink(full) });
      else if (st.isDirectory()) {
        out.push({ path, type: 'directory', mode, content: '' });
        await walk(path);
      } else out.push({ path, type: 'file', mode, content: createHash('sha256').update(await readFile(full)).digest('hex') });
    }
  };
  await walk('');
  return out;
}

/** How many file descriptors of this process are open on `path` (Linux only: /proc/self/fd). */
async function openFdsOn(path: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target === path).length;
}

/**
 * The descriptors still open on `path` once closing has had its chance: closing is asynchronous, so this
 * waits up to 5 s for the count to reach 0, far more than a destroyed stream takes.
 */
export async function openFdsOnceSettled(path: string): Promise<number> {
  for (let i = 0; i < 250 && (await openFdsOn(path)) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return openFdsOn(path);
}
