import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addBundle, initRepository, type RoleName } from '@tufup/repo-tools';
import { findStagedUpdate, UpdateClient, type CoreOptions, type StagedUpdate } from '@tufup/electron-client/core';
import { noise, readTree, type TreeEntry } from '../../packages/electron-client/test/helpers/fixture.js';
import { LoopbackServer } from '../../packages/electron-client/test/helpers/server.js';

export { readTree, type TreeEntry };

export const APP = 'tufapp';
export const PLATFORM = 'linux';
export const ARCH = 'x64';
/** The folder of this build's targets, in the repository and in the client's cache. */
export const BUILD = `${PLATFORM}-${ARCH}`;

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

/** Every file below `dir` (relative paths), or [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

/** Options of {@link Repo.create}. */
export interface RepoSetup {
  thresholds?: Partial<Record<RoleName, number>>;
  keyCounts?: Partial<Record<RoleName, number>>;
}

/** A repository made with @tufup/repo-tools in a temp folder, served by a {@link LoopbackServer} on 127.0.0.1. */
export class Repo {
  readonly repoDir: string;
  readonly keysDir: string;
  readonly server: LoopbackServer;
  private counter = 0;

  private constructor(readonly tmp: string) {
    this.repoDir = join(tmp, 'repo');
    this.keysDir = join(tmp, 'keys');
    this.server = new LoopbackServer(this.repoDir);
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

  /** Publishes each version in turn; the tree of each bundle, which an install of that version must equal. */
  async publishAll(versions: readonly string[]): Promise<Record<string, TreeEntry[]>> {
    const trees: Record<string, TreeEntry[]> = {};
    for (const version of versions) {
      await this.publish(version);
      trees[version] = await readTree(this.bundleDir(version));
    }
    return trees;
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
