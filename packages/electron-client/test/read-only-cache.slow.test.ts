import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateError } from '../src/core/index.js';
import { TufupUpdater } from '../src/main/updater.js';
import { UpdateError as CoreUpdateError } from '@tufup/electron-client/core';
import { codeOf, mountSmallDisk } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';
import { StandinElectron } from './standin/electron.js';

/** A staged record of `version` that the next look at the cache must remove (it is no longer newer). */
async function leaveStaleRecord(cacheDir: string, version: string): Promise<void> {
  await mkdir(join(cacheDir, 'staged'), { recursive: true });
  await writeFile(join(cacheDir, 'staged', `${version}.json`), JSON.stringify({ version, tar: { sha256: '0'.repeat(64), size: 1 }, strategy: 'full' }));
}

// A cache on a disk remounted read-only (EROFS): every failure must still be an UpdateError with DISK.
describe('a cache folder that has turned read-only', () => {
  let fixture: TestRepo;
  let tmp: string;

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('1.0.0');
    await fixture.publish('1.1.0');
    tmp = await mkdtemp(join(tmpdir(), 'tufup-ro-'));
  });
  afterAll(async () => {
    await fixture.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  it('makes downloadUpdate reject with DISK, not a raw EROFS', async (ctx) => {
    const disk = await mountSmallDisk(join(tmp, 'core'), 16 * 1024);
    if (typeof disk === 'string') return ctx.skip(disk);
    try {
      const { client } = await fixture.client('1.0.0', { cacheDir: disk.dir });
      const info = (await client.checkForUpdates())!;
      await leaveStaleRecord(disk.dir, '1.0.0');
      disk.remount('ro');
      // The fixture's client is the built core, so its error is the built class.
      expect(await codeOf(client.downloadUpdate(info), CoreUpdateError)).toBe('DISK');
    } finally {
      await disk.unmount();
    }
  });

  it('makes applyPendingUpdate reject with DISK, reported as an error event and status', async (ctx) => {
    const disk = await mountSmallDisk(join(tmp, 'cache'), 1024);
    if (typeof disk === 'string') return ctx.skip(disk);
    // A writable install: only the cache is read-only.
    await mkdir(join(tmp, 'install', 'resources'), { recursive: true });
    const electron = new StandinElectron({
      name: 'demoapp',
      version: '1.4.2',
      userData: join(tmp, 'userData'),
      resourcesPath: join(tmp, 'install', 'resources'),
      execPath: join(tmp, 'install', 'demoapp'),
    });
    const updater = new TufupUpdater({ url: 'http://127.0.0.1:9/', cacheDir: disk.dir }, electron);
    try {
      await leaveStaleRecord(updater.cacheDir, '1.0.0');
      disk.remount('ro');
      const codes: string[] = [];
      updater.on('error', (error) => codes.push(error.code));
      const error: unknown = await updater.applyPendingUpdate().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UpdateError);
      expect((error as UpdateError).code).toBe('DISK');
      expect(codes).toEqual(['DISK']);
      expect(updater.getStatus()).toMatchObject({ state: 'error', error: { code: 'DISK' } });
      expect(electron.quitCount).toBe(0);
    } finally {
      updater.dispose();
      await disk.unmount();
    }
  });
});
