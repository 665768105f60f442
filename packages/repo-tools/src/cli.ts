#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkRole, KEYS_DIR_ENV, PASSPHRASE_ENV, readConfig, ROLES, type RoleName } from './config.js';
import { RepoError } from './error.js';
import { addKey, removeKey, rotateKey, setThreshold, type KeyChangeResult } from './keyring.js';
import { addBundle, pruneVersions, removeVersion, type RemoveResult } from './release.js';
import { initRepository, signRepository } from './repository.js';
import { repositoryStatus } from './status.js';
import { verifyRepository } from './verification.js';

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  repo: { type: 'string', default: '.' },
  'keys-dir': { type: 'string' },
  'passphrase-file': { type: 'string' },
  'passphrase-stdin': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const COMMON_HELP = `
Common options:
  --repo DIR              the repository folder (default: the current folder)
  --keys-dir DIR          private keys folder (default: $${KEYS_DIR_ENV}, else the one init recorded)
  --passphrase-file FILE  passphrase of encrypted keys (default: $${PASSPHRASE_ENV})
  --passphrase-stdin      read the passphrase from stdin (asked for, without echo, on a terminal)
  --json                  print the result as JSON
  -h, --help              show this help
Keys may also come from $TUFUP_KEY_ROOT, $TUFUP_KEY_TARGETS, $TUFUP_KEY_SNAPSHOT, $TUFUP_KEY_TIMESTAMP (PEM).`;

interface Command {
  usage: string;
  options: Options;
  run(args: Parsed): Promise<{ result: unknown; text: string }>;
}

interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

function str(args: Parsed, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function list(args: Parsed, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}

function usage(message: string): RepoError {
  return new RepoError('USAGE', message);
}

function positional(args: Parsed, index: number, what: string): string {
  const v = args.positionals[index];
  if (v === undefined) throw usage(`missing ${what}`);
  return v;
}

function number(value: string, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw usage(`${what} must be a number, not "${value}"`);
  return n;
}

/** Parses repeated `ROLE=N` options. */
function perRole(args: Parsed, name: string): Partial<Record<RoleName, number>> {
  const result: Partial<Record<RoleName, number>> = {};
  for (const item of list(args, name)) {
    const [role = '', value = ''] = item.split('=');
    result[checkRole(role)] = number(value, `--${name} ${role}`);
  }
  return result;
}

let stdinPassphrase: Promise<string> | undefined;

/** The passphrase from --passphrase-file, --passphrase-stdin or $TUFUP_KEY_PASSPHRASE, in that order. */
async function passphraseOf(args: Parsed, confirm = false): Promise<string | undefined> {
  const file = str(args, 'passphrase-file');
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      throw new RepoError('IO', `cannot read the passphrase file ${file}`, { cause });
    }
  }
  if (args.values['passphrase-stdin'] === true) {
    stdinPassphrase ??= readPassphrase(confirm).then((value) => {
      if (value === '') throw new RepoError('BAD_PASSPHRASE', 'the passphrase read from stdin is empty');
      return value;
    });
    return stdinPassphrase;
  }
  return process.env[PASSPHRASE_ENV];
}

/** Reads one line from stdin; on a terminal, asks for it without echo (twice when `confirm`). */
async function readPassphrase(confirm: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) {
      text += String(chunk);
      if (text.includes('\n')) break;
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  const ask = (prompt: string): Promise<string> =>
    new Promise((resolvePromise, reject) => {
      process.stderr.write(prompt);
      stdin.setRawMode(true);
      stdin.resume();
      let value = '';
      const onData = (chunk: Buffer): void => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            done();
            resolvePromise(value);
            return;
          }
          if (char === '\u0003') {
            done();
            reject(new RepoError('USAGE', 'cancelled'));
            return;
          }
          value = char === '\u007f' || char === '\b' ? value.slice(0, -1) : value + char;
        }
      };
      const done = (): void => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
      };
      stdin.on('data', onData);
    });
  const first = await ask('Passphrase: ');
  if (confirm && (await ask('Passphrase again: ')) !== first) throw new RepoError('BAD_PASSPHRASE', 'the two passphrases differ');
  return first;
}

function repoOf(args: Parsed): string {
  return resolve(str(args, 'repo') ?? '.');
}

/** --keys-dir, else $TUFUP_KEYS_DIR, else the folder init recorded in the config, else `<repo>-keys`. */
async function keysDirOf(args: Parsed, repoDir: string): Promise<string> {
  const given = str(args, 'keys-dir') ?? process.env[KEYS_DIR_ENV];
  if (given !== undefined && given !== '') return resolve(given);
  const config = await readConfig(repoDir).catch(() => undefined);
  if (config?.keysDir !== undefined) return resolve(repoDir, config.keysDir);
  return `${repoDir}-keys`;
}

