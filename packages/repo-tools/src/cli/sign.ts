import { checkRole } from '../config.js';
import { signRepository } from '../repository.js';
import { list, number, str, type Command } from './command.js';
import { source } from './source.js';

export const sign: Command = {
  summary: 're-sign roles and refresh expiry dates',
  usage: `tufup-repo sign [--role ROLE]... [--expires-in DAYS]
  Re-signs roles with fresh expiry dates (default: timestamp). Re-signing targets also re-signs snapshot
  and timestamp; snapshot also timestamp. A CI cron keeps timestamp.json fresh with "tufup-repo sign".`,
  options: { role: { type: 'string', multiple: true }, 'expires-in': { type: 'string' } },
  async run(args) {
    const roles = list(args, 'role').map(checkRole);
    const days = str(args, 'expires-in');
    const r = await signRepository({
      ...(await source(args)),
      ...(roles.length === 0 ? {} : { roles }),
      ...(days === undefined ? {} : { expiresInDays: number(days, '--expires-in') }),
    });
    const text = r.roles.map((role) => `signed ${role} v${r.metadata[role]}, expires ${r.expires[role]}`).join('\n');
    return { result: r, text };
  },
};
