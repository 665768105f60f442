import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@tufup/bundle/base';
import { UpdateError } from '../core/error.js';
import { processAlive } from '../core/stage.js';
import { healthMarkerPath, installerPidPath, installResultPath } from './installer.js';

/** How the last installer run ended; `started` means it never finished (killed, or still running). */
export type InstallStatus = 'installed' | 'rolled-back' | 'failed' | 'started';

/** The last installer run's result file, parsed. */
export interface InstallOutcome {
  status: InstallStatus;
  /** The version it tried to install (absent while `started`). */
  version?: string;
  /** Why it failed or rolled back, e.g. `exited-before-healthy`, `health-timeout`, `install-not-writable`. */
  reason?: string;
}

const STATUSES = new Set<string>(['installed', 'rolled-back', 'failed']);

/** Reads the last installer result, or undefined when no installer ran since the last {@link clearInstallOutcome}. */
export async function readInstallOutcome(cacheDir: string): Promise<InstallOutcome | undefined> {
  let text: string;
  try {
    text = await readFile(installResultPath(cacheDir), 'utf8');
  } catch {
    return undefined;
  }
  const [status = '', version, reason] = text.trim().split(/\s+/);
  if (!STATUSES.has(status) || version === undefined) return { status: 'started' };
  const outcome: InstallOutcome = { status: status as InstallStatus, version };
  if (reason !== undefined) outcome.reason = reason;
  return outcome;
}

/**
 * True when the installer started last is still running: a launch while it works (the user reopening the
 * app during the swap) must not start a second one.
 */
export async function installerRunning(cacheDir: string): Promise<boolean> {
  return processAlive(Number((await readFile(installerPidPath(cacheDir), 'utf8').catch(() => '')).trim()));
}

/** Forgets the last installer result once the app has acted on it. */
export async function clearInstallOutcome(cacheDir: string): Promise<void> {
  await rm(installResultPath(cacheDir), { force: true });
}

function failedVersionsPath(cacheDir: string): string {
  return join(cacheDir, 'failed-versions.json');
}

/** Versions the health check rolled back; the client never offers them again. */
export async function readFailedVersions(cacheDir: string): Promise<string[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(failedVersionsPath(cacheDir), 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** Adds `version` to the failed versions (written to a temporary file and renamed). */
export async function addFailedVersion(cacheDir: string, version: string): Promise<string[]> {
  const versions = await readFailedVersions(cacheDir);
  if (versions.includes(version)) return versions;
  versions.push(version);
  const path = failedVersionsPath(cacheDir);
  try {
    await writeFileAtomic(path, [Buffer.from(`${JSON.stringify(versions, null, 2)}\n`)]);
  } catch (cause) {
    throw new UpdateError('DISK', `could not record ${version} as failed in ${path}`, { cause });
  }
  return versions;
}

/** Confirms a healthy start of `version` to a waiting installer. */
export async function writeHealthMarker(cacheDir: string, version: string): Promise<void> {
  const marker = healthMarkerPath(cacheDir, version);
  try {
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, `${new Date().toISOString()}\n`);
  } catch (cause) {
    throw new UpdateError('DISK', `could not write the health marker ${marker}`, { cause });
  }
}
