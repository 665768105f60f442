import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addBundle, initRepository, type RoleName } from '@tufup/repo-tools';
import { findStagedUpdate, UpdateClient, UpdateError, type CoreOptions, type StagedUpdate } from '@tufup/electron-client/core';
import { HostileServer } from './server.js';

export const APP = 'tufapp';
export const PLATFORM = 'linux';
export const ARCH = 'x64';
/** The folder of this build's targets, in the repository and in the client's cache. */
export const BUILD = `${PLATFORM}-${ARCH}`;

/** Deterministic incompressible bytes: the same for the same seed. */
export function noise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** What one version's bundle looks like. */
export interface BundleShape {
  /** Size of the big resource. @default 192 KiB */
  assetSize?: number;
  /** Fresh content in the big resource, so no patch can reuse the previous version. */
  churn?: boolean;
}

/**
 * A small app bundle that can be run: `sh <dir>/app` prints its version, after checking that every file
 * of its own version is there (so a half-swapped folder is not runnable).
 */
export async function writeBundle(dir: string, version: string, shape: BundleShape = {}): Promise<string> {
  await mkdir(join(dir, 'resources', 'locales'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  const launcher = [
    '#!/bin/sh',
    'here=$(cd "$(dirname "$0")" && pwd)',
    `grep -q '"version":"${version}"' "$here/resources/locales/en.json" || exit 3`,
    `grep -qx '${version}' "$here/version.txt" || exit 3`,
    `test -f "$here/resources/app.asar" && test -L "$here/lib/libhelper.so" || exit 3`,
    `echo ${version}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'app'), launcher);
  await chmod(join(dir, 'app'), 0o755);
  const asset = noise(shape.churn === true ? `asset-${version}` : 'asset', shape.assetSize ?? 192 * 1024);
  asset.write(`version ${version}`, 1000);
  await writeFile(join(dir, 'resources', 'app.asar'), asset);
  await writeFile(join(dir, 'resources', 'locales', 'en.json'), JSON.stringify({ version, greeting: 'hello' }));
  await writeFile(join(dir, 'lib', 'libhelper.so.1'), noise(`lib-${version}`, 4 * 1024));
  await symlink('libhelper.so.1', join(dir, 'lib', 'libhelper.so'));
  await writeFile(join(dir, 'version.txt'), `${version}\n`);
  return dir;
}

/** Runs an installed app the way a user would; its version, or undefined when it does not run. */
export async function runApp(installDir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('/bin/sh', [join(installDir, 'app')], { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** One entry of a folder: type, permission bits, content hash or link target. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  content: string;
}

/** A folder, recursively and sorted, with modes and content hashes: two trees are equal only if the folders are. */
export async function readTree(dir: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', mode: 0, content: await readlink(full) });
      else if (st.isDirectory()) {
        out.push({ path, type: 'directory', mode: st.mode & 0o7777, content: '' });
        await walk(path);
      } else out.push({ path, type: 'file', mode: st.mode & 0o7777, content: createHash('sha256').update(await readFile(full)).digest('hex') });
    }
  };
  await walk('');
  return out;
}

/** Every file below `dir` (relative paths), or [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

/** The `code` of the UpdateError a promise rejects with, or `resolved` when it does not reject. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof UpdateError ? error.code : `not an UpdateError: ${String(error)}`),
  );
}

/** Options of {@link Repo.create}. */
export interface RepoSetup {
  thresholds?: Partial<Record<RoleName, number>>;
  keyCounts?: Partial<Record<RoleName, number>>;
}

/** A repository made with @tufup/repo-tools in a temp folder, served by a {@link HostileServer} on 127.0.0.1. */
export class Repo {
  readonly repoDir: string;
  readonly keysDir: string;
  readonly server: HostileServer;
  private counter = 0;

  private constructor(readonly tmp: string) {
    this.repoDir = join(tmp, 'repo');
    this.keysDir = join(tmp, 'keys');
    this.server = new HostileServer(this.repoDir);
  }

  static async create(setup: RepoSetup = {}): Promise<Repo> {
    const repo = new Repo(await mkdtemp(join(tmpdir(), 'tufup-e2e-')));
    await initRepository({
      repoDir: repo.repoDir,
      keysDir: repo.keysDir,
      appName: APP,
      ...(setup.thresholds ? { thresholds: setup.thresholds } : {}),
      ...(setup.keyCounts ? { keyCounts: setup.keyCounts } : {}),
    });
    await repo.server.start();
    return repo;
  }

  /** The root.json the app ships (version 1, as made by init). */
  get trustedRoot(): string {
    return join(this.repoDir, 'metadata', '1.root.json');
  }

  bundleDir(version: string): string {
    return join(this.tmp, 'bundles', version);
  }

  /** Writes `version`'s bundle and publishes it with the publisher's real keys. */
  async publish(version: string, shape: BundleShape = {}): Promise<void> {
    const dir = this.bundleDir(version);
    await rm(dir, { recursive: true, force: true });
    await writeBundle(dir, version, shape);
    await addBundle({ repoDir: this.repoDir, keysDir: this.keysDir, bundleDir: dir, version, platform: PLATFORM, arch: ARCH });
  }

  /** A fresh folder in the temp folder. */
  async folder(name: string): Promise<string> {
    const dir = join(this.tmp, `${name}-${++this.counter}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** A fresh install of `version`, as an installer would leave it; `into` is the install folder to make. */
  async install(version: string, into?: string): Promise<string> {
    const dir = into ?? join(this.tmp, `install-${++this.counter}`, APP);
    await cp(this.bundleDir(version), dir, { recursive: true, verbatimSymlinks: true });
    return dir;
  }

  clientOptions(version: string, installDir: string, extra: Partial<CoreOptions> = {}): CoreOptions {
    return {
      appName: APP,
      currentVersion: version,
      installDir,
      metadataUrl: `${this.server.url}/metadata/`,
      targetsUrl: `${this.server.url}/targets/`,
      cacheDir: join(this.tmp, `cache-${++this.counter}`),
      trustedRoot: this.trustedRoot,
      platform: PLATFORM,
      arch: ARCH,
      // Generous: the machine is shared; tests of stalls set their own.
      stallTimeoutMs: 10_000,
      retries: 1,
      ...extra,
    };
  }

  /** A client running a fresh install of `version` with its own empty cache. */
  async client(version: string, extra: Partial<CoreOptions> = {}): Promise<{ client: UpdateClient; options: CoreOptions }> {
    const options = this.clientOptions(version, await this.install(version), extra);
    return { client: new UpdateClient(options), options };
  }

  /** Reads a repository file (`metadata/timestamp.json`). */
  file(path: string): Promise<Buffer> {
    return readFile(join(this.repoDir, path));
  }

  async cleanup(): Promise<void> {
    await this.server.close();
    await rm(this.tmp, { recursive: true, force: true });
  }
}

/** What an update attempt left behind: what is staged, what the cache holds. */
export async function leftovers(options: CoreOptions): Promise<{ staged: StagedUpdate | undefined; targets: string[]; stagedFiles: string[] }> {
  // Listed before findStagedUpdate, which tidies the staged folder up.
  const targets = await listFiles(join(options.cacheDir, 'targets'));
  const stagedFiles = await listFiles(join(options.cacheDir, 'staged'));
  return { staged: await findStagedUpdate(options.cacheDir, options.currentVersion), targets, stagedFiles };
}
