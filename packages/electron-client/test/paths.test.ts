import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { healthMarkerPath, installerPidPath } from '../src/install/installer.js';
import { defaultCacheDir, osCacheRoot } from '../src/main/paths.js';
import { TufupUpdater } from '../src/main/updater.js';
import { StandinElectron } from './standin/electron.js';

describe('the cache folder, where the OS keeps caches', () => {
  it('is %LOCALAPPDATA% on Windows, ~/Library/Caches on macOS, $XDG_CACHE_HOME or ~/.cache elsewhere', () => {
    expect(osCacheRoot({ platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local', APPDATA: 'C:\\Users\\me\\AppData\\Roaming' }, home: 'C:\\Users\\me' })).toBe('C:\\Users\\me\\AppData\\Local');
    expect(osCacheRoot({ platform: 'darwin', env: {}, home: '/Users/me' })).toBe('/Users/me/Library/Caches');
    expect(osCacheRoot({ platform: 'linux', env: { XDG_CACHE_HOME: '/data/cache' }, home: '/home/me' })).toBe('/data/cache');
    expect(osCacheRoot({ platform: 'linux', env: {}, home: '/home/me' })).toBe('/home/me/.cache');
    // The XDG spec says a relative value is to be ignored.
    expect(osCacheRoot({ platform: 'linux', env: { XDG_CACHE_HOME: 'cache' }, home: '/home/me' })).toBe('/home/me/.cache');
  });

  it('is named after the app\'s userData folder', () => {
    expect(defaultCacheDir({ platform: 'darwin', env: {}, home: '/Users/me', userData: '/Users/me/Library/Application Support/My App' })).toBe('/Users/me/Library/Caches/My App/tufup');
    expect(defaultCacheDir({ platform: 'linux', env: {}, home: '/home/me', userData: '/home/me/.config/My App' })).toBe('/home/me/.cache/My App/tufup');
  });
});

describe('the one-time move of an older <userData>/tufup', () => {
  let root: string;
  const updaters: TufupUpdater[] = [];
  const launch = (options: ConstructorParameters<typeof TufupUpdater>[0] = {}): TufupUpdater => {
    const electron = new StandinElectron({ name: 'demoapp', version: '1.1.0', userData: join(root, 'config', 'Demo'), home: join(root, 'home'), resourcesPath: join(root, 'install', 'resources'), execPath: join(root, 'install', 'demo') });
    const updater = new TufupUpdater(options, electron);
    updaters.push(updater);
    return updater;
  };
  const legacy = (): string => join(root, 'config', 'Demo', 'tufup');
  const fresh = (): string => join(root, 'home', '.cache', 'Demo', 'tufup');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tufup-paths-'));
    await mkdir(join(root, 'install', 'resources'), { recursive: true });
    // What an older version left: a rolled-back version to keep refusing, and an installer result.
    await mkdir(join(legacy(), 'install'), { recursive: true });
    await writeFile(join(legacy(), 'failed-versions.json'), '["1.0.1"]\n');
    await writeFile(join(legacy(), 'install', 'result'), 'installed 1.1.0\n');
  });
  afterEach(async () => {
    for (const updater of updaters.splice(0)) updater.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('moves it into the OS cache folder at the first use, keeping what it held', async () => {
    const updater = launch();
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(updater.cacheDir).toBe(fresh());
    expect(updater.lastInstall).toEqual({ status: 'installed', version: '1.1.0' });
    expect(await readFile(join(fresh(), 'failed-versions.json'), 'utf8')).toBe('["1.0.1"]\n');
    await expect(stat(legacy())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('leaves it alone while an installer started from it is at work, and confirms the relaunched version there', async () => {
    // The installer of the previous version is still waiting for this version's health marker.
    const installer = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(installerPidPath(legacy()), `${installer.pid ?? 0}\n`);
      const updater = launch();
      await updater.markHealthy();
      expect(updater.cacheDir).toBe(legacy());
      expect(await readFile(healthMarkerPath(legacy(), '1.1.0'), 'utf8')).not.toBe('');
      await expect(stat(fresh())).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      installer.kill();
    }
    await new Promise((resolve) => installer.once('exit', resolve));
    // The next launch, with the installer gone, moves it.
    const next = launch();
    await next.markHealthy();
    expect(next.cacheDir).toBe(fresh());
    expect(await readFile(join(fresh(), 'failed-versions.json'), 'utf8')).toBe('["1.0.1"]\n');
  });

  it('does not touch it when the app names its cache folder, nor when the new folder exists already', async () => {
    const own = join(root, 'own-cache');
    const named = launch({ cacheDir: own });
    await named.markHealthy();
    expect(named.cacheDir).toBe(own);
    await expect(stat(fresh())).rejects.toMatchObject({ code: 'ENOENT' });

    await mkdir(fresh(), { recursive: true });
    const updater = launch();
    await updater.markHealthy();
    expect(updater.cacheDir).toBe(fresh());
    expect(await readFile(join(legacy(), 'failed-versions.json'), 'utf8')).toBe('["1.0.1"]\n');
  });
});
