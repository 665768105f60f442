import { FULL_ROLLOUT } from '@tufup/bundle';
import { repositoryStatus } from '../status.js';
import type { Command } from './command.js';
import { kb } from './format.js';
import { source } from './source.js';

export const status: Command = {
  summary: 'versions, sizes, metadata versions, expiry dates',
  usage: `tufup-repo status
  Versions, targets, sizes, metadata versions and expiry dates; warns about what expires soon. Shows each
  version's staged rollout and yank (with its reason); --json adds offeredTo, the share of installs a
  client offers the version to (0 when yanked, 100 when required). Warns when the targets metadata, which
  every client downloads after each release, grows past 1 MiB: prune old versions then.`,
  options: {},
  async run(args) {
    const r = await repositoryStatus(await source(args));
    const lines = [`${r.appName}: ${kb(r.totalSize)} of targets; targets metadata ${kb(r.targetsMetadata.size)} (${r.targetsMetadata.targets} targets)`];
    for (const role of r.roles) {
      const have = role.keysAvailable.length > 0 ? `${role.keysAvailable.length} key(s) at hand` : 'no key at hand';
      lines.push(`  ${role.role.padEnd(9)} v${role.version}  expires ${role.expires} (${role.daysLeft} days)  ${role.threshold} of ${role.keyids.length} key(s), ${have}`);
    }
    for (const p of r.platforms) {
      lines.push(`${p.platform}-${p.arch}:`);
      for (const v of p.versions) {
        const parts = [v.archive === undefined ? 'no archive' : `archive ${kb(v.archive.size)}`];
        if (v.patch !== undefined) parts.push(`patch from ${v.patch.base} ${kb(v.patch.size)}`);
        if (v.entries !== undefined) parts.push(`entry list ${kb(v.entries.size)}`);
        if (v.rollout < FULL_ROLLOUT) parts.push(`rollout ${v.rollout}%`);
        // A required version is taken by every install: its rollout is recorded but clients ignore it.
        if (v.required) parts.push(v.rollout < FULL_ROLLOUT ? 'required (rollout ignored: every install takes it)' : 'required');
        if (v.yanked !== undefined) parts.push(`YANKED ${v.yanked.date ?? ''}: ${v.yanked.reason}`.replace(' :', ':'));
        lines.push(`  ${v.version.padEnd(16)} ${parts.join(', ')}`);
      }
    }
    for (const w of r.warnings) lines.push(`warning: ${w}`);
    return { result: r, text: lines.join('\n') };
  },
};
