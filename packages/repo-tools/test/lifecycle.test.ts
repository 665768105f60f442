import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTargetCustom, type TufupCustom } from '@tufup/bundle';
import {
  addBundle,
  initRepository,
  loadRepository,
  repositoryStatus,
  setRollout,
  unyankRelease,
  verifyRepository,
  yankRelease,
} from '../src/index.js';
import { codeOf, tempDir, treeHash } from './helpers/fixtures.js';

async function smallBundle(dir: string, version: string): Promise<string> {
  await mkdir(join(dir, 'resources'), { recursive: true });
  await writeFile(join(dir, 'resources', 'app.js'), `console.log(${JSON.stringify(version)});\n${'// filler line\n'.repeat(500)}`);
  return dir;
}

/** The signed `custom.tufup` of a version's archive or patch, as a client reads it from targets metadata. */
async function signedCustom(repoDir: string, platformKey: string, version: string, kind: 'archive' | 'patch'): Promise<TufupCustom> {
  const state = await loadRepository(repoDir);
  const path = `${platformKey}/demo-${version}${kind === 'archive' ? '.tar.gz' : '.patch'}`;
  const info = state.targets.signed.targets[path];
  if (info === undefined) throw new Error(`no target ${path}`);
  return parseTargetCustom(info.custom, path).tufup;
}

