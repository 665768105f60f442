import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateClient, type CoreOptions } from '@tufup/electron-client/core';
import { addBundle, initRepository, type RoleName } from '@tufup/repo-tools';
import { writeBundle, type BundleShape } from './bundle.js';
import { LoopbackServer } from './server.js';
import { readTree, type Tree } from './tree.js';

export const APP = 'tufapp';
export const PLATFORM = 'linux';
export const ARCH = 'x64';
/** The folder of this build's targets, in the repository and in the client's cache. */
export const BUILD = `${PLATFORM}-${ARCH}`;

/** Options of {@link TestRepo.create}. */
export interface RepoSetup {
  /** The publisher's clock (for expired metadata). @default the real one */
  now?: Date;
  thresholds?: Partial<Record<RoleName, number>>;
  keyCounts?: Partial<Record<RoleName, number>>;
  /** What {@link TestRepo.clientOptions} sets unless told otherwise. @default { stallTimeoutMs: 5000 } */
  clientDefaults?: Partial<CoreOptions>;
}

/** Options of {@link TestRepo.publish}: the bundle's shape and the release's metadata. */
export interface PublishOptions extends BundleShape {
  required?: boolean;
  releaseNotes?: string;
  /** @default 'linux' */
  platform?: string;
  /** Also write the base's entry list into the patch, as repo-tools did before the entries target. */
  entriesInPatch?: boolean;
}

/**
 * A TUF repository made with @tufup/repo-tools with real keys in a temp folder, served by a
 * {@link LoopbackServer} on 127.0.0.1: publish versions, install one as an installer would, and make
 * clients of @tufup/electron-client that update it.
 */
export class TestRepo {
  readonly repoDir: string;
  readonly keysDir: string;
  readonly server: LoopbackServer;
  private counter = 0;

  private constructor(
    readonly tmp: string,
    private readonly setup: RepoSetup,
  ) {
    this.repoDir = join(tmp, 'repo');
    this.keysDir = join(tmp, 'keys');
    this.server = new LoopbackServer(this.repoDir);
  }

  static async create(setup: RepoSetup = {}): Promise<TestRepo> {
    const repo = new TestRepo(await mkdtemp(join(tmpdir(), 'tufup-test-')), setup);
    await initRepository({
      repoDir: repo.repoDir,
      keysDir: repo.keysDir,
      appName: APP,
      ...(setup.thresholds ? { thresholds: setup.thresholds } : {}),
      ...(setup.keyCounts ? { keyCounts: setup.keyCounts } : {}),
      ...(setup.now ? { now: setup.now } : {}),
    });
    await repo.server.start();
    return repo;
  }

  /** A repository made by {@link create} with `versions` published in turn (bundles of the default shape). */
  static async published(versions: readonly string[], setup: RepoSetup = {}): Promise<TestRepo> {
    const repo = await TestRepo.create(setup);
    for (const version of versions) await repo.publish(version);
    return repo;
  }

  get metadataUrl(): string {
    return `${this.server.url}/metadata/`;
  }

  get targetsUrl(): string {
    return `${this.server.url}/targets/`;
  }

  /** The root.json an app ships (version 1, as made by init). */
  get trustedRoot(): string {
    return join(this.repoDir, 'metadata', '1.root.json');
  }

  bundleDir(version: string): string {
    return join(this.tmp, 'bundles', version);
  }

  /** Writes `version`'s bundle and publishes it with the publisher's real keys. */
  async publish(version: string, options: PublishOptions = {}): Promise<void> {
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
      entriesInPatch: options.entriesInPatch === true,
      ...(options.releaseNotes === undefined ? {} : { releaseNotes: options.releaseNotes }),
      ...(this.setup.now ? { now: this.setup.now } : {}),
    });
  }

  /** Publishes each version in turn; the tree of each bundle, which an install of that version must equal. */
  async publishAll(versions: readonly string[]): Promise<Record<string, Tree>> {
    const trees: Record<string, Tree> = {};
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
      ...this.setup.clientDefaults,
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
