import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { METADATA_DIR } from '../config.js';
import { ioError, RepoError } from '../error.js';
import { metadataFileName } from '../metadata.js';
import { targetFile } from '../release.js';
import type { RepoState } from '../store.js';

/**
 * The steps of a publish, in TUF's safe order: a client reads timestamp.json first and follows it to
 * everything else, so each step only adds files that nothing published refers to yet, and the last step
 * (one atomic replacement of timestamp.json) makes the new release visible at once.
 */
export type Phase = 'targets' | 'metadata' | 'root' | 'timestamp';
export const PHASES: readonly Phase[] = ['targets', 'metadata', 'root', 'timestamp'];

/** One file to be on the destination. */
export interface PlannedFile {
  /** `/`-separated path below the destination: `targets/...` or `metadata/...`. */
  key: string;
  phase: Phase;
  size: number;
  /** Where its bytes are: a local file (targets, streamed), or the bytes themselves (metadata, read once). */
  source: { path: string; sha256: string } | { bytes: Buffer };
  /** MD5 of the bytes, for stores whose ETag is one (metadata only; targets are named by their sha256). */
  md5?: string;
  /** Named by content or version, so never changes once published. */
  immutable: boolean;
  cacheControl: string;
  contentType: string;
}

/** Cache policy: immutable files forever, the two mutable ones briefly. */
export interface CachePolicy {
  /** Seconds a cache may keep `timestamp.json` and the unversioned `root.json`. @default 60 */
  maxAge: number;
}

export const DEFAULT_MAX_AGE = 60;
const IMMUTABLE = 'public, max-age=31536000, immutable';

function contentTypeOf(key: string): string {
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

async function metadataFile(repoDir: string, name: string, phase: Phase, policy: CachePolicy): Promise<PlannedFile> {
  const key = `${METADATA_DIR}/${name}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(repoDir, METADATA_DIR, name));
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${key} is missing or unreadable`, { cause });
  }
  const immutable = phase !== 'timestamp' && name !== 'root.json';
  return {
    key,
    phase,
    size: bytes.length,
    source: { bytes },
    md5: createHash('md5').update(bytes).digest('hex'),
    immutable,
    cacheControl: immutable ? IMMUTABLE : `public, max-age=${policy.maxAge}`,
    contentType: 'application/json',
  };
}

/**
 * Every file a client of the repository's current state may fetch, in publishing order: the targets the
 * signed targets metadata names; the current N.targets.json and N.snapshot.json; the whole root chain
 * (1.root.json ... N.root.json, which clients with an older shipped root walk) and root.json; then
 * timestamp.json. Metadata bytes are read here, once, so what is uploaded is what `state` was read from.
 */
export async function planUpload(state: RepoState, policy: CachePolicy): Promise<PlannedFile[]> {
  const { repoDir } = state;
  const files: PlannedFile[] = [];
  for (const [path, info] of Object.entries(state.targets.signed.targets)) {
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined) throw new RepoError('METADATA_CORRUPT', `target ${path} has no sha256 hash`);
    const key = targetFile(path, sha256);
    files.push({
      key,
      phase: 'targets',
      size: info.length,
      source: { path: join(repoDir, ...key.split('/')), sha256 },
      immutable: true,
      cacheControl: IMMUTABLE,
      contentType: contentTypeOf(key),
    });
  }
  files.sort((a, b) => a.key.localeCompare(b.key));
  files.push(await metadataFile(repoDir, metadataFileName('targets', state.targets.signed.version), 'metadata', policy));
  files.push(await metadataFile(repoDir, metadataFileName('snapshot', state.snapshot.signed.version), 'metadata', policy));
  const rootVersion = state.root.signed.version;
  let names: string[];
  try {
    names = await readdir(join(repoDir, METADATA_DIR));
  } catch (cause) {
    throw ioError(`cannot list ${join(repoDir, METADATA_DIR)}`, cause);
  }
  for (let version = 1; version <= rootVersion; version++) {
    const name = metadataFileName('root', version);
    if (!names.includes(name)) throw new RepoError('METADATA_CORRUPT', `${METADATA_DIR}/${name} is missing: clients that ship an older root could not follow the chain`);
    files.push(await metadataFile(repoDir, name, 'root', policy));
  }
  files.push(await metadataFile(repoDir, 'root.json', 'root', policy));
  files.push(await metadataFile(repoDir, 'timestamp.json', 'timestamp', policy));
  return files;
}
