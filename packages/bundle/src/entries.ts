/**
 * A version's entry list, published as a signed target of its own (`<platform>-<arch>/<name>-<version>.entries`).
 *
 * A client rebuilds the tar of its running version from the install folder to apply a patch to it. The
 * folder as scanned gives that tar when tufup (or an archive of the bundle) installed it; when an
 * installer added files (NSIS's `Uninstall <App>.exe`), the client needs the archive's own list of
 * entries, and fetches this file, verified by TUF like every target. The list is used for one thing
 * only: to read the install folder in the archive's order; the tar it rebuilds must still hash to the
 * signed tar digest before a byte of the patch is applied.
 *
 * Format: gzip (level 9, no name or time) of the JSON `{ "schema": 1, "tar": {sha256, size}, "entries":
 * [{path, type, mode, size, linkname?}, ...] }`, entries in archive order.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { BundleError, messageOf } from './error.js';
import { sameDigest, type Digest } from './hash.js';
import { tarSize, type TarEntry } from './tar.js';
import { validateBundleEntries } from './validate.js';

/** Version of the entry list format; a client refuses a list of another schema (and uses the full archive). */
export const ENTRY_LIST_SCHEMA = 1;
/** An entry list that inflates past this is refused rather than allowed to exhaust memory. */
const MAX_ENTRY_LIST_BYTES = 64 * 1024 * 1024;

/** The bytes of a version's entry list target: the entries of the tar whose digest is `tar`. */
export function serializeEntryList(tar: Digest, entries: readonly TarEntry[]): Buffer {
  const list = entries.map(({ path, type, mode, size, linkname }) => (type === 'symlink' ? { path, type, mode, size, linkname } : { path, type, mode, size }));
  return gzipSync(JSON.stringify({ schema: ENTRY_LIST_SCHEMA, tar: { sha256: tar.sha256, size: tar.size }, entries: list }), { level: 9 });
}

/**
 * Reads an entry list target and checks that it can only describe the tar `tar` (the signed digest of
 * the version): its schema, its recorded tar, each entry's shape and path (nothing outside the folder),
 * the tar size the entries add up to, and the rules every bundle follows. INVALID_ENTRY_LIST (or
 * UNSAFE_ENTRY) names `source` otherwise.
 */
export function parseEntryList(bytes: Uint8Array, tar: Digest, source: string): TarEntry[] {
  const invalid = (what: string, cause?: unknown): BundleError =>
    new BundleError('INVALID_ENTRY_LIST', `${source} ${what}`, cause === undefined ? undefined : { cause });
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(bytes, { maxOutputLength: MAX_ENTRY_LIST_BYTES }).toString('utf8'));
  } catch (cause) {
    throw invalid(`is not an entry list: ${messageOf(cause)}`, cause);
  }
  if (!isRecord(parsed)) throw invalid('is not an entry list');
  if (parsed.schema !== ENTRY_LIST_SCHEMA) throw invalid(`has entry list schema ${String(parsed.schema)}; this code reads ${ENTRY_LIST_SCHEMA}`);
  if (!isRecord(parsed.tar) || !sameDigest(parsed.tar as unknown as Digest, tar)) throw invalid(`lists the entries of another tar than the signed ${tar.sha256}`);
  const { entries } = parsed;
  if (!Array.isArray(entries) || entries.length === 0) throw invalid('has no entries');
  const bad = entries.findIndex((e) => !isTarEntry(e));
  if (bad >= 0) throw invalid(`has an invalid entry (#${bad + 1}): ${JSON.stringify(entries[bad]).slice(0, 200)}`);
  const list = entries as TarEntry[];
  // A list that cannot add up to the signed size cannot rebuild the tar: refused before any file is read.
  if (tarSize(list) !== tar.size) throw invalid(`makes a tar of ${tarSize(list)} bytes, not the signed ${tar.size}`);
  validateBundleEntries(list, source);
  return list;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `v` is a {@link TarEntry} whose path stays inside the folder it is joined onto. */
export function isTarEntry(v: unknown): v is TarEntry {
  if (!isRecord(v) || !isEntryPath(v.path) || !Number.isSafeInteger(v.mode) || !Number.isSafeInteger(v.size) || (v.size as number) < 0) return false;
  if (v.type === 'symlink') return typeof v.linkname === 'string';
  return v.type === 'file' || v.type === 'directory';
}

/**
 * Whether `v` is a path as scanBundle writes it: a folder rebuild joins it onto the install folder, so a
 * forged list must not name anything outside it (no `..`, absolute or drive paths, backslashes, NUL,
 * empty or `.` segments).
 */
function isEntryPath(v: unknown): v is string {
  if (typeof v !== 'string' || /^[A-Za-z]:/.test(v) || v.includes('\\') || v.includes('\0')) return false;
  return v.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
