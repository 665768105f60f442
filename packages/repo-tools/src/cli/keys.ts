import { checkRole } from '../config.js';
import { addKey, removeKey, rotateKey, type KeyChangeResult } from '../keyring.js';
import { positional, readTextFile, str, usage, type Command } from './command.js';
import { keyChangeText } from './format.js';
import { source } from './source.js';

export const keys: Command = {
  summary: 'rotate, add or remove keys (rotate|add|remove ROLE)',
  usage: `tufup-repo keys rotate ROLE [--keyid ID]   replace the role's key(s) with new ones
tufup-repo keys add ROLE [--public-key FILE]  add a new key (or a PEM public key held elsewhere)
tufup-repo keys remove ROLE KEYID           remove a key (ID or a unique prefix of 8+ characters)
  Each writes the next N.root.json, signed by the current and the new root keys, and re-signs what the
  role's keys sign. Needs the root key. rotate and remove then delete the retired key's private key file
  from the keys folder (destroy any other copy yourself).`,
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
      r = await addKey(file === undefined ? base : { ...base, publicKeyPem: await readTextFile(file, 'public key') });
    } else if (action === 'remove') {
      r = await removeKey({ ...base, keyid: positional(args, 2, 'KEYID') });
    } else {
      throw usage(`unknown keys action "${action}"; use rotate, add or remove`);
    }
    return { result: r, text: keyChangeText(r) };
  },
};
