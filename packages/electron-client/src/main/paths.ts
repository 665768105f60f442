import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { errnoOf } from '@tufup/bundle/base';
import type { Logger } from '../core/index.js';
import { installerRunning } from '../install/outcome.js';

/** The folder under the app's cache (and, before, under userData) that the updater owns. */
export const CACHE_FOLDER = 'tufup';

/** What the default cache folder depends on. */
export interface CacheFacts {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  /** `app.getPath('home')`. */
  home: string;
  /** `app.getPath('userData')`: its folder name names the app's cache folder too. */
  userData: string;
}

/**
 * The OS's folder for caches, as electron-updater uses it: `%LOCALAPPDATA%` on Windows (not the roaming
 * profile that userData is in), `~/Library/Caches` on macOS, `$XDG_CACHE_HOME` or `~/.cache` elsewhere.
 * Staged updates are large and can always be downloaded again: they belong there, not in userData.
 */
export function osCacheRoot(facts: Omit<CacheFacts, 'userData'>): string {
  const { platform, env, home } = facts;
  if (platform === 'win32') return env.LOCALAPPDATA !== undefined && env.LOCALAPPDATA !== '' ? env.LOCALAPPDATA : join(home, 'AppData', 'Local');
  if (platform === 'darwin') return join(home, 'Library', 'Caches');
  // The XDG spec: a relative value is invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  return xdg !== undefined && isAbsolute(xdg) ? xdg : join(home, '.cache');
}

/** `<OS cache folder>/<userData folder name>/tufup`: the app's own name for its folders, whatever sets it. */
export function defaultCacheDir(facts: CacheFacts): string {
  return join(osCacheRoot(facts), basename(facts.userData), CACHE_FOLDER);
}

/** Where versions before 0.2 kept the cache: `<userData>/tufup`. */
export function legacyCacheDir(userData: string): string {
  return join(userData, CACHE_FOLDER);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The cache folder to use in this run, after the one-time move of an older `<userData>/tufup` to
 * `cacheDir`. The move waits while an installer started from the old folder is still at work (it writes
 * its result there and looks there for the relaunched version's health marker): that run keeps using the
 * old folder, and a later launch moves it. A move across volumes copies, then deletes. Nothing is
 * moved when the new folder already exists; a failed move is logged and the old folder kept in use.
 */
export async function migrateCacheDir(legacy: string, cacheDir: string, logger: Logger | undefined): Promise<string> {
  if (!(await exists(legacy)) || (await exists(cacheDir))) return cacheDir;
  if (await installerRunning(legacy)) {
    logger?.info(`tufup: an installer is at work in ${legacy}; moving the cache to ${cacheDir} at a later launch`);
    return legacy;
  }
  try {
    await mkdir(dirname(cacheDir), { recursive: true });
    await rename(legacy, cacheDir).catch(async (error: unknown) => {
      if (errnoOf(error) !== 'EXDEV') throw error;
      await cp(legacy, cacheDir, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
      await rm(legacy, { recursive: true, force: true });
    });
  } catch (error) {
    logger?.warn(`tufup: could not move the cache from ${legacy} to ${cacheDir} (${String(error)}); using ${legacy}`);
    await rm(cacheDir, { recursive: true, force: true }).catch(() => undefined);
    return legacy;
  }
  logger?.info(`tufup: moved the update cache from ${legacy} to ${cacheDir}`);
  return cacheDir;
}
