import { resolve } from 'node:path';
import { verifyRepository } from '../verification.js';
import { str, type Command } from './command.js';
import { kb } from './format.js';
import { repoOf } from './source.js';

export const verify: Command = {
  summary: 'check the repository as a client would',
  usage: `tufup-repo verify [--trusted-root FILE] [--no-apply-patches]
  Checks the repository as a client would (tuf-js): from the trusted root (default metadata/1.root.json)
  along the root chain to every target's hash, then each archive's tar, each patch's result and each
  entry list against its archive.
  --trusted-root takes a root.json or the trust file an app ships (tufup.json, from "tufup-repo trust").`,
  options: { 'trusted-root': { type: 'string' }, 'no-apply-patches': { type: 'boolean', default: false } },
  async run(args) {
    const trustedRoot = str(args, 'trusted-root');
    const r = await verifyRepository({
      repoDir: repoOf(args),
      applyPatches: args.values['no-apply-patches'] !== true,
      ...(trustedRoot === undefined ? {} : { trustedRoot: resolve(trustedRoot) }),
    });
    const lines = [
      `verified: root v${r.rootVersion}, targets v${r.targetsVersion}, ${r.targets} target(s) (${kb(r.bytes)}), ${r.patchesApplied} patch(es) applied, ${r.entryListsChecked} entry list(s) checked`,
      ...r.warnings.map((w) => `warning: ${w}`),
    ];
    return { result: r, text: lines.join('\n') };
  },
};
