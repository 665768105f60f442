import { readFile } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';
import { checkRole, KEYS_DIR_ENV, PASSPHRASE_ENV, type RoleName } from '../config.js';
import { RepoError } from '../error.js';
import { SIGNER_HELP, SIGNER_OPTIONS } from './signers.js';

/** The options a command accepts, in `node:util` parseArgs' shape. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** A command line after parseArgs: option values by name, then the positionals. */
export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * One `tufup-repo` command. `run` returns the result (printed as JSON with --json) and its text form;
 * it throws a RepoError, whose code the dispatcher prints (`USAGE` exits 2, anything else 1).
 */
export interface Command {
  /** One line for the main help: what the command does. */
  summary: string;
  /** The command's own --help text (the common options are appended). */
  usage: string;
  options: Options;
  run(args: Parsed): Promise<{ result: unknown; text: string }>;
}

/** Options every command accepts. */
export const COMMON: Options = {
  repo: { type: 'string', default: '.' },
  'keys-dir': { type: 'string' },
  'passphrase-file': { type: 'string' },
  'passphrase-stdin': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  ...SIGNER_OPTIONS,
};

export const COMMON_HELP = `
Common options:
  --repo DIR              the repository folder (default: the current folder)
  --keys-dir DIR          private keys folder (default: $${KEYS_DIR_ENV}, else the one init recorded)
  --passphrase-file FILE  passphrase of encrypted keys (default: $${PASSPHRASE_ENV})
  --passphrase-stdin      read the passphrase from stdin (asked for, without echo, on a terminal)
  --json                  print the result as JSON
  -h, --help              show this help
${SIGNER_HELP}
Keys may also come from $TUFUP_KEY_ROOT, $TUFUP_KEY_TARGETS, $TUFUP_KEY_SNAPSHOT, $TUFUP_KEY_TIMESTAMP (PEM).`;

/** A wrong command line: the dispatcher prints the command's usage and exits 2. */
export function usage(message: string): RepoError {
  return new RepoError('USAGE', message);
}

/** The value of a string option, if given. */
export function str(args: Parsed, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable string option. */
export function list(args: Parsed, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}

/** The positional at `index`; a USAGE error naming `what` when it is missing. */
export function positional(args: Parsed, index: number, what: string): string {
  const v = args.positionals[index];
  if (v === undefined) throw usage(`missing ${what}`);
  return v;
}

export function number(value: string, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw usage(`${what} must be a number, not "${value}"`);
  return n;
}

/** Parses repeated `ROLE=N` options. */
export function perRole(args: Parsed, name: string): Partial<Record<RoleName, number>> {
  const result: Partial<Record<RoleName, number>> = {};
  for (const item of list(args, name)) {
    const [role = '', value = ''] = item.split('=');
    result[checkRole(role)] = number(value, `--${name} ${role}`);
  }
  return result;
}

/** A text file the user named on the command line (`what` says which, e.g. "release notes"); `IO` when unreadable. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new RepoError('IO', `cannot read the ${what} ${path}`, { cause });
  }
}
