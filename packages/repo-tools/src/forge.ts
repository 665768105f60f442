/**
 * `@tufup/repo-tools/forge`: an Electron Forge publisher that adds the packaged app of every make result
 * to the update repository, as one release.
 *
 *   // forge.config.js
 *   packagerConfig: { extraResource: ['updates/tufup.json'] },
 *   publishers: [{ name: '@tufup/repo-tools/forge', config: { repoDir: 'updates' } }],
 *
 * It implements Forge's publisher contract (PublisherBase of @electron-forge/publisher-base: `name`,
 * `config`, `platforms`, `publish(options)`) without importing Forge: Forge constructs it from the module's
 * default export with `new Publisher(config, platforms)`, and the types here are the narrow part of
 * Forge's that it reads (the tests check Forge's own types against them).
 */
import { readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { errnoOf, TRUST_FILE } from '@tufup/bundle';
import { ioError, RepoError } from './error.js';
import { addPackagedRelease, checkPackagedTrust, findMacApp, isDirectory, nodeArchsOf, shipSettings, type PackagedApp, type ShipOptions } from './packaged.js';
import type { AddResult } from './release.js';

/** What the publisher reads of one of Forge's `ForgeMakeResult`s. */
export interface ForgeMakeResultInfo {
  /** The distributables the makers wrote, under `<outDir>/make/`. */
  artifacts: string[];
  /** package.json as it was when the app was made. */
  packageJSON: unknown;
  platform: string;
  arch: string;
}

/** What the publisher reads of Forge's `PublisherOptions`. */
export interface ForgePublishOptions {
  /** The project folder. */
  dir: string;
  makeResults: ForgeMakeResultInfo[];
  forgeConfig: {
    outDir?: string;
    buildIdentifier?: string | (() => string);
    packagerConfig: { name?: string };
  };
  setStatusLine: (statusLine: string) => void;
}

/** The publisher's `config` in forge.config.js: {@link ShipOptions}, and where Forge's output is. */
export interface TufupForgeConfig extends ShipOptions {
  /** Forge's output folder (relative to the project), when `make --out-dir` moved it. @default from the artifacts, else Forge's own */
  outDir?: string;
}

/** The platforms whose apps update themselves; Mac App Store builds are the App Store's to update. */
const SELF_UPDATING = ['linux', 'win32', 'darwin'];

function versionOf(result: ForgeMakeResultInfo): string {
  const pkg = result.packageJSON;
  const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  if (typeof version !== 'string') throw new RepoError('INVALID_VERSION', `the make result for ${result.platform}-${result.arch} has no package.json version`);
  return version;
}

function nameOf(options: ForgePublishOptions, result: ForgeMakeResultInfo): string | undefined {
  const pkg = result.packageJSON as { productName?: unknown; name?: unknown } | null;
  const name = options.forgeConfig.packagerConfig.name ?? pkg?.productName ?? pkg?.name;
  return typeof name === 'string' ? name : undefined;
}

/** Forge's output folders to look in: the configured one, the one the artifacts lie in, Forge's default. */
function outDirs(options: ForgePublishOptions, config: TufupForgeConfig): string[] {
  const dirs: string[] = [];
  if (config.outDir !== undefined) dirs.push(resolve(options.dir, config.outDir));
  for (const result of options.makeResults) {
    for (const artifact of result.artifacts) {
      // Makers write below `<outDir>/make/`.
      const parts = resolve(artifact).split(sep);
      const make = parts.lastIndexOf('make');
      if (make > 0) dirs.push(parts.slice(0, make).join(sep) || sep);
    }
  }
  const { forgeConfig } = options;
  const identifier = typeof forgeConfig.buildIdentifier === 'function' ? forgeConfig.buildIdentifier() : forgeConfig.buildIdentifier;
  const base = resolve(options.dir, forgeConfig.outDir ?? 'out');
  dirs.push(identifier === undefined || identifier === '' ? base : join(base, identifier));
  return [...new Set(dirs)];
}

/**
 * The folder Forge's package step wrote for one platform/arch: `<outDir>/<appName>-<platform>-<arch>`.
 * Forge sanitizes the app name (filenamify), so the folder is found by its suffix, the name breaking ties.
 */
async function packageDirOf(dirs: readonly string[], platform: string, arch: string, appName: string | undefined): Promise<string> {
  const suffix = `-${platform}-${arch}`;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.endsWith(suffix)).map((e) => e.name);
    } catch (cause) {
      if (errnoOf(cause) === 'ENOENT') continue;
      throw ioError(`cannot list ${dir}`, cause);
    }
    const [only] = names;
    if (names.length === 1 && only !== undefined) return join(dir, only);
    const named = names.find((name) => name === `${appName ?? ''}${suffix}`);
    if (named !== undefined) return join(dir, named);
    if (names.length > 1) throw new RepoError('BUNDLE_NOT_FOUND', `several packaged apps for ${platform}-${arch} in ${dir}: ${names.join(', ')}`);
  }
  throw new RepoError('BUNDLE_NOT_FOUND', `no packaged app for ${platform}-${arch} (a folder named "<app>${suffix}") in ${dirs.join(' or ')}`);
}

