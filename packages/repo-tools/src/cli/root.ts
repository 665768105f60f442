import { resolve } from 'node:path';
import {
  beginRootCeremony,
  ceremonyFileOf,
  generateKeyFiles,
  missingText,
  publishRootCeremony,
  showRootCeremony,
  signRootCeremony,
  type CeremonyStatus,
  type NewKey,
} from '../ceremony.js';
import { checkRole, type RoleName } from '../config.js';
import { parsePrivateKey } from '../keystore.js';
import { KeyObjectSigner, type Signer } from '../signer.js';
import { list, number, perRole, positional, readTextFile, str, usage, type Command, type Parsed } from './command.js';
import { signersOf } from './signers.js';
import { givenKeysDir, guardKeysDir, passphraseOf, repoOf, source } from './source.js';

export const root: Command = {
  summary: 'the offline root ceremony (begin|show|sign|publish|keygen)',
  usage: `tufup-repo root begin [--add-key ROLE=PUBFILE]... [--remove-key ROLE=KEYID]... [--threshold ROLE=N]...
                      [--expires-in DAYS] [--file FILE] [--force]
  Writes the next root (new keys, thresholds, expiry), unsigned, to FILE (default <repo>/root.pending.json).
  The file holds no secret: it travels to each root key holder.
tufup-repo root show [FILE]
  What the new root changes, its fingerprint, and which signatures it still needs.
tufup-repo root sign [FILE] (--key KEYFILE | --signer-command CMD)... [--out FILE]
  Adds a signature with a root key of the current or of the new root (old and new keys both sign a
  rotation); needs no repository, so it runs on the key holder's machine.
tufup-repo root publish [FILE]...
  Publishes the new root once it carries enough signatures of the current root keys (what clients in the
  field check) and of its own root keys; otherwise says which are missing. Several FILEs (copies signed
  in parallel) are merged. Re-signs the roles whose keys changed.
tufup-repo root keygen --keys-dir DIR [--role ROLE]
  Makes a new key on this machine: the private key stays in DIR, the .pub file travels to "root begin".`,
  options: {
    'add-key': { type: 'string', multiple: true },
    'remove-key': { type: 'string', multiple: true },
    threshold: { type: 'string', multiple: true },
    'expires-in': { type: 'string' },
    file: { type: 'string' },
    force: { type: 'boolean', default: false },
    key: { type: 'string', multiple: true },
    out: { type: 'string' },
    role: { type: 'string' },
  },
  async run(args) {
    const action = positional(args, 0, 'begin, show, sign, publish or keygen');
    // The ceremony file: FILE after the action, else --file, else the repository's root.pending.json.
    const file = resolve(args.positionals[1] ?? str(args, 'file') ?? ceremonyFileOf(repoOf(args)));
    if (action === 'begin') {
      const days = str(args, 'expires-in');
      const status = await beginRootCeremony({
        ...(await source(args)),
        file,
        addKeys: await newKeys(args),
        removeKeys: list(args, 'remove-key').map((item) => {
          const { role, value } = roleValue(item, '--remove-key');
          return { role, keyid: value };
        }),
        thresholds: perRole(args, 'threshold'),
        force: args.values.force === true,
        ...(days === undefined ? {} : { expiresInDays: number(days, '--expires-in') }),
      });
      return { result: status, text: `wrote ${status.file}\n${statusText(status)}\nnext: each root key holder runs "tufup-repo root sign FILE --key KEYFILE"` };
    }
    if (action === 'show') {
      const status = await showRootCeremony(file);
      return { result: status, text: statusText(status) };
    }
    if (action === 'sign') {
      const signers = await keySigners(args);
      const out = str(args, 'out');
      const status = await signRootCeremony({ file: file, signers, ...(out === undefined ? {} : { out: resolve(out) }) });
      const by = signers.map((s) => s.keyid).join(', ');
      return { result: { ...status, signedBy: signers.map((s) => s.keyid) }, text: `signed root v${status.version} with ${by}\n${statusText(status)}` };
    }
    if (action === 'publish') {
      const files = args.positionals.slice(1).map((f) => resolve(f));
      const given = str(args, 'file');
      const r = await publishRootCeremony({ ...(await source(args)), files: files.length > 0 ? files : given === undefined ? [] : [resolve(given)] });
      const resigned = r.resigned.length === 0 ? '' : `; re-signed ${r.resigned.join(', ')} with their new keys`;
      return { result: r, text: `published root v${r.metadata.root}${resigned}\nclients trusting root v${r.status.previousVersion} follow the chain to it` };
    }
    if (action === 'keygen') {
      const keysDir = givenKeysDir(args);
      if (keysDir === undefined) throw usage('root keygen needs --keys-dir DIR (where the private key stays)');
      await guardKeysDir(keysDir);
      const role: RoleName = checkRole(str(args, 'role') ?? 'root');
      const passphrase = await passphraseOf(args, true);
      const r = await generateKeyFiles({ keysDir, role, ...(passphrase === undefined ? {} : { passphrase }) });
      return { result: r, text: `new ${r.role} key ${r.keyid}\n  private key (keep it here): ${r.privateFile}\n  public key (send it):      ${r.publicFile}` };
    }
    throw usage(`unknown root action "${action}"; use begin, show, sign, publish or keygen`);
  },
};

