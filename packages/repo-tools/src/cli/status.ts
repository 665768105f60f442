import { repositoryStatus } from '../status.js';
import type { Command } from './command.js';
import { kb } from './format.js';
import { source } from './source.js';

export const status: Command = {
  summary: 'versions, sizes, metadata versions, expiry dates',
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
};
