import { join } from 'node:path';
import { initRepository } from '../repository.js';
import { perRole, str, usage, type Command } from './command.js';
import { cliLogger, givenKeysDir, guardKeysDir, passphraseOf, repoOf } from './source.js';

export const init: Command = {
  summary: 'create keys and an empty repository',
  usage: `tufup-repo init --repo DIR --app-name NAME [--url URL] [--keys-dir DIR] [--expiry ROLE=DAYS]... [--threshold ROLE=N]... [--key-count ROLE=N]...
  Creates ed25519 keys for root, targets, snapshot and timestamp (encrypted when a passphrase is given),
  tufup-repo.json, signed metadata in DIR/metadata and DIR/tufup.json, the trust file apps ship (app name,
  --url: where the repository will be served, and root.json). Refuses to overwrite an existing repository.`,
  options: {
    'app-name': { type: 'string' },
    url: { type: 'string' },
    expiry: { type: 'string', multiple: true },
    threshold: { type: 'string', multiple: true },
    'key-count': { type: 'string', multiple: true },
  },
  async run(args) {
    const appName = str(args, 'app-name');
    if (appName === undefined) throw usage('init needs --app-name NAME');
    const repoDir = repoOf(args);
    // Not the config's keys folder: there is no config yet.
    const keysDir = givenKeysDir(args) ?? `${repoDir}-keys`;
    await guardKeysDir(keysDir);
    const passphrase = await passphraseOf(args, true);
    const url = str(args, 'url');
    const result = await initRepository({
      repoDir,
      keysDir,
      appName,
      ...(url === undefined ? {} : { url }),
      expiryDays: perRole(args, 'expiry'),
      thresholds: perRole(args, 'threshold'),
      keyCounts: perRole(args, 'key-count'),
      ...(passphrase === undefined ? {} : { passphrase }),
      logger: cliLogger,
    });
    const lines = [`created the repository of ${appName} in ${repoDir}`];
    for (const k of result.keys) lines.push(`  ${k.role.padEnd(9)} key ${k.keyid}\n            ${k.file}`);
    lines.push(`keep the root key offline; publish ${join(repoDir, 'metadata')} and ${join(repoDir, 'targets')}`);
    return { result, text: lines.join('\n') };
  },
};