describe('staged rollouts and yanks in signed targets metadata', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  const add = async (version: string, extra: Partial<Parameters<typeof addBundle>[0]> = {}, platform = 'linux'): Promise<void> => {
    await addBundle({ repoDir, keysDir, bundleDir: await smallBundle(join(tmp, 'b', platform, version), version), version, platform, arch: 'x64', ...extra });
  };
  const versionStatus = async (version: string, platform = 'linux'): Promise<Record<string, unknown>> => {
    const status = await repositoryStatus({ repoDir, keysDir });
    const found = status.platforms.find((p) => p.platform === platform)?.versions.find((v) => v.version === version);
    if (found === undefined) throw new Error(`${version} is not in status`);
    return found as unknown as Record<string, unknown>;
  };

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repoDir = join(tmp, 'repo');
    keysDir = join(tmp, 'keys');
    await initRepository({ repoDir, keysDir, appName: 'demo' });
    await add('1.0.0');
  });
  afterEach(() => cleanup());

  it('add --rollout signs the percentage into the archive only; status shows it', async () => {
    await add('1.1.0', { rollout: 10 });
    expect((await signedCustom(repoDir, 'linux-x64', '1.1.0', 'archive')).rollout).toBe(10);
    expect(await signedCustom(repoDir, 'linux-x64', '1.1.0', 'patch')).not.toHaveProperty('rollout');
    expect(await versionStatus('1.1.0')).toMatchObject({ rollout: 10, offeredTo: 10, required: false });
    // A version published without a rollout is simply for everyone: no field at all.
    expect(await signedCustom(repoDir, 'linux-x64', '1.0.0', 'archive')).not.toHaveProperty('rollout');
    expect(await versionStatus('1.0.0')).toMatchObject({ rollout: 100, offeredTo: 100 });
    await verifyRepository({ repoDir });
  });

  it('rollout widens, completes and pauses a release, re-signing targets each time', async () => {
    await add('1.1.0', { rollout: 10 });
    const widened = await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 50 });
    expect(widened).toMatchObject({ changed: true, releases: [{ platform: 'linux', arch: 'x64', rollout: 50 }] });
    expect((await signedCustom(repoDir, 'linux-x64', '1.1.0', 'archive')).rollout).toBe(50);
    await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 0 });
    expect(await versionStatus('1.1.0')).toMatchObject({ rollout: 0, offeredTo: 0 });
    const done = await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 100 });
    expect(done.metadata.targets).toBe(widened.metadata.targets + 2);
    // Complete means what "never staged" means: the field is gone.
    expect(await signedCustom(repoDir, 'linux-x64', '1.1.0', 'archive')).not.toHaveProperty('rollout');
    await verifyRepository({ repoDir });
  });

  it('a rollout already in place changes nothing, byte for byte', async () => {
    await add('1.1.0', { rollout: 10 });
    const before = await treeHash(repoDir);
    const again = await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 10 });
    expect(again.changed).toBe(false);
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('refuses percentages that are not whole numbers from 0 to 100, and unknown versions, leaving the repository as it was', async () => {
    await add('1.1.0', { rollout: 10 });
    const before = await treeHash(repoDir);
    for (const percent of [101, -1, 12.5, Number.NaN]) {
      expect(await codeOf(setRollout({ repoDir, keysDir, version: '1.1.0', percent }))).toBe('USAGE');
    }
    expect(await codeOf(setRollout({ repoDir, keysDir, version: '9.9.9', percent: 50 }))).toBe('VERSION_NOT_FOUND');
    expect(await codeOf(setRollout({ repoDir, keysDir, version: 'v1', percent: 50 }))).toBe('INVALID_VERSION');
    expect(await codeOf(add('1.2.0', { rollout: 150 }))).toBe('USAGE');
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('a required release is offered to everyone whatever its rollout, and the command says so', async () => {
    await add('1.1.0', { required: true });
    const result = await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 20 });
    expect(result.warnings.join('\n')).toMatch(/1\.1\.0 for linux-x64 is required: clients take it whatever its 20% rollout/);
    expect(await versionStatus('1.1.0')).toMatchObject({ required: true, rollout: 20, offeredTo: 100 });
  });

  it('yank signs the reason and date into the archive; unyank takes it back out', async () => {
    await add('1.1.0');
    const now = new Date('2026-11-26T12:00:00Z');
    const yanked = await yankRelease({ repoDir, keysDir, version: '1.1.0', reason: 'crashes on start with GPU acceleration', now });
    expect(yanked.releases[0]?.yanked).toEqual({ reason: 'crashes on start with GPU acceleration', date: '2026-11-26T12:00:00Z' });
    expect((await signedCustom(repoDir, 'linux-x64', '1.1.0', 'archive')).yanked).toEqual({ reason: 'crashes on start with GPU acceleration', date: '2026-11-26T12:00:00Z' });
    expect(await versionStatus('1.1.0')).toMatchObject({ offeredTo: 0, yanked: { reason: 'crashes on start with GPU acceleration' } });
    // The files stay: installs on 1.0.0 can still patch through 1.1.0 to a later release.
    await verifyRepository({ repoDir });
    expect(yanked.warnings).toEqual([]);

    const back = await unyankRelease({ repoDir, keysDir, version: '1.1.0' });
    expect(back.changed).toBe(true);
    expect(await signedCustom(repoDir, 'linux-x64', '1.1.0', 'archive')).not.toHaveProperty('yanked');
    const before = await treeHash(repoDir);
    expect((await unyankRelease({ repoDir, keysDir, version: '1.1.0' })).changed).toBe(false);
    expect(await treeHash(repoDir)).toBe(before);
  });

  it('yank without a reason is refused; yanking every release warns that installs stay where they are', async () => {
    const before = await treeHash(repoDir);
    expect(await codeOf(yankRelease({ repoDir, keysDir, version: '1.0.0', reason: '   ' }))).toBe('USAGE');
    expect(await codeOf(yankRelease({ repoDir, keysDir, version: '1.0.0', reason: 'x'.repeat(1001) }))).toBe('USAGE');
    expect(await treeHash(repoDir)).toBe(before);
    const result = await yankRelease({ repoDir, keysDir, version: '1.0.0', reason: 'bad build' });
    expect(result.warnings.join('\n')).toMatch(/every release for linux-x64 is yanked/);
  });

  it('yank and rollout act on every platform of the version, or only on the one named', async () => {
    await add('1.0.0', {}, 'darwin');
    const one = await yankRelease({ repoDir, keysDir, version: '1.0.0', platform: 'darwin', arch: 'x64', reason: 'unsigned binary' });
    expect(one.releases.map((r) => r.platform)).toEqual(['darwin']);
    expect(await versionStatus('1.0.0', 'linux')).not.toHaveProperty('yanked');
    expect(await versionStatus('1.0.0', 'darwin')).toMatchObject({ yanked: { reason: 'unsigned binary' } });
    const all = await setRollout({ repoDir, keysDir, version: '1.0.0', percent: 30 });
    expect(all.releases.map((r) => `${r.platform}:${r.rollout}`).sort()).toEqual(['darwin:30', 'linux:30']);
  });

  it('without the targets key nothing is written (MISSING_KEY)', async () => {
    await add('1.1.0');
    await rename(keysDir, `${keysDir}-away`);
    const before = await treeHash(repoDir);
    expect(await codeOf(yankRelease({ repoDir, keysDir, version: '1.1.0', reason: 'bad' }))).toBe('MISSING_KEY');
    expect(await codeOf(setRollout({ repoDir, keysDir, version: '1.1.0', percent: 5 }))).toBe('MISSING_KEY');
    expect(await treeHash(repoDir)).toBe(before);
  });
});