/** `ROLE=VALUE`, with the role checked. */
function roleValue(item: string, option: string): { role: RoleName; value: string } {
  const at = item.indexOf('=');
  if (at < 0) throw usage(`${option} takes ROLE=VALUE, not "${item}"`);
  return { role: checkRole(item.slice(0, at)), value: item.slice(at + 1) };
}

async function newKeys(args: Parsed): Promise<NewKey[]> {
  const keys: NewKey[] = [];
  for (const item of list(args, 'add-key')) {
    const { role, value } = roleValue(item, '--add-key');
    keys.push({ role, publicKey: await readTextFile(value, 'public key'), source: value });
  }
  return keys;
}

/** The signers of `root sign`: key files (--key) and commands (--signer-command). */
async function keySigners(args: Parsed): Promise<Signer[]> {
  const files = list(args, 'key');
  const passphrase = files.length === 0 ? undefined : await passphraseOf(args);
  const signers: Signer[] = [];
  for (const file of files) {
    signers.push(new KeyObjectSigner(parsePrivateKey(await readTextFile(file, 'key file'), `the key file ${file}`, passphrase)));
  }
  signers.push(...(await signersOf(args)));
  if (signers.length === 0) throw usage('root sign needs --key KEYFILE or --signer-command CMD');
  return signers;
}

/** A ceremony file for the people signing it. */
export function statusText(s: CeremonyStatus): string {
  const lines = [`root v${s.version} of ${s.appName}, replacing v${s.previousVersion}; expires ${s.expires}`, `fingerprint sha256:${s.fingerprint}`, 'changes:'];
  for (const c of s.changes) lines.push(`  ${c}`);
  lines.push('signatures:');
  for (const t of s.thresholds) {
    const whose = t.of === 'previous' ? `current root v${t.version}'s root keys` : `new root v${t.version}'s root keys`;
    const state = t.met ? 'met' : `needs ${t.threshold - t.signed.length} more`;
    lines.push(`  ${whose}: ${t.signed.length} of ${t.threshold} (${state}); signed: ${t.signed.join(', ') || '-'}; not yet: ${t.unsigned.join(', ') || '-'}`);
  }
  if (s.invalid.length > 0) lines.push(`  not counted (do not verify): ${s.invalid.join(', ')}`);
  lines.push(s.complete ? 'ready: "tufup-repo root publish" publishes it' : `not ready: ${missingText(s)}`);
  return lines.join('\n');
}