/** Forge's publisher for tufup update repositories. */
export default class TufupPublisher {
  readonly name = 'tufup';
  readonly defaultPlatforms = SELF_UPDATING;
  /** What the last publish added. */
  added: AddResult[] = [];
  declare readonly __isElectronForgePublisher: true;

  constructor(
    readonly config: TufupForgeConfig = {},
    private readonly platformsToPublishOn?: string[],
  ) {
    // As PublisherBase marks its instances, so a publisher given as an object in forge.config.js is used as is.
    Object.defineProperty(this, '__isElectronForgePublisher', { value: true, enumerable: false, configurable: false });
  }

  get platforms(): string[] {
    return this.platformsToPublishOn ?? this.defaultPlatforms;
  }

  async publish(options: ForgePublishOptions): Promise<void> {
    const settings = await shipSettings(this.config, options.dir);
    if (settings.skip) return;
    const dirs = outDirs(options, this.config);
    const apps: PackagedApp[] = [];
    const versions = new Set<string>();
    const seen = new Set<string>();
    for (const result of options.makeResults) {
      const key = `${result.platform}-${result.arch}`;
      // Each maker (zip, dmg, squirrel...) makes a result of the same packaged app.
      if (seen.has(key) || !this.platforms.includes(result.platform)) continue;
      seen.add(key);
      if (!SELF_UPDATING.includes(result.platform)) {
        settings.logger.warn(`${key} is not added: the App Store updates Mac App Store builds`);
        continue;
      }
      versions.add(versionOf(result));
      const packageDir = await packageDirOf(dirs, result.platform, result.arch, nameOf(options, result));
      const installDir = result.platform === 'darwin' ? await findMacApp(packageDir, nameOf(options, result)) : packageDir;
      if (!(await isDirectory(installDir))) throw new RepoError('BUNDLE_NOT_FOUND', `${installDir} is not a folder`);
      options.setStatusLine(`checking ${relative(options.dir, installDir)}`);
      await checkPackagedTrust(
        settings,
        { installDir, platform: result.platform },
        `Ship it with packagerConfig: { extraResource: ['${relative(options.dir, settings.repoDir).split(sep).join('/') || '.'}/${TRUST_FILE}'] } in the Forge config`,
      );
      apps.push({ installDir, platform: result.platform, archs: nodeArchsOf(result.arch), exact: result.arch !== 'universal' });
    }
    if (versions.size > 1) throw new RepoError('USAGE', `the make results have different versions (${[...versions].join(', ')}); one release has one version`);
    const [version] = versions;
    if (version === undefined) {
      settings.logger.warn('no make result to add');
      return;
    }
    options.setStatusLine(`adding ${version} for ${apps.map((a) => `${a.platform}-${a.archs.join('+')}`).join(', ')} to ${settings.repoDir}`);
    this.added = await addPackagedRelease(settings, apps, version);
    options.setStatusLine(`added ${version} for ${this.added.map((r) => `${r.platform}-${r.arch}`).join(', ')}`);
  }
}

export { TufupPublisher };
export { SHIP_ENV, type ShipOptions } from './packaged.js';
