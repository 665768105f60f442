import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, messageOf, syncFolder } from '@tufup/bundle';
import type { Logger } from './config.js';
import { ioError } from './error.js';

/**
 * The commit journal of a transaction: what its commit moves where, written (durably) into its scratch
 * folder before the first file moves. A command killed in the middle of its commit (a cancelled CI job,
 * a power cut) leaves it behind with the scratch folder; the next command to take the repository's lock
 * reads it and puts the repository back exactly as it was -- or, when every file had moved, finishes the
 * deletions -- so the repository is only ever the old state or the new one.
 *
 * Each step is recognisable from the files alone, so recovery may itself be interrupted and run again: an
 * entry has moved iff its scratch file is gone (a rename is atomic), and undoing an entry first moves the
 * new file back to its scratch name, then links the kept backup of the file it replaced back in place.
 */
export interface CommitJournal {
  /** Files moved into the repository, in commit order. */
  entries: JournalEntry[];
  /** Folders the commit makes, parents first (`/`-separated, relative to the repository; `.` is the repository itself). */
  folders: string[];
  /** Files deleted once every entry has moved. */
  deletions: string[];
}

export interface JournalEntry {
  /** Where the file goes (`/`-separated, relative to the repository). */
  path: string;
  /** Its scratch file, relative to the scratch folder. */
  scratch: string;
  /** A hard link to the file it replaces, relative to the scratch folder; absent for a new file. */
  backup?: string;
}

const JOURNAL = 'commit-journal.json';

/** The prefix of the scratch folders of commands on `repoDir`: `.<name>.tufup-tmp-`, next to it. */
export function scratchPrefix(repoDir: string): string {
  return `.${basename(repoDir)}.tufup-tmp-`;
}

const inRepo = (repoDir: string, rel: string): string => (rel === '.' ? repoDir : join(repoDir, ...rel.split('/')));

/**
 * Writes the journal into the scratch folder; on disk (data and name) when it returns. Nothing moves
 * before that, so a journal cut short by a kill only ever means a commit that moved nothing.
 */
export async function writeJournal(tmpDir: string, journal: CommitJournal): Promise<void> {
  const handle = await open(join(tmpDir, JOURNAL), 'wx');
  try {
    await handle.writeFile(JSON.stringify(journal));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncFolder(tmpDir);
}

/** Removes the journal once its commit is complete or undone: the scratch folder is then plain litter. */
export async function dropJournal(tmpDir: string): Promise<void> {
  await rm(join(tmpDir, JOURNAL), { force: true });
  await syncFolder(tmpDir);
}

async function readJournal(tmpDir: string): Promise<CommitJournal | undefined> {
  let text: string;
  try {
    text = await readFile(join(tmpDir, JOURNAL), 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as CommitJournal;
  } catch {
    // Cut short while being written: the commit had not begun to move anything.
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return false;
      throw error;
    },
  );
}

/** The folders a commit of `paths` must make, parents first. */
export async function missingFolders(repoDir: string, paths: Iterable<string>): Promise<string[]> {
  const missing = new Set<string>();
  for (const path of paths) {
    const chain: string[] = [];
    for (let rel = dirname(path); !missing.has(rel) && !(await exists(inRepo(repoDir, rel))); rel = dirname(rel)) {
      chain.unshift(rel);
      if (rel === '.') break;
    }
    for (const rel of chain) missing.add(rel);
  }
  return [...missing];
}

/** Makes the journal's folders, each name durable before anything moves into it. */
export async function makeFolders(repoDir: string, journal: CommitJournal): Promise<void> {
  for (const rel of journal.folders) {
    const path = inRepo(repoDir, rel);
    await mkdir(path).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw error;
    });
    await syncFolder(dirname(path));
  }
}

/** Moves entry `entry` into the repository: rename, then fsync the folder that holds the new name. */
export async function moveIn(repoDir: string, tmpDir: string, entry: JournalEntry): Promise<void> {
  const dest = inRepo(repoDir, entry.path);
  await rename(join(tmpDir, entry.scratch), dest);
  await syncFolder(dirname(dest));
}

/** Whether every entry has moved: the commit is past its last rename and only deletions remain. */
async function allMoved(tmpDir: string, journal: CommitJournal): Promise<boolean> {
  for (const entry of journal.entries) if (await exists(join(tmpDir, entry.scratch))) return false;
  return true;
}

/** Undoes whatever part of the commit happened, last entry first; safe to run again after an interruption. */
export async function rollBack(repoDir: string, tmpDir: string, journal: CommitJournal): Promise<void> {
  for (const entry of [...journal.entries].reverse()) {
    const dest = inRepo(repoDir, entry.path);
    const scratch = join(tmpDir, entry.scratch);
    if (!(await exists(scratch))) {
      // It moved in: the new file goes back to its scratch name (the entry reads as not moved from here on).
      await rename(dest, scratch);
    }
    if (entry.backup !== undefined && !(await exists(dest))) await link(join(tmpDir, entry.backup), dest);
    await syncFolder(dirname(dest));
  }
  for (const rel of [...journal.folders].reverse()) {
    const path = inRepo(repoDir, rel);
    await rmdir(path).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTEMPTY') throw error;
    });
    await syncFolder(dirname(path));
  }
}

/** The deletions of a commit whose every file moved: the new metadata no longer names these files. */
export async function rollForward(repoDir: string, journal: CommitJournal): Promise<void> {
  for (const rel of journal.deletions) await rm(inRepo(repoDir, rel), { force: true });
}

/**
 * Puts the repository in order after commands that were killed: each scratch folder left next to it
 * (the caller holds the lock, so no live command owns one) is undone or finished by its journal, then
 * removed. Says what it did through the logger's warnings.
 */
export async function recoverInterrupted(repoDir: string, logger: Logger | undefined): Promise<void> {
  const parent = dirname(repoDir);
  const prefix = scratchPrefix(repoDir);
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const tmpDir = join(parent, name);
    try {
      const journal = await readJournal(tmpDir);
      if (journal !== undefined) {
        if (await allMoved(tmpDir, journal)) {
          await rollForward(repoDir, journal);
          logger?.warn(`a tufup-repo command on ${repoDir} was interrupted after its commit: its clean-up is now done`);
        } else {
          await rollBack(repoDir, tmpDir, journal);
          logger?.warn(`a tufup-repo command on ${repoDir} was interrupted in the middle of its commit: its changes were undone, the repository is as it was before it`);
        }
        await dropJournal(tmpDir);
      }
      await rm(tmpDir, { recursive: true, force: true });
    } catch (cause) {
      throw ioError(`could not recover ${repoDir} from an interrupted command (its scratch folder ${tmpDir}: ${messageOf(cause)})`, cause);
    }
  }
}
