import { removeVersion } from '../release.js';
import { positional, str, type Command } from './command.js';
import { removedText } from './format.js';
import { source } from './source.js';

export const remove: Command = {
  summary: 'drop a version',
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
};
