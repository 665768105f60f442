import { cp, lstat, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Arch, build, Platform, type Configuration } from 'app-builder-lib';
import { rejectionOf } from '@tufup/testkit';
import { digestTarOf, gunzipToBuffer, listTar, parseTrustFile, sameDigest, scanBundle } from '@tufup/bundle';
import { tufupHooks } from '../src/electron-builder.js';
import { initRepository, loadRepository, releasesOf, repositoryStatus, verifyRepository } from '../src/index.js';
import { ELECTRON_VERSION, electronDists } from './helpers/electron-dist.js';
import { tempDir, treeHash } from './helpers/fixtures.js';

/** An app project as electron-builder sees it: package.json with a productName that is no valid app name, and its main. */
async function writeProject(dir: string, version: string): Promise<string> {
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'my-app', productName: 'My App', version, main: 'main.js', description: 'A test app', author: 'Tester' }, null, 2),
  );
  await writeFile(join(dir, 'main.js'), `console.log('My App ${version}');\n${'// the app\n'.repeat(500)}`);
  return dir;
}

/** Every platform/arch electron-builder can pack on Linux from a stand-in Electron: linux x64/arm64, win x64, mac x64/arm64. */
const ALL_TARGETS = new Map([
  [Platform.LINUX, new Map([[Arch.x64, ['dir']], [Arch.arm64, ['dir']]])],
  [Platform.WINDOWS, new Map([[Arch.x64, ['dir']]])],
  [Platform.MAC, new Map([[Arch.x64, ['dir']], [Arch.arm64, ['dir']]])],
]);

/** The install folder of each platform/arch in electron-builder's output. */
const OUTPUTS: Record<string, string> = {
  'linux-x64': 'dist/linux-unpacked',
  'linux-arm64': 'dist/linux-arm64-unpacked',
  'win32-x64': 'dist/win-unpacked',
  'darwin-x64': 'dist/mac/My App.app',
  'darwin-arm64': 'dist/mac-arm64/My App.app',
};

