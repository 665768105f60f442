import { unyankRelease, yankRelease } from '../lifecycle.js';
import { positional, str, usage, type Command } from './command.js';
import { lifecycleText, selector } from './rollout.js';
import { source } from './source.js';

export const yank: Command = {
  summary: 'pull a bad version, with the reason users see',
  usage: `tufup-repo yank VERSION --reason TEXT [--platform P --arch A]
  Marks VERSION as yanked in the signed targets metadata: no install is offered it any more, and installs
  running it are offered the newest version that is not yanked, even a lower one. The files stay (patch
  chains through the version keep working); "tufup-repo remove" deletes them. Clients that predate yanks
  ignore the mark: remove the version to reach them too.`,
  options: { reason: { type: 'string' }, platform: { type: 'string' }, arch: { type: 'string' } },
  async run(args) {
    const version = positional(args, 0, 'VERSION');
    const reason = str(args, 'reason');
    if (reason === undefined) throw usage('yank needs --reason TEXT: users and logs see it');
    const r = await yankRelease({ ...(await source(args)), ...selector(args), version, reason });
    return { result: r, text: lifecycleText(r) };
  },
};

export const unyank: Command = {
  summary: 'offer a yanked version again',
  usage: `tufup-repo unyank VERSION [--platform P --arch A]
  Removes the yank of VERSION: installs are offered it again, within its rollout.`,
  options: { platform: { type: 'string' }, arch: { type: 'string' } },
  async run(args) {
    const version = positional(args, 0, 'VERSION');
    const r = await unyankRelease({ ...(await source(args)), ...selector(args), version });
    return { result: r, text: lifecycleText(r) };
  },
};
