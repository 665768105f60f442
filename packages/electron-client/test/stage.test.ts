import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestTarOf, scanBundle } from '@tufup/bundle';
import { findStagedUpdate, type StagedUpdate } from '@tufup/electron-client/core';
import { writeBundle } from '@tufup/testkit';

describe('findStagedUpdate', () => {
  let cacheDir: string;
  const staged = (): string => join(cacheDir, 'staged');

  /** Stages `version` the way downloadUpdate leaves it: the folder, then its record. */
  async function stage(version: string): Promise<StagedUpdate> {
    const dir = join(staged(), version);
    await writeBundle(dir, version, { assetSize: 4096 });
    const record: StagedUpdate = {
      version,
      stagedDir: dir,
      tar: await digestTarOf(dir, await scanBundle(dir)),
      strategy: 'patch',
      downloadedBytes: 123,
      required: false,
      releaseNotes: `notes of ${version}`,
      stagedAt: new Date(0).toISOString(),
    };
    await writeFile(join(staged(), `${version}.json`), JSON.stringify(record));
    return record;
  }

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'tufup-staged-'));
  });
  afterEach(() => rm(cacheDir, { recursive: true, force: true }));

  it('finds nothing in a fresh cache', async () => {
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toBeUndefined();
  });

  it('returns the newest staged version above the running one', async () => {
    await stage('1.1.0');
    const newest = await stage('1.2.0');
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toEqual(newest);
  });

  it('removes versions that are installed or older', async () => {
    await stage('1.1.0');
    await stage('1.2.0');
    expect(await findStagedUpdate(cacheDir, '1.2.0')).toBeUndefined();
    expect(await readdir(staged())).toEqual([]);
  });

  it('removes a staged folder changed by one byte and falls back to an older one that verifies', async () => {
    const older = await stage('1.1.0');
    await stage('1.2.0');
    await appendFile(join(staged(), '1.2.0', 'version.txt'), 'x');
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toEqual(older);
    expect((await readdir(staged())).sort()).toEqual(['1.1.0', '1.1.0.json']);
  });

  it('removes a staged folder that gained a file', async () => {
    await stage('1.1.0');
    await writeFile(join(staged(), '1.1.0', 'intruder.js'), 'evil()');
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toBeUndefined();
    expect(await readdir(staged())).toEqual([]);
  });

  it('removes a record whose folder is gone (moved by the installer)', async () => {
    await stage('1.1.0');
    await rm(join(staged(), '1.1.0'), { recursive: true });
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toBeUndefined();
    expect(await readdir(staged())).toEqual([]);
  });

  it('removes interrupted extractions and unreadable records', async () => {
    const good = await stage('1.1.0');
    await mkdir(join(staged(), '1.3.0'));
    await mkdir(join(staged(), '.1.4.0.partial-999999999-abc'));
    await writeFile(join(staged(), '1.5.0.json'), '{"version": "1.5.0"');
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toEqual(good);
    expect((await readdir(staged())).sort()).toEqual(['1.1.0', '1.1.0.json']);
  });

  it('leaves a folder not yet recorded alone while a live process is staging it', async () => {
    await stage('1.1.0');
    await mkdir(join(staged(), '1.3.0'));
    await writeFile(join(staged(), `.busy-${process.pid}`), '');
    await findStagedUpdate(cacheDir, '1.0.0');
    expect(await readdir(staged())).toContain('1.3.0');
  });

  it('removes excluded (rolled back) versions', async () => {
    const older = await stage('1.1.0');
    await stage('1.2.0');
    expect(await findStagedUpdate(cacheDir, '1.0.0', { excludeVersions: ['1.2.0'] })).toEqual(older);
    expect((await readdir(staged())).sort()).toEqual(['1.1.0', '1.1.0.json']);
  });

  it('always reports the folder next to the record, whatever path the record names', async () => {
    const record = await stage('1.1.0');
    await writeFile(join(staged(), '1.1.0.json'), JSON.stringify({ ...record, stagedDir: '/etc' }));
    expect((await findStagedUpdate(cacheDir, '1.0.0'))?.stagedDir).toBe(join(staged(), '1.1.0'));
  });

  it.each<[string, (record: StagedUpdate) => string]>([
    ['is not JSON', () => '{"version": "1.1.0"'],
    ['names another version than its file name', (r) => JSON.stringify({ ...r, version: '1.2.0' })],
    ['has a version that is not semver', (r) => JSON.stringify({ ...r, version: 'latest' })],
    ['has no tar digest', (r) => JSON.stringify({ ...r, tar: undefined })],
    ['has a tar digest without a size', (r) => JSON.stringify({ ...r, tar: { sha256: r.tar.sha256 } })],
    ['has an unknown strategy', (r) => JSON.stringify({ ...r, strategy: 'delta' })],
  ])('removes a record that %s, with its folder', async (_what, spoil) => {
    const record = await stage('1.1.0');
    await writeFile(join(staged(), '1.1.0.json'), spoil(record));
    expect(await findStagedUpdate(cacheDir, '1.0.0')).toBeUndefined();
    expect(await readdir(staged())).toEqual([]);
  });
});
