import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packager, type Options as PackagerOptions } from '@electron/packager';
import type { PublisherBase, PublisherOptions } from '@electron-forge/publisher-base';
import type { ForgeMakeResult, ForgePlatform, IForgePluginInterface, ResolvedForgeConfig } from '@electron-forge/shared-types';
import { rejectionOf } from '@tufup/testkit';
import { digestTarOf, parseTrustFile, scanBundle } from '@tufup/bundle';
import type TufupPublisher from '../src/forge.js';
import type { TufupForgeConfig } from '../src/forge.js';
import { initRepository, loadRepository, releasesOf, verifyRepository } from '../src/index.js';
import { ELECTRON_VERSION, electronDists } from './helpers/electron-dist.js';
import { tempDir, treeHash } from './helpers/fixtures.js';
import { zipFolder } from './helpers/zip.js';

/** The platform/archs Forge packages and makes in these tests, as `electron-forge make --platform P --arch A` would. */
const BUILDS: [ForgePlatform, string][] = [
  ['linux', 'x64'],
  ['win32', 'x64'],
  ['darwin', 'arm64'],
  ['darwin', 'x64'],
];

/** Forge's plugin interface, which a publisher never touches: only its shape is needed in the config. */
const noPlugins: IForgePluginInterface = {
  triggerHook: () => Promise.resolve(),
  getHookListrTasks: () => Promise.resolve([]),
  triggerMutatingHook: (_name, item) => Promise.resolve(item),
  overrideStartLogic: () => Promise.resolve(false),
};

/** Loads the publisher as Forge's importSearch does (require, then the default export) and constructs it. */
function loadPublisher(config: TufupForgeConfig, platforms?: ForgePlatform[]): TufupPublisher {
  const loaded = createRequire(import.meta.url)('@tufup/repo-tools/forge') as { default?: typeof TufupPublisher };
  const Publisher = loaded.default;
  if (Publisher === undefined) throw new Error('@tufup/repo-tools/forge has no default export');
  return new Publisher(config, platforms);
}

