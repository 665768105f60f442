import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, messageOf } from '@tufup/bundle/base';
import { silentLogger, type Logger } from '../core/config.js';
import { stagedPaths } from '../core/stage.js';
import { startInstaller, type InstallRequest } from './installer.js';
import { addFailedVersion, installerRunning, outcomeOf, readInstallJournal, writeInstallOutcome, type InstallOutcome } from './outcome.js';

/** What a launch knows that the installer's leftovers do not say: which version runs, and how to check it. */
export interface RecoveryRequest extends Pick<InstallRequest, 'installDir' | 'cacheDir' | 'relaunch' | 'healthTimeoutMs' | 'platform'> {
  /** The version that is running now, from the install folder. */
  currentVersion: string;
  /** The running app's main process: a finishing installer checks its health, and stops it to roll back. */
  pid: number;
  /** @default silent */
  logger?: Logger;
}

/**
 * What the launch did about the last installer run:
 * - `none`: nothing was interrupted (or nothing can be told: a run started by an older app);
 * - `busy`: an installer is still at work;
 * - `finishing`: the new version runs, its health check never finished: an installer now checks it (the
 *   app must call `markHealthy()`) and then removes the previous version, or rolls back;
 * - `finished`: the new version runs and nothing was left to check; the run is recorded `installed`;
 * - `undone`: the previous version runs; leftovers are gone, the staged update given back when the run
 *   had taken it (so this launch installs it again), or the version recorded `rolled-back` when the run
 *   was rolling it back.
 */
export type RecoveryAction = 'none' | 'busy' | 'finishing' | 'finished' | 'undone';

export interface Recovery {
  action: RecoveryAction;
  /** The last run's outcome once recovered, as `lastInstall` reports it. */
  outcome: InstallOutcome | undefined;
  /** For `undone`: whether the new version went back to `<cacheDir>/staged/`. */
  restaged?: boolean;
}

/** The names an installer run uses beside the install folder (see install.sh and install.ps1). */
export function leftoverPaths(installDir: string): { backup: string; incoming: string; ready: string; failed: string; trash: string } {
  const at = (suffix: string): string => join(dirname(installDir), `.${basename(installDir)}.tufup-${suffix}`);
  return { backup: at('backup'), incoming: at('incoming'), ready: at('ready'), failed: at('failed'), trash: at('trash') };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Finishes what an interrupted installer run was doing, at the next launch (the installer can be killed
 * by a log-off, a crash or a power cut at any step). Call it before looking for a staged update. The
 * running version tells the cases apart: the new version running means the swap happened (its health
 * check and clean-up may not have); the previous one running means it did not, or was undone.
 * Never records `failed`, so a good update is installed again, with its health check, at this launch.
 */
export async function recoverInterruptedInstall(request: RecoveryRequest): Promise<Recovery> {
  const logger = request.logger ?? silentLogger;
  const { cacheDir, installDir, currentVersion } = request;
  const journal = await readInstallJournal(cacheDir);
  const left = leftoverPaths(installDir);
  const remove = async (...paths: string[]): Promise<void> => {
    for (const path of paths) {
      try {
        await rm(path, { recursive: true, force: true });
      } catch (error) {
        // The next installer run removes them too; a launch must not fail over leftovers.
        logger.warn(`tufup: could not remove ${path}: ${messageOf(error)}`);
      }
    }
  };
  if (journal === undefined || (journal.step !== 'started' && journal.step !== 'rolling-back')) {
    // A finished run leaves at most what it was deleting when it was killed.
    await remove(left.trash, left.failed);
    return { action: 'none', outcome: journal === undefined ? undefined : outcomeOf(journal) };
  }
  if (await installerRunning(cacheDir)) return { action: 'busy', outcome: outcomeOf(journal) };
  const version = journal.version;
  if (version === undefined) return { action: 'none', outcome: outcomeOf(journal) };

  if (version === currentVersion) {
    // The swap happened. The previous version is the backup, or sits at the incoming name when the run
    // was killed right after the exchange.
    const previous = (await exists(left.backup)) || (await exists(left.incoming));
    const healthTimeoutMs = request.healthTimeoutMs ?? 0;
    if (previous && healthTimeoutMs > 0) {
      logger.info(`tufup: ${version} was installed by a run that did not finish; checking its health before removing the previous version`);
      startInstaller({
        pid: request.pid,
        installDir,
        stagedDir: stagedPaths(join(cacheDir, 'staged'), version).dir,
        version,
        cacheDir,
        relaunch: request.relaunch ?? [],
        healthTimeoutMs,
        mode: 'finish',
        ...(request.platform === undefined ? {} : { platform: request.platform }),
      });
      return { action: 'finishing', outcome: outcomeOf({ step: 'started', version }) };
    }
    logger.info(`tufup: ${version} was installed by a run that did not finish; removing what it left`);
    await remove(left.backup, left.incoming, left.ready, left.failed, left.trash);
    const outcome: InstallOutcome & { version: string } = { status: 'installed', version };
    await writeInstallOutcome(cacheDir, outcome);
    return { action: 'finished', outcome };
  }

  // The previous version runs: the swap never happened or was undone. What sits at the incoming (or, on
  // Windows, ready) name is the new version the run took from the staged folder: it goes back there,
  // where it is verified against its signed digest again before any use.
  let restaged = false;
  const staged = stagedPaths(join(cacheDir, 'staged'), version);
  const rollingBack = journal.step === 'rolling-back';
  for (const taken of [left.incoming, left.ready]) {
    if (!restaged && !rollingBack && (await exists(taken)) && !(await exists(staged.dir)) && (await exists(staged.record))) {
      try {
        await mkdir(dirname(staged.dir), { recursive: true });
        await rename(taken, staged.dir);
        restaged = true;
        logger.info(`tufup: took ${version} back from ${taken} into the staged folder`);
      } catch (error) {
        // Another volume (it was a copy) or a folder that refuses: it is downloaded again instead.
        if (errnoOf(error) !== 'EXDEV') logger.warn(`tufup: could not move ${taken} back to ${staged.dir}: ${messageOf(error)}`);
      }
    }
  }
  await remove(left.backup, left.incoming, left.ready, left.failed, left.trash);
  if (rollingBack) {
    // The health check had failed and the rollback was cut short: it is done now, so record it as such.
    const outcome: InstallOutcome & { version: string } = { status: 'rolled-back', version, ...(journal.reason === undefined ? {} : { reason: journal.reason }) };
    logger.warn(`tufup: ${version} was being rolled back (${journal.reason ?? 'unknown'}); it will not be offered again`);
    await addFailedVersion(cacheDir, version);
    await writeInstallOutcome(cacheDir, outcome);
    return { action: 'undone', outcome, restaged };
  }
  return { action: 'undone', outcome: outcomeOf(journal), restaged };
}