async function source(args: Parsed): Promise<{ repoDir: string; keysDir: string; passphrase?: string }> {
  const repoDir = repoOf(args);
  const keysDir = await keysDirOf(args, repoDir);
  const passphrase = await passphraseOf(args);
  return passphrase === undefined ? { repoDir, keysDir } : { repoDir, keysDir, passphrase };
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function keyChangeText(r: KeyChangeResult): string {
  const lines = [`${r.role}: ${r.keyids.length} key(s), threshold ${r.threshold}; root is now version ${r.metadata.root}`];
  for (const k of r.added) lines.push(`  added   ${k.keyid} (${k.file})`);
  for (const id of r.removed) lines.push(`  removed ${id}`);
  return lines.join('\n');
}

function removedText(r: RemoveResult): string {
  if (r.removed.length === 0) return 'nothing to remove';
  return r.removed.map((x) => `removed ${x.version} for ${x.platform}-${x.arch}: ${x.files.join(', ')}`).join('\n');
}

const COMMANDS: Record<string, Command> = {
  init: {
    usage: `tufup-repo init --repo DIR --app-name NAME [--keys-dir DIR] [--expiry ROLE=DAYS]... [--threshold ROLE=N]... [--key-count ROLE=N]...
  Creates ed25519 keys for root, targets, snapshot and timestamp (encrypted when a passphrase is given),
  tufup-repo.json and signed metadata in DIR/metadata. Refuses to overwrite an existing repository.`,
    options: {
      'app-name': { type: 'string' },
      expiry: { type: 'string', multiple: true },
      threshold: { type: 'string', multiple: true },
      'key-count': { type: 'string', multiple: true },
    },
    async run(args) {
      const appName = str(args, 'app-name');
      if (appName === undefined) throw usage('init needs --app-name NAME');
      const repoDir = repoOf(args);
      const given = str(args, 'keys-dir') ?? process.env[KEYS_DIR_ENV];
      const keysDir = given !== undefined && given !== '' ? resolve(given) : `${repoDir}-keys`;
      const passphrase = await passphraseOf(args, true);
      const result = await initRepository({
        repoDir,
        keysDir,
        appName,
        expiryDays: perRole(args, 'expiry'),
        thresholds: perRole(args, 'threshold'),
        keyCounts: perRole(args, 'key-count'),
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      const lines = [`created the repository of ${appName} in ${repoDir}`];
      for (const k of result.keys) lines.push(`  ${k.role.padEnd(9)} key ${k.keyid}\n            ${k.file}`);
      lines.push(`keep the root key offline; publish ${join(repoDir, 'metadata')} and ${join(repoDir, 'targets')}`);
      return { result, text: lines.join('\n') };
    },
  },
  add: {
    usage: `tufup-repo add BUNDLE_DIR --version X [--platform P] [--arch A] [--required] [--notes FILE] [--custom JSON]
  Packs BUNDLE_DIR as <name>-X.tar.gz, makes the patch from the latest earlier version of the same
  platform/arch, adds both as signed targets and re-signs targets, snapshot and timestamp.
  --platform and --arch default to this machine's (${process.platform}, ${process.arch}).`,
    options: {
      version: { type: 'string' },
      platform: { type: 'string' },
      arch: { type: 'string' },
      required: { type: 'boolean', default: false },
      notes: { type: 'string' },
      custom: { type: 'string' },
    },
    async run(args) {
      const bundleDir = resolve(positional(args, 0, 'BUNDLE_DIR'));
      const version = str(args, 'version');
      if (version === undefined) throw usage('add needs --version X');
      let custom: Record<string, unknown> | undefined;
      const customText = str(args, 'custom');
      if (customText !== undefined) {
        try {
          custom = JSON.parse(customText) as Record<string, unknown>;
        } catch (cause) {
          throw new RepoError('INVALID_CUSTOM', '--custom is not valid JSON', { cause });
        }
      }
      let releaseNotes: string | undefined;
      const notes = str(args, 'notes');
      if (notes !== undefined) {
        try {
          releaseNotes = readFileSync(notes, 'utf8');
        } catch (cause) {
          throw new RepoError('IO', `cannot read the release notes ${notes}`, { cause });
        }
      }
      const platform = str(args, 'platform');
      const arch = str(args, 'arch');
      const r = await addBundle({
        ...(await source(args)),
        bundleDir,
        version,
        required: args.values.required === true,
        ...(platform === undefined ? {} : { platform }),
        ...(arch === undefined ? {} : { arch }),
        ...(releaseNotes === undefined ? {} : { releaseNotes }),
        ...(custom === undefined ? {} : { custom }),
      });
      const lines = [`added ${r.name} ${r.version} for ${r.platform}-${r.arch}`, `  archive ${r.archive.file}  ${kb(r.archive.size)} (tar ${kb(r.tar.size)})`];
      if (r.patch !== undefined) {
        const pct = r.archive.size === 0 ? 0 : Math.round((r.patch.saving / r.archive.size) * 100);
        lines.push(`  patch   ${r.patch.file}  ${kb(r.patch.size)} from ${r.patch.base}, saves ${kb(r.patch.saving)} (${pct}%) over the archive`);
      } else {
        lines.push('  no patch: this is the first version for this platform/arch');
      }
      lines.push(`  metadata: targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}`);
      return { result: r, text: lines.join('\n') };
    },
  },
  sign: {
    usage: `tufup-repo sign [--role ROLE]... [--expires-in DAYS]
  Re-signs roles with fresh expiry dates (default: timestamp). Re-signing targets also re-signs snapshot
  and timestamp; snapshot also timestamp. A CI cron keeps timestamp.json fresh with "tufup-repo sign".`,
    options: { role: { type: 'string', multiple: true }, 'expires-in': { type: 'string' } },
    async run(args) {
      const roles = list(args, 'role').map(checkRole);
      const days = str(args, 'expires-in');
      const r = await signRepository({
        ...(await source(args)),
        ...(roles.length === 0 ? {} : { roles }),
        ...(days === undefined ? {} : { expiresInDays: number(days, '--expires-in') }),
      });
      const text = r.roles.map((role) => `signed ${role} v${r.metadata[role]}, expires ${r.expires[role]}`).join('\n');
      return { result: r, text };
    },
  },
  keys: {
    usage: `tufup-repo keys rotate ROLE [--keyid ID]   replace the role's key(s) with new ones
tufup-repo keys add ROLE [--public-key FILE]  add a new key (or a PEM public key held elsewhere)
tufup-repo keys remove ROLE KEYID           remove a key (ID or a unique prefix of 8+ characters)
  Each writes the next N.root.json, signed by the current and the new root keys, and re-signs what the
  role's keys sign. Needs the root key.`,
    options: { keyid: { type: 'string' }, 'public-key': { type: 'string' } },
    async run(args) {
      const action = positional(args, 0, 'rotate, add or remove');
      const role = checkRole(positional(args, 1, 'ROLE'));
      const base = { ...(await source(args)), role };
      let r: KeyChangeResult;
      if (action === 'rotate') {
        const keyid = str(args, 'keyid');
        r = await rotateKey(keyid === undefined ? base : { ...base, keyid });
      } else if (action === 'add') {
        const file = str(args, 'public-key');
        let publicKeyPem: string | undefined;
        if (file !== undefined) {
          try {
            publicKeyPem = readFileSync(file, 'utf8');
          } catch (cause) {
            throw new RepoError('IO', `cannot read the public key ${file}`, { cause });
          }
        }
        r = await addKey(publicKeyPem === undefined ? base : { ...base, publicKeyPem });
      } else if (action === 'remove') {
        r = await removeKey({ ...base, keyid: positional(args, 2, 'KEYID') });
      } else {
        throw usage(`unknown keys action "${action}"; use rotate, add or remove`);
      }
      return { result: r, text: keyChangeText(r) };
    },
  },
  threshold: {
    usage: `tufup-repo threshold ROLE N
  Sets how many signatures ROLE needs (1 to its number of keys). Writes the next N.root.json.`,
    options: {},
    async run(args) {
      const role = checkRole(positional(args, 0, 'ROLE'));
      const threshold = number(positional(args, 1, 'N'), 'N');
      const r = await setThreshold({ ...(await source(args)), role, threshold });
      return { result: r, text: keyChangeText(r) };
    },
  },
  remove: {
    usage: `tufup-repo remove VERSION [--platform P --arch A]
  Drops VERSION's archive and patch (of every platform/arch, or only the one given) and re-signs.`,
    options: { platform: { type: 'string' }, arch: { type: 'string' } },
    async run(args) {
      const version = positional(args, 0, 'VERSION');
      const platform = str(args, 'platform');
      const arch = str(args, 'arch');
      const r = await removeVersion({
        ...(await source(args)),
        version,
        ...(platform === undefined ? {} : { platform }),
        ...(arch === undefined ? {} : { arch }),
      });
      return { result: r, text: removedText(r) };
    },
  },
  prune: {
    usage: `tufup-repo prune --keep N
  Keeps the newest N versions of every platform/arch and drops the rest.`,
    options: { keep: { type: 'string' } },
    async run(args) {
      const keep = str(args, 'keep');
      if (keep === undefined) throw usage('prune needs --keep N');
      const r = await pruneVersions({ ...(await source(args)), keep: number(keep, '--keep') });
      return { result: r, text: removedText(r) };
    },
  },
  status: {
    usage: `tufup-repo status
  Versions, targets, sizes, metadata versions and expiry dates; warns about what expires soon.`,
    options: {},
    async run(args) {
      const r = await repositoryStatus(await source(args));
      const lines = [`${r.appName}: ${kb(r.totalSize)} of targets`];
      for (const role of r.roles) {
        const have = role.keysAvailable.length > 0 ? `${role.keysAvailable.length} key(s) at hand` : 'no key at hand';
        lines.push(`  ${role.role.padEnd(9)} v${role.version}  expires ${role.expires} (${role.daysLeft} days)  ${role.threshold} of ${role.keyids.length} key(s), ${have}`);
      }
      for (const p of r.platforms) {
        lines.push(`${p.platform}-${p.arch}:`);
        for (const v of p.versions) {
          const parts = [v.archive === undefined ? 'no archive' : `archive ${kb(v.archive.size)}`];
          if (v.patch !== undefined) parts.push(`patch from ${v.patch.base} ${kb(v.patch.size)}`);
          lines.push(`  ${v.version.padEnd(16)} ${parts.join(', ')}${v.required ? ', required' : ''}`);
        }
      }
      for (const w of r.warnings) lines.push(`warning: ${w}`);
      return { result: r, text: lines.join('\n') };
    },
  },
  verify: {
    usage: `tufup-repo verify [--trusted-root FILE] [--no-apply-patches]
  Checks the repository as a client would (tuf-js): from the trusted root (default metadata/1.root.json)
  along the root chain to every target's hash, then each archive's tar and each patch's result.`,
    options: { 'trusted-root': { type: 'string' }, 'no-apply-patches': { type: 'boolean', default: false } },
    async run(args) {
      const trustedRoot = str(args, 'trusted-root');
      const r = await verifyRepository({
        repoDir: repoOf(args),
        applyPatches: args.values['no-apply-patches'] !== true,
        ...(trustedRoot === undefined ? {} : { trustedRoot: resolve(trustedRoot) }),
      });
      const lines = [
        `verified: root v${r.rootVersion}, targets v${r.targetsVersion}, ${r.targets} target(s) (${kb(r.bytes)}), ${r.patchesApplied} patch(es) applied`,
        ...r.warnings.map((w) => `warning: ${w}`),
      ];
      return { result: r, text: lines.join('\n') };
    },
  },
};

const MAIN_HELP = `tufup-repo: create, sign and publish a TUF update repository for an Electron app

Commands:
  init        create keys and an empty repository
  add         publish a version of a bundle folder (archive + patch)
  sign        re-sign roles and refresh expiry dates
  keys        rotate, add or remove keys (rotate|add|remove ROLE)
  threshold   set how many signatures a role needs
  remove      drop a version
  prune       keep only the newest N versions
  status      versions, sizes, metadata versions, expiry dates
  verify      check the repository as a client would

Run "tufup-repo COMMAND --help" for a command's options. Roles: ${ROLES.join(', ')}.
${COMMON_HELP}`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${MAIN_HELP}\n`);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`tufup-repo: unknown command "${name}"\n\n${MAIN_HELP}\n`);
    return EXIT_USAGE;
  }
  let json = rest.includes('--json');
  try {
    const parsed = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, allowPositionals: true, strict: true });
    const args: Parsed = { values: parsed.values, positionals: parsed.positionals };
    json = args.values.json === true;
    if (args.values.help === true) {
      process.stdout.write(`${command.usage}\n${COMMON_HELP}\n`);
      return 0;
    }
    const { result, text } = await command.run(args);
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${text}\n`);
    return 0;
  } catch (error) {
    const code = error instanceof RepoError ? error.code : (error as NodeJS.ErrnoException | undefined)?.code?.startsWith('ERR_PARSE_ARGS') ? 'USAGE' : 'ERROR';
    const message = error instanceof Error ? error.message : String(error);
    if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
    else process.stderr.write(`tufup-repo ${name}: ${message} [${code}]\n${code === 'USAGE' ? `\n${command.usage}\n` : ''}`);
    return code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

// Run only as the program, so tests and other tools can import main().
const invoked = process.argv[1] === undefined ? '' : realpathSync(process.argv[1]);
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