describe('@tufup/repo-tools/forge, a Forge publisher, over apps packaged by @electron/packager as Forge packages them', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let project: string;
  let repoDir: string;
  let zips: string;
  const quiet = { info: () => undefined, warn: () => undefined };
  // `electron-forge` runs in the project folder, where users write 'updates/tufup.json'; the tests run elsewhere.
  const trustFile = (): string => join(repoDir, 'tufup.json');

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    project = join(tmp, 'project');
    await mkdir(project);
    repoDir = join(project, 'updates');
    await initRepository({ repoDir, keysDir: join(tmp, 'keys'), appName: 'my-app' });
    // Electron's release zips, as @electron/get would download them, from the stand-in distributions.
    const dists = await electronDists(join(tmp, 'electron'));
    zips = join(tmp, 'zips');
    await mkdir(zips);
    for (const [platform, arch] of BUILDS) {
      await zipFolder(dists[platform === 'darwin' ? 'darwin' : platform === 'win32' ? 'win32' : 'linux'], join(zips, `electron-v${ELECTRON_VERSION}-${platform}-${arch}.zip`));
    }
  });
  afterEach(() => cleanup());

  /** `electron-forge make` for each platform/arch: the package step (real @electron/packager, with Forge's options), then a zip maker's artifact. */
  async function forgeMake(version: string, packagerConfig: ResolvedForgeConfig['packagerConfig'], outDir = join(project, 'out')): Promise<{ forgeConfig: ResolvedForgeConfig; makeResults: ForgeMakeResult[] }> {
    const packageJSON = { name: 'my-app', productName: 'My App', version, main: 'main.js', devDependencies: { electron: ELECTRON_VERSION } };
    await writeFile(join(project, 'package.json'), JSON.stringify(packageJSON, null, 2));
    await writeFile(join(project, 'main.js'), `console.log('My App ${version}');\n`);
    const forgeConfig: ResolvedForgeConfig = {
      packagerConfig,
      rebuildConfig: {},
      makers: [{ name: '@electron-forge/maker-zip', config: {} }],
      publishers: [{ name: '@tufup/repo-tools/forge', config: { repoDir: 'updates' } }],
      plugins: [],
      pluginInterface: noPlugins,
    };
    const makeResults: ForgeMakeResult[] = [];
    for (const [platform, arch] of BUILDS) {
      const options: PackagerOptions = {
        asar: false,
        overwrite: true,
        ignore: [/^\/out\//g, /^\/updates\//g],
        quiet: true,
        ...forgeConfig.packagerConfig,
        dir: project,
        arch,
        platform,
        out: outDir,
        electronVersion: ELECTRON_VERSION,
        electronZipDir: zips,
        prune: false,
      };
      await packager(options);
      const artifact = join(outDir, 'make', 'zip', platform, arch, `My App-${platform}-${arch}-${version}.zip`);
      await mkdir(join(artifact, '..'), { recursive: true });
      await writeFile(artifact, 'zip');
      makeResults.push({ artifacts: [artifact], packageJSON, platform, arch });
    }
    return { forgeConfig, makeResults };
  }

  it('adds the packaged app of every make result as one release; the next make adds patches', async () => {
    const status: string[] = [];
    const publisher = loadPublisher({ repoDir: 'updates', logger: quiet });
    // Forge's publisher contract, checked against Forge's own types.
    const forgeShaped: Pick<PublisherBase<TufupForgeConfig>, 'name' | 'config' | 'platforms' | 'publish' | '__isElectronForgePublisher'> = publisher;
    expect(forgeShaped.__isElectronForgePublisher).toBe(true);
    expect(publisher.platforms).toEqual(['linux', 'win32', 'darwin']);

    const first = await forgeMake('1.0.0', { extraResource: [trustFile()] });
    const options: PublisherOptions = { dir: project, ...first, setStatusLine: (line) => status.push(line) };
    await forgeShaped.publish(options);
    const state = await loadRepository(repoDir);
    expect(state.targets.signed.version).toBe(2);
    const releases = releasesOf(state);
    const folders: Record<string, string> = {
      'linux-x64': 'out/My App-linux-x64',
      'win32-x64': 'out/My App-win32-x64',
      'darwin-arm64': 'out/My App-darwin-arm64/My App.app',
      'darwin-x64': 'out/My App-darwin-x64/My App.app',
    };
    expect([...releases.keys()]).toEqual(Object.keys(folders).sort());
    for (const [key, folder] of Object.entries(folders)) {
      const dir = join(project, folder);
      expect(releases.get(key)?.[0]?.archive?.custom.tufup.tar).toEqual(await digestTarOf(dir, await scanBundle(dir)));
      const resources = key.startsWith('darwin') ? join(dir, 'Contents', 'Resources') : join(dir, 'resources');
      expect(parseTrustFile(await readFile(join(resources, 'tufup.json'))).appName).toBe('my-app');
    }
    expect(status.at(-1)).toBe('added 1.0.0 for linux-x64, win32-x64, darwin-arm64, darwin-x64');

    const second = await forgeMake('1.1.0', { extraResource: [trustFile()] });
    await loadPublisher({ repoDir: 'updates', logger: quiet }).publish({ dir: project, ...second, setStatusLine: () => undefined });
    const verified = await verifyRepository({ repoDir });
    expect(verified.patchesApplied).toBe(4);
  });

  it('finds the apps of `make --out-dir` through the artifacts, and publishes only the platforms it was given', async () => {
    const made = await forgeMake('1.0.0', { extraResource: [trustFile()] }, join(tmp, 'elsewhere'));
    const publisher = loadPublisher({ repoDir: 'updates', logger: quiet }, ['darwin']);
    await publisher.publish({ dir: project, ...made, setStatusLine: () => undefined });
    expect(publisher.added.map((r) => `${r.platform}-${r.arch}`)).toEqual(['darwin-arm64', 'darwin-x64']);
  });

  it('refuses an app packaged without the trust file, naming the Forge setting, and adds nothing', async () => {
    const made = await forgeMake('1.0.0', {});
    const before = await treeHash(repoDir);
    const failed = await rejectionOf(loadPublisher({ repoDir: 'updates', logger: quiet }).publish({ dir: project, ...made, setStatusLine: () => undefined }), Error);
    expect(failed).toMatchObject({ code: 'TRUST_MISMATCH' });
    expect(failed.message).toContain("packagerConfig: { extraResource: ['updates/tufup.json'] }");
    expect(await treeHash(repoDir)).toBe(before);
    // A package folder that is gone is named, too.
    await rename(join(project, 'out', 'My App-linux-x64'), join(project, 'out', 'moved'));
    const gone = await rejectionOf(loadPublisher({ repoDir: 'updates', logger: quiet }).publish({ dir: project, ...made, setStatusLine: () => undefined }), Error);
    expect(gone).toMatchObject({ code: 'BUNDLE_NOT_FOUND' });
    expect(gone.message).toContain('no packaged app for linux-x64');
  });
});
