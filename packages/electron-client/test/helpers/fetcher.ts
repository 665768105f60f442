import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { ResumableFetcher, type FetcherOptions } from '../../src/core/fetcher.js';

/** The custom header the fetcher suites send (an access token): it must reach only the repository's origin. */
export const TOKEN = { 'x-api-key': 'secret-token' };

let partials = 0;

/**
 * A fetcher for a repository at `base` (its origin is where {@link TOKEN} goes): Node's fetch unless
 * `options` say otherwise, a 2 s stall timeout, one retry, and a partials folder of its own in `root`.
 */
export function tokenFetcher(root: string, base: string, options: Partial<FetcherOptions> = {}): ResumableFetcher {
  return new ResumableFetcher({
    fetch: globalThis.fetch.bind(globalThis),
    headers: TOKEN,
    metadataUrl: `${base}/metadata/`,
    targetsUrl: `${base}/targets/`,
    stallTimeoutMs: 2_000,
    minBytesPerSecond: 1024,
    retries: 1,
    partialDir: join(root, `partials-${++partials}`),
    logger: silentLogger,
    ...options,
  });
}
