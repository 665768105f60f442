import { Parser, type ReadEntry } from 'tar';
import { BundleError, messageOf } from './error.js';
import type { TarEntry } from './tar.js';

/**
 * The one set of rules for what a bundle may hold, applied where a bundle is made (`tufup-repo add`
 * scans the folder), checked (`tufup-repo verify` reads each published tar) and unpacked (the client's
 * extraction): so the publisher is refused exactly what every client would refuse.
 */

/** How entries of a bundle are named and linked, from a folder scan or a tar header. */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink';

/** One entry as the rules see it. */
export interface EntryFacts {
  /** As written in the archive or found in the folder, `/`-separated. */
  path: string;
  /** Its kind; anything else (a device, a FIFO, an unknown tar type) is named by `other`. */
  kind: EntryKind | { other: string };
  /** Mode bits, set-id and sticky bits included. */
  mode: number;
  /** A symlink's target, or the archive path a hard link repeats. */
  target?: string;
}

/** Symlinks followed through each other before a target counts as a loop. */
const MAX_LINK_DEPTH = 40;

/** The kind of a tar entry type (node-tar's names). */
export function kindOfTarType(type: string): EntryFacts['kind'] {
  switch (type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'directory';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    default:
      return { other: type };
  }
}

/**
 * Checks the entries of one bundle as they come, in any order. Refuses (BundleError UNSAFE_ENTRY, the
 * message naming the entry): absolute paths, drive letters, backslashes and NUL, `..` anywhere, an empty
 * path for anything but the root folder, set-id and sticky bits, a path that appears twice, an entry
 * written through a symlink (also one spelled in another case, as a case-insensitive disk would follow
 * it), a file or link that would replace a folder holding other entries, a symlink whose target leads
 * outside the bundle (checked again by {@link finish} once every link is known, since a later link can
 * make an earlier one escape), a hard link to anything but a file of the bundle, and any other kind of
 * entry (devices, FIFOs).
 */
export class BundleValidator {
  /** Symlinks by {@link fold}ed path, so a link is found the way a case-insensitive disk finds it. */
  private readonly links = new Map<string, { rel: string; target: string }>();
  /** Folders implied by deeper entries: a later file or link there would replace a folder. */
  private readonly parents = new Set<string>();
  private readonly files = new Set<string>();
  private readonly seen = new Set<string>();

  /** `describe(path, what)` is the message of a refusal, e.g. `the archive entry "a" is ...; nothing was extracted`. */
  constructor(private readonly describe: (path: string, what: string) => string) {}

  /** Checks one entry against the rules and the entries before it; returns its path components (none: the root). */
  add(entry: EntryFacts): string[] {
    const parts = this.safeParts(entry.path);
    if (parts.length === 0) {
      if (entry.kind !== 'directory') throw this.unsafe(entry.path, 'has an empty path');
      return parts;
    }
    const rel = parts.join('/');
    if (typeof entry.kind === 'object') throw this.unsafe(rel, `is a ${entry.kind.other} entry; only files, folders and links are allowed`);
    if (entry.mode & 0o7000) throw this.unsafe(rel, 'has setuid, setgid or sticky bits');
    if (this.seen.has(rel)) throw this.unsafe(rel, 'appears twice in the archive');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.links.has(fold(parent))) throw this.unsafe(rel, 'would be written through a symlink');
      if (this.files.has(parent) && !this.links.has(fold(parent))) throw this.unsafe(rel, `would be written inside the file "${parent}"`);
      this.parents.add(parent);
    }
    if (entry.kind !== 'directory' && this.parents.has(rel)) throw this.unsafe(rel, 'would replace a folder that holds other entries');
    this.seen.add(rel);
    switch (entry.kind) {
      case 'file':
        this.files.add(rel);
        break;
      case 'symlink': {
        const target = entry.target ?? '';
        this.links.set(fold(rel), { rel, target });
        if (resolveLink(this.links, parts.slice(0, -1), target, 0) === undefined) throw this.unsafe(rel, `is a symlink to "${target}", outside the folder`);
        break;
      }
      case 'hardlink': {
        const target = this.safeParts(entry.target ?? '').join('/');
        if (!this.files.has(target)) throw this.unsafe(rel, `is a hard link to "${entry.target ?? ''}", not to a file of the archive`);
        break;
      }
      case 'directory':
        break;
    }
    return parts;
  }

  /** Checks every symlink again with the full link map: a later link can make an earlier one escape. */
  finish(): void {
    for (const { rel, target } of this.links.values()) {
      if (resolveLink(this.links, rel.split('/').slice(0, -1), target, 0) === undefined) throw this.unsafe(rel, `is a symlink to "${target}", outside the folder`);
    }
  }

  private unsafe(path: string, what: string): BundleError {
    return new BundleError('UNSAFE_ENTRY', this.describe(path, what));
  }

  /** Splits a path into safe components, refusing absolute paths, drive letters, backslashes, NUL and `..`. */
  private safeParts(path: string): string[] {
    if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || path.includes('\0')) {
      throw this.unsafe(path, 'has an absolute or non-portable path');
    }
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw this.unsafe(path, 'climbs out with ".."');
    return parts;
  }
}

