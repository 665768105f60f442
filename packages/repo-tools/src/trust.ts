import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { BundleError, errnoOf, parseTrustFile, writeFileAtomic, type ParsedTrustFile } from '@tufup/bundle';
import { checkRepoUrl, METADATA_DIR } from './config.js';
import { fromBundleError, ioError, RepoError } from './error.js';
import { metadataFileName, serializeMetadata } from './metadata.js';
import { loadRepository, trustFileBytes } from './store.js';

/** Options of {@link trustFileOf} and {@link writeTrustFile}. */
export interface TrustOptions {
  repoDir: string;
  /** The repository's base URL to record, instead of the one in the config (`init --url`). */
  url?: string;
}

/** A trust file made from the repository. */
export interface TrustResult {
  appName: string;
  url?: string;
  /** Version of the root.json inside. */
  rootVersion: number;
  /** The file's bytes. */
  bytes: Buffer;
}

/**
 * The trust file (`tufup.json`) an app built now should ship: the repository's app name, its URL and
 * its current root.json, read and checked as every command reads the repository.
 */
export async function trustFileOf(options: TrustOptions): Promise<TrustResult> {
  if (options.url !== undefined) checkRepoUrl(options.url);
  const state = await loadRepository(options.repoDir);
  const url = options.url ?? state.config.url;
  const bytes = trustFileBytes(state.config, serializeMetadata(state.root), url);
  return { appName: state.config.appName, ...(url === undefined ? {} : { url }), rootVersion: state.root.signed.version, bytes };
}

/** Writes {@link trustFileOf} to `out` atomically (a reader sees the old file or the new one). */
export async function writeTrustFile(options: TrustOptions & { out: string }): Promise<TrustResult & { file: string }> {
  const result = await trustFileOf(options);
  await writeFileAtomic(options.out, [result.bytes]).catch((error: unknown) => {
    throw fromBundleError(error);
  });
  return { ...result, file: options.out };
}

/**
 * Checks that a trust file an app is about to ship belongs to this repository: the same app name and
 * a root.json the repository signed (the current one or an earlier `N.root.json`, which clients follow
 * to the current one). TRUST_MISMATCH says what differs; an app shipped with it could never update.
 */
export async function checkTrustFile(repoDir: string, file: string): Promise<ParsedTrustFile> {
  let parsed: ParsedTrustFile;
  try {
    parsed = parseTrustFile(await readFile(file), file);
  } catch (cause) {
    if (cause instanceof BundleError) throw new RepoError('TRUST_MISMATCH', cause.message, { cause });
    if (errnoOf(cause) === 'ENOENT') {
      throw new RepoError('TRUST_MISMATCH', `${file} is missing: the app would ship without its trust file`, { cause });
    }
    throw ioError(`cannot read ${file}`, cause);
  }
  const state = await loadRepository(repoDir);
  if (parsed.appName !== state.config.appName) {
    throw new RepoError('TRUST_MISMATCH', `${file} is for the app "${parsed.appName}", but the repository ${repoDir} is for "${state.config.appName}"`);
  }
  const name = metadataFileName('root', parsed.rootVersion);
  const signed = await readFile(join(repoDir, METADATA_DIR, name), 'utf8').then(
    (text) => JSON.parse(text) as unknown,
    () => undefined,
  );
  if (parsed.rootVersion > state.root.signed.version || !isDeepStrictEqual(signed, JSON.parse(Buffer.from(parsed.root).toString('utf8')))) {
    throw new RepoError('TRUST_MISMATCH', `the root in ${file} (version ${parsed.rootVersion}) is not ${name} of the repository ${repoDir}; remake it with "tufup-repo trust"`);
  }
  return parsed;
}
