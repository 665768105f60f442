import { pruneVersions } from '../release.js';
import { number, str, usage, type Command } from './command.js';
import { removedText } from './format.js';
import { source } from './source.js';

export const prune: Command = {
  summary: 'keep only the newest N versions',
  usage: `tufup-repo prune --keep N
  Keeps the newest N versions of every platform/arch and drops the rest.`,
  options: { keep: { type: 'string' } },
  async run(args) {
    const keep = str(args, 'keep');
    if (keep === undefined) throw usage('prune needs --keep N');
    const r = await pruneVersions({ ...(await source(args)), keep: number(keep, '--keep') });
    return { result: r, text: removedText(r) };
  },
};
