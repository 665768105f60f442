import { checkRole } from '../config.js';
import { setThreshold } from '../keyring.js';
import { number, positional, type Command } from './command.js';
import { keyChangeText } from './format.js';
import { source } from './source.js';

export const threshold: Command = {
  summary: 'set how many signatures a role needs',
  usage: `tufup-repo threshold ROLE N
  Sets how many signatures ROLE needs (1 to its number of keys). Writes the next N.root.json.`,
  options: {},
  async run(args) {
    const role = checkRole(positional(args, 0, 'ROLE'));
    const n = number(positional(args, 1, 'N'), 'N');
    const r = await setThreshold({ ...(await source(args)), role, threshold: n });
    return { result: r, text: keyChangeText(r) };
  },
};