describe('@tufup/repo-tools/electron-builder, run by electron-builder itself', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let project: string;
  let repoDir: string;
  let base: Configuration;

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    project = await writeProject(tmp, '1.0.0');
    repoDir = join(project, 'updates');
    await initRepository({ repoDir, keysDir: join(tmp, 'keys'), appName: 'my-app', url: 'https://updates.example.com/my-app' });
    const dists = await electronDists(join(tmp, 'electron'));
    base = {
      directories: { output: 'dist' },
      electronVersion: ELECTRON_VERSION,
      electronDist: (options) => dists[options.platformName === 'darwin' || options.platformName === 'mas' ? 'darwin' : options.platformName],
      npmRebuild: false,
    };
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await cleanup();
  });

  it('named in the config, adds every platform/arch of a build as one release, byte for byte what was packaged', async () => {
    vi.stubEnv('TUFUP_REPO_DIR', 'updates');
    const config: Configuration = {
      ...base,
      afterPack: '@tufup/repo-tools/electron-builder',
      afterAllArtifactBuild: '@tufup/repo-tools/electron-builder',
      extraResources: [{ from: 'updates/tufup.json', to: 'tufup.json' }],
    };
    await build({ projectDir: project, targets: ALL_TARGETS, config });
    const before = await loadRepository(repoDir);
    // One release: one new targets version for all five platform/archs.
    expect(before.targets.signed.version).toBe(2);
    const releases = releasesOf(before);
    expect([...releases.keys()]).toEqual(Object.keys(OUTPUTS).sort());
    for (const [key, output] of Object.entries(OUTPUTS)) {
      const release = releases.get(key)?.[0];
      expect(release?.version).toBe('1.0.0');
      const folder = join(project, output);
      // The archive holds exactly the packaged folder, the shipped trust file included.
      expect(sameDigest(await digestTarOf(folder, await scanBundle(folder)), release?.archive?.custom.tufup.tar ?? { sha256: '', size: 0 })).toBe(true);
      const resources = key.startsWith('darwin') ? join(folder, 'Contents', 'Resources') : join(folder, 'resources');
      expect(parseTrustFile(await readFile(join(resources, 'tufup.json')))).toMatchObject({ appName: 'my-app', url: 'https://updates.example.com/my-app' });
    }
    // The macOS release is the .app, its framework symlinks kept as links.
    const mac = join(project, OUTPUTS['darwin-arm64'] ?? '');
    const current = 'Contents/Frameworks/Electron Framework.framework/Versions/Current';
    expect((await lstat(join(mac, current))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(mac, current))).toBe('A');
    const macArchive = releases.get('darwin-arm64')?.[0]?.archive?.file ?? '';
    const entries = await listTar(await gunzipToBuffer(join(repoDir, macArchive)));
    expect(entries.find((e) => e.path === current)).toMatchObject({ type: 'symlink', linkname: 'A' });
    expect(entries.find((e) => e.path === 'Contents/MacOS/My App')?.mode).toBe(0o755);

    // The next build adds 1.1.0 everywhere, each with a patch from 1.0.0.
    await writeProject(project, '1.1.0');
    await build({ projectDir: project, targets: ALL_TARGETS, config });
    const status = await repositoryStatus({ repoDir });
    expect(status.platforms.map((p) => `${p.platform}-${p.arch}: ${p.versions.map((v) => `${v.version}${v.patch ? ` (patch from ${v.patch.base})` : ''}`).join(', ')}`)).toEqual(
      Object.keys(OUTPUTS)
        .sort()
        .map((key) => `${key}: 1.0.0, 1.1.0 (patch from 1.0.0)`),
    );
    expect((await verifyRepository({ repoDir })).patchesApplied).toBe(5);
  });

  it('tufupHooks(options) in a JavaScript config: an app built without the trust file fails at afterPack and adds nothing', async () => {
    const hooks = tufupHooks({ repoDir: 'updates', logger: { info: () => undefined, warn: () => undefined } });
    expect(hooks.extraResource).toEqual({ from: 'updates/tufup.json', to: 'tufup.json' });
    const before = await treeHash(repoDir);
    const linux = new Map([[Platform.LINUX, new Map([[Arch.x64, ['dir']]])]]);
    const failed = await rejectionOf(build({ projectDir: project, targets: linux, config: { ...base, afterPack: hooks.afterPack, afterAllArtifactBuild: hooks.afterAllArtifactBuild } }), Error);
    expect(failed).toMatchObject({ code: 'TRUST_MISMATCH' });
    expect(failed.message).toContain('resources/tufup.json is missing');
    expect(failed.message).toContain('"extraResources": [{ "from": "updates/tufup.json", "to": "tufup.json" }]');
    expect(await treeHash(repoDir)).toBe(before);

    // With the entry the hooks offer, the same build adds the release.
    await build({
      projectDir: project,
      targets: linux,
      config: { ...base, afterPack: hooks.afterPack, afterAllArtifactBuild: hooks.afterAllArtifactBuild, extraResources: [hooks.extraResource ?? ''] },
    });
    expect(hooks.added.map((r) => `${r.platform}-${r.arch} ${r.version}`)).toEqual(['linux-x64 1.0.0']);
  });

  it('TUFUP_SKIP=1 packages without a repository; afterAllArtifactBuild alone says afterPack is missing', async () => {
    const linux = new Map([[Platform.LINUX, new Map([[Arch.x64, ['dir']]])]]);
    vi.stubEnv('TUFUP_SKIP', '1');
    const hooked: Configuration = { ...base, afterPack: '@tufup/repo-tools/electron-builder', afterAllArtifactBuild: '@tufup/repo-tools/electron-builder' };
    await build({ projectDir: project, targets: linux, config: hooked });
    expect((await loadRepository(repoDir)).targets.signed.version).toBe(1);
    vi.stubEnv('TUFUP_SKIP', undefined);
    vi.stubEnv('TUFUP_REPO_DIR', 'updates');
    const onlyLast = await rejectionOf(build({ projectDir: project, targets: linux, config: { ...base, afterAllArtifactBuild: '@tufup/repo-tools/electron-builder' } }), Error);
    expect(onlyLast).toMatchObject({ code: 'USAGE' });
    expect(onlyLast.message).toContain('set "afterPack" to "@tufup/repo-tools/electron-builder"');
    expect((await loadRepository(repoDir)).targets.signed.version).toBe(1);
  });

  it('a universal macOS build serves darwin-x64 and darwin-arm64; a build made for one arch wins for that arch', async () => {
    // electron-builder packs a universal app only on macOS (@electron/universal refuses Linux), so the hook
    // calls of MacPackager.doUniversalPack are replayed: each arch in a temporary folder, removed after the
    // merge, then the universal app.
    const hooks = tufupHooks({ repoDir: 'updates', logger: { info: () => undefined, warn: () => undefined } });
    const config = {};
    const packager = { projectDir: project, config, appInfo: { productFilename: 'My App', version: '1.0.0' } };
    const macApp = async (outDir: string, marker: string): Promise<string> => {
      const app = join(project, 'dist', outDir, 'My App.app');
      await mkdir(join(app, 'Contents', 'MacOS'), { recursive: true });
      await mkdir(join(app, 'Contents', 'Resources'), { recursive: true });
      await writeFile(join(app, 'Contents', 'MacOS', 'My App'), marker);
      await cp(join(repoDir, 'tufup.json'), join(app, 'Contents', 'Resources', 'tufup.json'));
      return join(project, 'dist', outDir);
    };
    const temp = [await macApp('mac-universal-x64-temp', 'x64'), await macApp('mac-universal-arm64-temp', 'arm64')];
    await hooks.afterPack({ appOutDir: temp[0] ?? '', electronPlatformName: 'darwin', arch: Arch.x64, packager });
    await hooks.afterPack({ appOutDir: temp[1] ?? '', electronPlatformName: 'darwin', arch: Arch.arm64, packager });
    const universal = await macApp('mac-universal', 'universal');
    for (const dir of temp) await rm(dir, { recursive: true });
    await hooks.afterPack({ appOutDir: universal, electronPlatformName: 'darwin', arch: Arch.universal, packager });
    await hooks.afterAllArtifactBuild({ outDir: join(project, 'dist'), configuration: config });
    expect(hooks.added.map((r) => `${r.platform}-${r.arch}`)).toEqual(['darwin-x64', 'darwin-arm64']);
    expect(new Set(hooks.added.map((r) => r.tar.sha256)).size).toBe(1);

    // The next build makes universal and a dedicated x64 app: x64 clients get the dedicated one.
    packager.appInfo.version = '1.1.0';
    const x64 = await macApp('mac', 'x64 only');
    await hooks.afterPack({ appOutDir: x64, electronPlatformName: 'darwin', arch: Arch.x64, packager });
    await hooks.afterPack({ appOutDir: await macApp('mac-universal', 'universal 1.1.0'), electronPlatformName: 'darwin', arch: Arch.universal, packager });
    await hooks.afterAllArtifactBuild({ outDir: join(project, 'dist'), configuration: config });
    const byKey = Object.fromEntries(hooks.added.map((r) => [`${r.platform}-${r.arch}`, r.tar.sha256]));
    expect(byKey['darwin-x64']).not.toBe(byKey['darwin-arm64']);
    expect(byKey['darwin-x64']).toBe(await digestTarOf(join(x64, 'My App.app'), await scanBundle(join(x64, 'My App.app'))).then((d) => d.sha256));
  });
});
