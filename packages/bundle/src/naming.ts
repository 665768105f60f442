import { BundleError } from './error.js';
import { parseVersion } from './version.js';

/** An app name as it appears in archive names. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
const PLATFORM_PATTERN = /^[a-z0-9]+$/;
const FILE_PATTERN = /^([A-Za-z0-9_-]+?)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\.(tar\.gz|patch|entries)$/;

/**
 * The kinds of target of a version: its full archive, the patch to it from the version before, and the
 * signed list of its archive's entries (see `entries.ts`), which a client fetches only to rebuild a patch
 * base from an install folder that an installer added files to.
 */
export type TargetKind = 'archive' | 'patch' | 'entries';

export const ARCHIVE_SUFFIX = '.tar.gz';
export const PATCH_SUFFIX = '.patch';
/**
 * No `.json` or `.gz` in the name on purpose: servers and CDNs pick a content type, or an encoding to add
 * or strip, from the suffix, and this file must reach the client byte for byte as signed.
 */
export const ENTRIES_SUFFIX = '.entries';

const SUFFIXES: Record<TargetKind, string> = { archive: ARCHIVE_SUFFIX, patch: PATCH_SUFFIX, entries: ENTRIES_SUFFIX };
const KINDS: Record<string, TargetKind> = { 'tar.gz': 'archive', patch: 'patch', entries: 'entries' };

/** Identifies one update file of one app build. */
export interface TargetId {
  name: string;
  version: string;
  kind: TargetKind;
  platform: string;
  arch: string;
}

/** Throws unless `name` is a valid app name (`[A-Za-z0-9_-]+`). */
export function checkName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new BundleError('INVALID_NAME', `"${name}" is not a valid app name: use letters, digits, "_" and "-"`);
  }
  return name;
}

function checkPlatform(value: string, what: string): string {
  if (!PLATFORM_PATTERN.test(value)) {
    throw new BundleError('INVALID_NAME', `"${value}" is not a valid ${what}: use lower-case letters and digits`);
  }
  return value;
}

/** `<name>-<version>.tar.gz`, `<name>-<version>.patch` or `<name>-<version>.entries`. */
export function targetFileName(name: string, version: string, kind: TargetKind): string {
  checkName(name);
  parseVersion(version);
  return `${name}-${version}${SUFFIXES[kind]}`;
}

/** The TUF target path: `<platform>-<arch>/<name>-<version>.<tar.gz|patch|entries>`, one folder per build. */
export function targetPath(id: TargetId): string {
  return `${platformKey(id.platform, id.arch)}/${targetFileName(id.name, id.version, id.kind)}`;
}

/** `<platform>-<arch>`, the folder of one build's targets (`linux-x64`, `darwin-arm64`). */
export function platformKey(platform: string, arch: string): string {
  return `${checkPlatform(platform, 'platform')}-${checkPlatform(arch, 'arch')}`;
}

/**
 * Parses `<name>-<version>.tar.gz` / `.patch` / `.entries`; the error names the file. (Clients that
 * predate `.entries` refuse such names here and skip the target: nothing else changes for them.)
 */
export function parseTargetFileName(fileName: string): Pick<TargetId, 'name' | 'version' | 'kind'> {
  const match = FILE_PATTERN.exec(fileName);
  if (match === null) {
    throw new BundleError(
      'INVALID_FILENAME',
      `"${fileName}" is not an update file name of the form <name>-<version>.tar.gz, .patch or .entries`,
    );
  }
  const [, name = '', version = '', suffix = ''] = match;
  return { name, version: parseVersion(version, `"${fileName}"`), kind: KINDS[suffix] ?? 'archive' };
}

/** Parses a target path made by {@link targetPath}. */
export function parseTargetPath(path: string): TargetId {
  const slash = path.indexOf('/');
  const dir = path.slice(0, slash);
  const dash = dir.indexOf('-');
  if (slash < 0 || dash < 0 || path.indexOf('/', slash + 1) >= 0) {
    throw new BundleError('INVALID_FILENAME', `"${path}" is not a target path of the form <platform>-<arch>/<file>`);
  }
  const platform = checkPlatform(dir.slice(0, dash), 'platform');
  const arch = checkPlatform(dir.slice(dash + 1), 'arch');
  return { ...parseTargetFileName(path.slice(slash + 1)), platform, arch };
}
