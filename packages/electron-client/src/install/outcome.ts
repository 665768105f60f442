import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { processAlive, writeFileAtomic } from '@tufup/bundle/base';
import { UpdateError } from '../core/error.js';
import { healthMarkerPath, installerPidPath, installResultPath } from './installer.js';

/** How the last installer run ended; `started` means it never finished (killed, or still running). */
export type InstallStatus = 'installed' | 'rolled-back' | 'failed' | 'started';

/** The last installer run's result file, parsed. */
export interface InstallOutcome {
  status: InstallStatus;
  /** The version it tried to install (absent only for a run started by an app older than this library). */
  version?: string;
  /** Why it failed or rolled back, e.g. `exited-before-healthy`, `health-timeout`, `install-not-writable`. */
  reason?: string;
}

/**
 * The result file word by word: besides the final statuses, the app writes `started <version>` before it
 * starts the installer, and the installer writes `rolling-back <version> <reason>` while it rolls back, so
 * a launch after an interrupted run knows what it was doing.
 */
export interface InstallJournal {
  step: 'started' | 'rolling-back' | 'installed' | 'rolled-back' | 'failed';
  version?: string;
  reason?: string;
}

const FINAL = new Set<string>(['installed', 'rolled-back', 'failed']);
const STEPS = new Set<string>([...FINAL, 'started', 'rolling-back']);

/** The line the app writes before it starts the installer for `version`. */
export function startedLine(version: string): string {
  return `started ${version}\n`;
}

/** Reads the result file as written; undefined when there is none. An empty or unknown line is `started`. */
export async function readInstallJournal(cacheDir: string): Promise<InstallJournal | undefined> {
  let text: string;
  try {
    text = await readFile(installResultPath(cacheDir), 'utf8');
  } catch {
    return undefined;
  }
  const [word = '', version, reason] = text.trim().split(/\s+/);
  if (!STEPS.has(word) || version === undefined) return { step: 'started' };
  const journal: InstallJournal = { step: word as InstallJournal['step'], version };
  if (reason !== undefined) journal.reason = reason;
  return journal;
}

/** Reads the last installer result, or undefined when no installer ran since the last {@link clearInstallOutcome}. */
export async function readInstallOutcome(cacheDir: string): Promise<InstallOutcome | undefined> {
  const journal = await readInstallJournal(cacheDir);
  return journal === undefined ? undefined : outcomeOf(journal);
}

/** A journal line as the app sees it: a run that was still at a step never finished, so it is `started`. */
export function outcomeOf(journal: InstallJournal): InstallOutcome {
  const outcome: InstallOutcome = { status: FINAL.has(journal.step) ? (journal.step as InstallStatus) : 'started' };
  if (journal.version !== undefined) outcome.version = journal.version;
  if (journal.reason !== undefined) outcome.reason = journal.reason;
  return outcome;
}

/** Writes a final result in the installer's format (the launch that finished an interrupted run writes it). */
export async function writeInstallOutcome(cacheDir: string, outcome: InstallOutcome & { version: string }): Promise<void> {
  const line = `${outcome.status} ${outcome.version}${outcome.reason === undefined ? '' : ` ${outcome.reason}`}\n`;
  try {
    await writeFileAtomic(installResultPath(cacheDir), [Buffer.from(line)]);
  } catch (cause) {
    throw new UpdateError('DISK', `could not write the install result in ${installResultPath(cacheDir)}`, { cause });
  }
}

/**
 * Failures that would fail the same way at once if the next launch retried them (the install folder
 * cannot be written or swapped): the update then waits for the app to quit. Any other failure (the staged
 * copy was missing, a log-off interrupted the run) does not stop a good update, staged again, from its
 * health-checked install at the next launch.
 */
const LASTING_FAILURES = new Set(['install-not-writable', 'install-missing', 'swap-failed']);

/** Whether the last outcome should keep the next launch from installing `version` (see {@link LASTING_FAILURES}). */
export function blocksLaunchInstall(outcome: InstallOutcome | undefined, version: string): outcome is InstallOutcome {
  return outcome?.status === 'failed' && outcome.version === version && LASTING_FAILURES.has(outcome.reason ?? '');
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