/** Checks a folder scan's entries (a bundle about to be published) with the rules; UNSAFE_ENTRY names the first bad one. */
export function validateBundleEntries(entries: Iterable<TarEntry>, where: string): void {
  const validator = new BundleValidator((path, what) => `the entry "${path}" of ${where} ${what}; no client would install it`);
  for (const e of entries) {
    validator.add({ path: e.path, kind: e.type, mode: e.mode, ...(e.linkname === undefined ? {} : { target: e.linkname }) });
  }
  validator.finish();
}

/**
 * Checks the entries of a tar stream with the rules, reading headers only (contents are skipped as they
 * stream by). UNSAFE_ENTRY names the first bad entry of `where`; a stream that is not a tar is UNSAFE_ENTRY too.
 */
export async function validateTar(source: AsyncIterable<Uint8Array>, where: string): Promise<void> {
  const validator = new BundleValidator((path, what) => `the entry "${path}" of ${where} ${what}; no client would install it`);
  const parser = new Parser({ strict: true });
  let failure: BundleError | undefined;
  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (failure === undefined) validator.add({ path: entry.path, kind: kindOfTarType(entry.type), mode: entry.mode ?? 0, ...(entry.linkpath ? { target: entry.linkpath } : {}) });
    } catch (error) {
      failure = error instanceof BundleError ? error : new BundleError('UNSAFE_ENTRY', `${where}: ${messageOf(error)}`, { cause: error });
    }
    entry.resume();
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    failure ??= new BundleError('UNSAFE_ENTRY', `the entry "${entry.path}" of ${where} is of unknown type ${entry.type}; no client would install it`);
  });
  parser.on('error', (error: unknown) => {
    failure ??= new BundleError('UNSAFE_ENTRY', `${where} is not a valid tar: ${messageOf(error)}`, { cause: error });
  });
  const ended = new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.on('abort', () => resolve());
  });
  for await (const chunk of source) {
    if (failure !== undefined) break;
    if (!parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))) await new Promise((resolve) => parser.once('drain', resolve));
  }
  if (failure === undefined) {
    parser.end();
    await ended;
  }
  if (failure === undefined) validator.finish();
  if (failure !== undefined) throw failure;
}

/**
 * The key a path has on a case-insensitive, normalising disk (macOS, Windows): checks use it so that `D/..`
 * is known to pass through a link `d`. On a case-sensitive disk this can only refuse more, never less.
 */
function fold(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/**
 * Resolves a link target against the links already known, the way the OS will; undefined when it leads
 * outside the root or loops.
 */
function resolveLink(links: ReadonlyMap<string, { target: string }>, from: readonly string[], target: string, depth: number): string[] | undefined {
  if (depth > MAX_LINK_DEPTH || target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) return undefined;
  let at = [...from];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (at.length === 0) return undefined;
      at.pop();
      continue;
    }
    at.push(part);
    const link = links.get(fold(at.join('/')));
    if (link !== undefined) {
      const resolved = resolveLink(links, at.slice(0, -1), link.target, depth + 1);
      if (resolved === undefined) return undefined;
      at = resolved;
    }
  }
  return at;
}
