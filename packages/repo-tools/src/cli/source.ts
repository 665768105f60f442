import { resolve } from 'node:path';
import { KEYS_DIR_ENV, PASSPHRASE_ENV, readConfig, type Logger } from '../config.js';
import { RepoError } from '../error.js';
import { protectKeysDir } from '../keystore.js';
import { readTextFile, str, type Parsed } from './command.js';
import { readPassphrase } from './prompt.js';
import type { Signer } from '../signer.js';
import { signersOf } from './signers.js';

/** Where a command finds the repository, its private keys and their passphrase. */
export interface Source {
  repoDir: string;
  keysDir: string;
  passphrase?: string;
  /** Signers held by other programs (--signer-command). */
  signers?: Signer[];
  logger: Logger;
}

/** What a command's library calls report: warnings on stderr (a stale lock broken, an interrupted command undone); progress stays quiet. */
export const cliLogger: Logger = { info: () => undefined, warn: (message) => process.stderr.write(`tufup-repo: warning: ${message}\n`) };

export function repoOf(args: Parsed): string {
  return resolve(str(args, 'repo') ?? '.');
}

/** --keys-dir or $TUFUP_KEYS_DIR, when given. */
export function givenKeysDir(args: Parsed): string | undefined {
  const given = str(args, 'keys-dir') ?? process.env[KEYS_DIR_ENV];
  return given !== undefined && given !== '' ? resolve(given) : undefined;
}

/** --keys-dir, else $TUFUP_KEYS_DIR, else the folder init recorded in the config, else `<repo>-keys`. */
async function keysDirOf(args: Parsed, repoDir: string): Promise<string> {
  const given = givenKeysDir(args);
  if (given !== undefined) return given;
  const config = await readConfig(repoDir).catch(() => undefined);
  if (config?.keysDir !== undefined) return resolve(repoDir, config.keysDir);
  return `${repoDir}-keys`;
}

/**
 * Makes the keys folder 0700 when other users may open it, and says so on stderr; warns when it cannot
 * (a folder owned by someone else). Every command that names a keys folder calls it before using it.
 */
export async function guardKeysDir(keysDir: string): Promise<void> {
  const done = await protectKeysDir(keysDir);
  if (done === undefined) return;
  const was = `0${done.was.toString(8)}`;
  process.stderr.write(
    done.failed === undefined
      ? `tufup-repo: the keys folder ${keysDir} was open to other users (mode ${was}); it is now 0700\n`
      : `tufup-repo: warning: the keys folder ${keysDir} is open to other users (mode ${was}) and could not be made 0700 (${done.failed}): run "chmod 700 ${keysDir}" as its owner\n`,
  );
}

// One read of stdin per process: a command that needs the passphrase twice must not wait for a second line.
let stdinPassphrase: Promise<string> | undefined;

/** The passphrase from --passphrase-file, --passphrase-stdin or $TUFUP_KEY_PASSPHRASE, in that order. */
export async function passphraseOf(args: Parsed, confirm = false): Promise<string | undefined> {
  const file = str(args, 'passphrase-file');
  if (file !== undefined) return (await readTextFile(file, 'passphrase file')).replace(/\r?\n$/, '');
  if (args.values['passphrase-stdin'] === true) {
    stdinPassphrase ??= readPassphrase(confirm).then((value) => {
      if (value === '') throw new RepoError('BAD_PASSPHRASE', 'the passphrase read from stdin is empty');
      return value;
    });
    return stdinPassphrase;
  }
  return process.env[PASSPHRASE_ENV];
}

/** The repository, keys folder and passphrase the command line names. */
export async function source(args: Parsed): Promise<Source> {
  const repoDir = repoOf(args);
  const keysDir = await keysDirOf(args, repoDir);
  await guardKeysDir(keysDir);
  const passphrase = await passphraseOf(args);
  const signers = await signersOf(args);
  return { repoDir, keysDir, logger: cliLogger, ...(passphrase === undefined ? {} : { passphrase }), ...(signers.length === 0 ? {} : { signers }) };
}
