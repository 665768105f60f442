import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addRelease, loadRepository, releasesOf } from '../src/index.js';
import { codeOf, tempRepo, treeHash, writeBundle } from './helpers/fixtures.js';

describe('addRelease: one version for several platforms at once', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;

  beforeEach(async () => {
    ({ tmp, repoDir, keysDir, cleanup } = await tempRepo({ appName: 'my-app' }));
  });
  afterEach(() => cleanup());

  it('signs every platform of the release in one new targets version, each with its patch', async () => {
    const bundles = async (step: number): Promise<{ bundleDir: string; platform: string; arch: string }[]> => [
      { bundleDir: await writeBundle(join(tmp, `linux-${step}`), step), platform: 'linux', arch: 'x64' },
      { bundleDir: await writeBundle(join(tmp, `win-${step}`), step + 10), platform: 'win32', arch: 'x64' },
    ];
    const first = await addRelease({ repoDir, keysDir, version: '1.0.0', bundles: await bundles(0) });
    expect(first.map((r) => `${r.platform}-${r.arch} v${r.metadata.targets}`)).toEqual(['linux-x64 v2', 'win32-x64 v2']);
    const second = await addRelease({ repoDir, keysDir, version: '1.1.0', bundles: await bundles(1), releaseNotes: 'Both' });
    expect(second.map((r) => r.patch?.base)).toEqual(['1.0.0', '1.0.0']);
    const state = await loadRepository(repoDir);
    expect(state.targets.signed.version).toBe(3);
    expect([...releasesOf(state).values()].map((versions) => versions.map((v) => v.version))).toEqual([
      ['1.0.0', '1.1.0'],
      ['1.0.0', '1.1.0'],
    ]);
  });

  it('adds nothing for any platform when one bundle fails, and refuses two bundles for one platform/arch', async () => {
    const before = await treeHash(repoDir);
    const good = await writeBundle(join(tmp, 'good'), 0);
    expect(
      await codeOf(
        addRelease({
          repoDir,
          keysDir,
          version: '1.0.0',
          bundles: [
            { bundleDir: good, platform: 'linux', arch: 'x64' },
            { bundleDir: join(tmp, 'missing'), platform: 'darwin', arch: 'arm64' },
          ],
        }),
      ),
    ).toBe('BUNDLE_NOT_FOUND');
    expect(await treeHash(repoDir)).toBe(before);
    const twice = [
      { bundleDir: good, platform: 'linux', arch: 'x64' },
      { bundleDir: good, platform: 'linux', arch: 'x64' },
    ];
    expect(await codeOf(addRelease({ repoDir, keysDir, version: '1.0.0', bundles: twice }))).toBe('USAGE');
    expect(await codeOf(addRelease({ repoDir, keysDir, version: '1.0.0', bundles: [] }))).toBe('USAGE');
    expect(await treeHash(repoDir)).toBe(before);
  });
});
