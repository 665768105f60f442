import { setRollout, type LifecycleResult } from '../lifecycle.js';
import { number, positional, str, type Command, type Parsed } from './command.js';
import { source } from './source.js';

export const rollout: Command = {
  summary: 'widen, complete or pause the staged rollout of a version',
  usage: `tufup-repo rollout VERSION PERCENT [--platform P --arch A]
  Offers VERSION to PERCENT (0-100, whole) of installs: raise it to widen the rollout, 100 to complete it,
  0 to pause it. Installs that took the version keep it. The percentage is signed into the targets
  metadata (a server cannot change it); a required version is taken by every install whatever it says.`,
  options: { platform: { type: 'string' }, arch: { type: 'string' } },
  async run(args) {
    const version = positional(args, 0, 'VERSION');
    const percent = number(positional(args, 1, 'PERCENT'), 'PERCENT');
    const r = await setRollout({ ...(await source(args)), ...selector(args), version, percent });
    return { result: r, text: lifecycleText(r) };
  },
};

/** --platform/--arch, when given. */
export function selector(args: Parsed): { platform?: string; arch?: string } {
  const platform = str(args, 'platform');
  const arch = str(args, 'arch');
  return { ...(platform === undefined ? {} : { platform }), ...(arch === undefined ? {} : { arch }) };
}

/** What a rollout, yank or unyank left in place, per platform/arch. */
export function lifecycleText(r: LifecycleResult): string {
  const lines = r.releases.map((d) => {
    const parts = [`rollout ${d.rollout}%`];
    if (d.required) parts.push('required (every install takes it)');
    if (d.yanked !== undefined) parts.push(`YANKED: ${d.yanked.reason}`);
    return `${d.version} for ${d.platform}-${d.arch}: ${parts.join(', ')}`;
  });
  lines.push(r.changed ? `  metadata: targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}` : '  nothing changed');
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
