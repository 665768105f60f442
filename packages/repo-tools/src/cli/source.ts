import { resolve } from 'node:path';
import { KEYS_DIR_ENV, PASSPHRASE_ENV, readConfig } from '../config.js';
import { RepoError } from '../error.js';
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
}

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
  const passphrase = await passphraseOf(args);
  const signers = await signersOf(args);
  return { repoDir, keysDir, ...(passphrase === undefined ? {} : { passphrase }), ...(signers.length === 0 ? {} : { signers }) };
}
