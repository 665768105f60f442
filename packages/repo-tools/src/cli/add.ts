import { resolve } from 'node:path';
import { FULL_ROLLOUT } from '@tufup/bundle';
import { RepoError } from '../error.js';
import { bundleFolderOf } from '../one-file.js';
import { addBundle } from '../release.js';
import { number, positional, readTextFile, str, usage, type Command } from './command.js';
import { kb } from './format.js';
import { source } from './source.js';

export const add: Command = {
  summary: 'publish a version of a bundle folder (archive + patch)',
  usage: `tufup-repo add BUNDLE_DIR|APPIMAGE --version X [--platform P] [--arch A] [--required] [--notes FILE] [--custom JSON] [--rollout PERCENT] [--entries-in-patch]
  Packs BUNDLE_DIR (or an AppImage file, as a one-file bundle) as <name>-X.tar.gz with its entry list <name>-X.entries, makes the patch
  from the latest earlier version of the same platform/arch, adds them as signed targets and re-signs targets, snapshot and timestamp.
  --platform and --arch default to this machine's (${process.platform}, ${process.arch}).
  --rollout offers the version to that share (0-100) of installs; widen it later with "tufup-repo rollout".
  --entries-in-patch also writes the base version's entry list into the patch (a few KB), for clients older than the entries target
  whose install folder an installer added files to (they download the full archive otherwise).`,
  options: {
    version: { type: 'string' },
    platform: { type: 'string' },
    arch: { type: 'string' },
    required: { type: 'boolean', default: false },
    notes: { type: 'string' },
    custom: { type: 'string' },
    rollout: { type: 'string' },
    'entries-in-patch': { type: 'boolean', default: false },
  },
  async run(args) {
    const given = resolve(positional(args, 0, 'BUNDLE_DIR'));
    const version = str(args, 'version');
    if (version === undefined) throw usage('add needs --version X');
    const custom = customOf(str(args, 'custom'));
    const notes = str(args, 'notes');
    const releaseNotes = notes === undefined ? undefined : await readTextFile(notes, 'release notes');
    const platform = str(args, 'platform');
    const arch = str(args, 'arch');
    const percent = str(args, 'rollout');
    const options = {
      ...(await source(args)),
      version,
      required: args.values.required === true,
      entriesInPatch: args.values['entries-in-patch'] === true,
      ...(platform === undefined ? {} : { platform }),
      ...(arch === undefined ? {} : { arch }),
      ...(releaseNotes === undefined ? {} : { releaseNotes }),
      ...(custom === undefined ? {} : { custom }),
      ...(percent === undefined ? {} : { rollout: number(percent, '--rollout') }),
    };
    // An AppImage is a one-file bundle: published from a folder that holds it as its one entry.
    const bundle = await bundleFolderOf(given);
    const r = await addBundle({ ...options, bundleDir: bundle.dir }).finally(() => bundle.dispose());
    const lines = [
      `added ${r.name} ${r.version} for ${r.platform}-${r.arch}`,
      `  archive ${r.archive.file}  ${kb(r.archive.size)} (tar ${kb(r.tar.size)})`,
      `  entries ${r.entries.file}  ${kb(r.entries.size)}`,
    ];
    if (r.patch !== undefined) {
      const pct = r.archive.size === 0 ? 0 : Math.round((r.patch.saving / r.archive.size) * 100);
      lines.push(`  patch   ${r.patch.file}  ${kb(r.patch.size)} from ${r.patch.base}, saves ${kb(r.patch.saving)} (${pct}%) over the archive`);
    } else {
      lines.push('  no patch: this is the first version for this platform/arch');
    }
    if (r.rollout < FULL_ROLLOUT) lines.push(`  staged rollout: offered to ${r.rollout}% of installs`);
    lines.push(`  metadata: targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}`);
    return { result: r, text: lines.join('\n') };
  },
};

function customOf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new RepoError('INVALID_CUSTOM', '--custom is not valid JSON', { cause });
  }
}
