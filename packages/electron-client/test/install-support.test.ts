import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSupport, probeInstall, type InstallFacts, type UnsupportedReason } from '../src/main/install-support.js';

/** A packaged, writable Linux install: supported. Each case changes the facts that make it not. */
const linux: InstallFacts = { platform: 'linux', packaged: true, installDirGiven: false, installDir: '/home/me/.local/opt/My App', env: {}, writable: 'ok', ownerUid: 1000, uid: 1000 };

function reason(facts: Partial<InstallFacts>): UnsupportedReason | undefined {
  const support = installSupport({ ...linux, ...facts });
  return support.supported ? undefined : support.reason;
}

describe('whether an install can update itself, decided from facts before any download', () => {
  it('a packaged install this user can write, on any system, can', () => {
    expect(installSupport(linux)).toEqual({ supported: true });
    expect(reason({ platform: 'win32', installDir: 'C:\\Users\\me\\AppData\\Local\\Programs\\My App', env: { ProgramFiles: 'C:\\Program Files' } })).toBeUndefined();
    expect(reason({ platform: 'darwin', installDir: '/Applications/My App.app' })).toBeUndefined();
  });

  it('an app started unpackaged (electron .) cannot, unless installDir is given to try updates in development', () => {
    expect(reason({ packaged: false })).toBe('unpackaged');
    expect(reason({ packaged: false, installDirGiven: true })).toBeUndefined();
  });

  it('an AppImage can, as one file, where its folder is writable (and not in a root-owned one)', () => {
    const appImage = { installDir: '/home/me/Apps/My_App.AppImage', env: { APPIMAGE: '/home/me/Apps/My_App.AppImage', APPDIR: '/tmp/.mount_My_AppX' } };
    expect(reason(appImage)).toBeUndefined();
    expect(reason({ ...appImage, installDir: '/opt/My_App.AppImage', writable: 'EACCES', ownerUid: 0 })).toBe('system-package');
  });

  it('a Squirrel.Windows layout (app-x.y.z beside Update.exe) cannot: Squirrel switches versions itself', () => {
    const squirrel = { platform: 'win32' as const, installDir: 'C:\\Users\\me\\AppData\\Local\\my_app\\app-1.2.0' };
    expect(reason({ ...squirrel, updateExeBeside: true })).toBe('squirrel-windows');
    expect(reason({ ...squirrel, updateExeBeside: false })).toBeUndefined();
  });

  it('a translocated macOS app cannot, nor one run from a read-only volume (a DMG)', () => {
    expect(reason({ platform: 'darwin', installDir: '/private/var/folders/x/T/AppTranslocation/4C1E/d/My App.app' })).toBe('app-translocation');
    expect(reason({ platform: 'darwin', installDir: '/Volumes/My App/My App.app', writable: 'EROFS' })).toBe('read-only-volume');
  });

  it('a root-owned system install (deb/rpm under /opt) cannot, unless the app runs as root', () => {
    expect(reason({ installDir: '/opt/My App', writable: 'EACCES', ownerUid: 0, uid: 1000 })).toBe('system-package');
    expect(reason({ installDir: '/opt/My App', writable: 'ok', ownerUid: 0, uid: 0 })).toBeUndefined();
  });

  it('a per-machine Windows install under Program Files cannot without write access', () => {
    const programFiles = { platform: 'win32' as const, env: { ProgramFiles: 'C:\\Program Files', 'ProgramFiles(x86)': 'C:\\Program Files (x86)' } };
    expect(reason({ ...programFiles, installDir: 'C:\\Program Files\\My App', writable: 'EPERM' })).toBe('program-files');
    expect(reason({ ...programFiles, installDir: 'c:/program files (x86)/My App', writable: 'EACCES' })).toBe('program-files');
    // Writable (the user gave themselves access): fine.
    expect(reason({ ...programFiles, installDir: 'C:\\Program Files\\My App', writable: 'ok' })).toBeUndefined();
    // Elsewhere and not writable: the general reason.
    expect(reason({ ...programFiles, installDir: 'D:\\Apps\\My App', writable: 'EACCES' })).toBe('not-writable');
  });

  it('says why in a sentence that names the folder', () => {
    const support = installSupport({ ...linux, writable: 'EACCES', ownerUid: 1001 });
    expect(support).toEqual({ supported: false, reason: 'not-writable', message: expect.stringContaining('/home/me/.local/opt/My App') as unknown });
  });
});

describe('the facts, gathered on this system', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tufup-probe-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('finds a folder this user owns writable, and leaves nothing behind in or beside it', async () => {
    const installDir = join(root, 'My App');
    await mkdir(installDir);
    const facts = probeInstall({ platform: 'linux', packaged: true, installDirGiven: false, installDir, env: {} });
    expect(facts).toMatchObject({ writable: 'ok', ownerUid: process.getuid?.() });
    expect(installSupport(facts)).toEqual({ supported: true });
    expect(await readdir(root)).toEqual(['My App']);
    expect(await readdir(installDir)).toEqual([]);
  });

  it('finds a missing install folder not writable', () => {
    const facts = probeInstall({ platform: 'linux', packaged: true, installDirGiven: false, installDir: join(root, 'gone'), env: {} });
    expect(facts.writable).toBe('ENOENT');
    expect(installSupport(facts)).toMatchObject({ supported: false, reason: 'not-writable' });
  });

  it.skipIf(process.getuid?.() === 0)('finds a folder without write permission not writable', async () => {
    const installDir = join(root, 'locked');
    await mkdir(installDir);
    await chmod(installDir, 0o555);
    try {
      expect(probeInstall({ platform: 'linux', packaged: true, installDirGiven: false, installDir, env: {} }).writable).toBe('EACCES');
    } finally {
      await chmod(installDir, 0o755);
    }
  });

  it('does not look at the disk for an unpackaged app', () => {
    expect(probeInstall({ platform: 'linux', packaged: false, installDirGiven: false, installDir: join(root, 'gone'), env: {} }).writable).toBe('ok');
  });
});
