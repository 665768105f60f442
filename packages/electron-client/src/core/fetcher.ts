import { mkdir, open, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf } from '@tufup/bundle';
import type { Fetcher } from 'tuf-js';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import type { ResolvedOptions } from './config.js';
import { UpdateError } from './error.js';
import { ReadAheadBody } from './read-ahead.js';

/**
 * What {@link ResumableFetcher} needs to know: the transfer options as the client resolved them (the
 * repository's URLs name the origins `headers` are for), and where partials go.
 */
export type FetcherOptions = Pick<ResolvedOptions, 'fetch' | 'headers' | 'metadataUrl' | 'targetsUrl' | 'stallTimeoutMs' | 'minBytesPerSecond' | 'retries' | 'logger'> &
  Partial<Pick<ResolvedOptions, 'mirrors'>> & {
  /** Where `*.partial` files of interrupted target downloads wait to be resumed. */
  partialDir: string;
};

/**
 * The operation a fetcher serves (one check or one download, like the tuf-js Updater it is given to),
 * fixed when the fetcher is made: the fetcher reports through it and keeps no state between calls.
 */
export interface FetchContext {
  /** Stops every request of the operation: CANCELLED. */
  readonly signal?: AbortSignal | undefined;
  /** Bytes of the target file at `url` on disk so far (resumed bytes included); may go down on a restart. */
  readonly onFileBytes?: ((url: string, bytes: number) => void) | undefined;
  /** `bytes` more of a target file arrived from the network. */
  readonly onTargetBytes?: ((bytes: number) => void) | undefined;
  /**
   * A call ended, with what it threw, or undefined when it succeeded. tuf-js wraps some failures in a
   * message-only RuntimeError; this tells a failed download apart from downloaded bytes that then failed
   * verification.
   */
  readonly onSettled?: ((failure: unknown) => void) | undefined;
  /** The mirror each request tries first (an index into `mirrors`): the one that served the operation last. @default 0 */
  readonly mirror?: number | undefined;
  /** Mirror `index` served a request. */
  readonly onMirror?: ((index: number) => void) | undefined;
}

const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 4_000;
/** Redirects followed for one request, as browsers do (Chromium: 20, undici: 20; a repository needs one or two). */
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A request the fetcher will not make (a redirect that downgrades https, or one too many): trying again cannot help. */
class RefusedRequest extends UpdateError {}

/**
 * tuf-js fetcher with HTTP Range resume, and a stall timeout plus a minimum average rate instead of a
 * whole-transfer timeout (so a large download on a slow line is fine, a trickling server is not).
 * Target downloads land in `<partialDir>/<file>.partial` and are handed to tuf-js, which checks length and
 * hashes before copying the file out; the partial is deleted either way, so nothing unverified is kept
 * beyond a resumable partial, which is never used without that check. HTTP errors are tuf-js's
 * DownloadHTTPError (its root-rotation probe stops on 403/404 of that class).
 */
export class ResumableFetcher implements Fetcher {
  /** The origins `options.headers` were given for: the repository's, every mirror's. */
  private readonly headerOrigins: ReadonlySet<string>;
  private readonly mirrors: readonly { metadataUrl: string; targetsUrl: string }[];

  constructor(
    private readonly options: FetcherOptions,
    private readonly context: FetchContext = {},
  ) {
    this.mirrors = options.mirrors ?? [{ metadataUrl: options.metadataUrl, targetsUrl: options.targetsUrl }];
    this.headerOrigins = new Set(this.mirrors.flatMap((m) => [new URL(m.metadataUrl).origin, new URL(m.targetsUrl).origin]));
  }

  downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    return this.settled(this.fetchBytes(url, maxLength));
  }

  downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    return this.settled(this.fetchFile(url, maxLength, handler));
  }

  /** Reports how a call ended to {@link FetchContext.onSettled}. */
  private async settled<T>(call: Promise<T>): Promise<T> {
    try {
      const result = await call;
      this.context.onSettled?.(undefined);
      return result;
    } catch (error) {
      this.context.onSettled?.(error);
      throw error;
    }
  }

  private fetchBytes(primary: string, maxLength: number): Promise<Buffer> {
    return this.withFailover(primary, async (url) => {
      const chunks: Buffer[] = [];
      let received = 0;
      await this.get(url, 0, async (response, body) => {
        if (!response.ok) throw new DownloadHTTPError(`GET ${url} failed with HTTP ${response.status}`, response.status);
        for await (const chunk of body) {
          received += chunk.length;
          if (received > maxLength) throw new DownloadLengthMismatchError(`${url} is longer than the allowed ${maxLength} bytes`);
          chunks.push(chunk);
        }
      });
      return Buffer.concat(chunks);
    });
  }

  private async fetchFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const partial = join(this.options.partialDir, `${basename(decodeURIComponent(new URL(url).pathname))}.partial`);
    await mkdir(this.options.partialDir, { recursive: true });
    let resumed = await sizeOf(partial) > 0;
    for (;;) {
      // On another mirror the same file resumes from the same partial.
      await this.withFailover(url, (mirrorUrl) => this.fetchInto(mirrorUrl, partial, maxLength)).catch(async (error: unknown) => {
        if (error instanceof DownloadLengthMismatchError) await rm(partial, { force: true });
        throw error;
      });
      try {
        const result = await handler(partial);
        await rm(partial, { force: true });
        return result;
      } catch (error) {
        // A partial never outlives a failed check: the next attempt starts from nothing.
        await rm(partial, { force: true });
        if (!resumed || this.context.signal?.aborted === true) throw error;
        this.options.logger.warn(`tufup: the resumed download of ${url} failed verification; downloading it again from the start`);
        resumed = false;
      }
    }
  }

  /** Appends the rest of `url` to `partial`, asking for a Range when part of it is there already. */
  private async fetchInto(url: string, partial: string, maxLength: number): Promise<void> {
    let offset = await sizeOf(partial);
    if (offset > maxLength) {
      await rm(partial, { force: true });
      offset = 0;
    }
    this.context.onFileBytes?.(url, offset);
    if (offset === maxLength && offset > 0) return;
    await this.get(url, offset, async (response, body) => {
      let start: number;
      if (response.status === 206 && offset > 0 && rangeStart(response) === offset) {
        start = offset;
        this.options.logger.info(`tufup: resuming ${url} at byte ${offset}`);
      } else if ((response.status === 416 || response.status === 206) && offset > 0) {
        // The server will not continue at our offset (the file changed, or a proxy mangles ranges):
        // start again from nothing on the next try.
        await rm(partial, { force: true });
        throw new UpdateError('NETWORK', `the server refused to resume ${url} at byte ${offset}; starting it again`);
      } else if (response.ok && response.status !== 206) {
        start = 0;
      } else {
        throw new DownloadHTTPError(`GET ${url} failed with HTTP ${response.status}`, response.status);
      }
      this.context.onFileBytes?.(url, start);
      const handle = await open(partial, start === 0 ? 'w' : 'a');
      let size = start;
      try {
        for await (const chunk of body) {
          size += chunk.length;
          if (size > maxLength) throw new DownloadLengthMismatchError(`${url} is longer than its signed ${maxLength} bytes`);
          await handle.write(chunk);
          this.context.onTargetBytes?.(chunk.length);
          this.context.onFileBytes?.(url, size);
        }
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * One GET whose connection is aborted with TIMEOUT when no byte arrives for `stallTimeoutMs` (from the
   * request until the whole body has arrived), or when the body comes slower than `minBytesPerSecond` on
   * average over a window of `stallTimeoutMs`.
   */
  private async get(url: string, offset: number, use: (response: Response, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
    const watch = new TransferWatch(url, this.options.stallTimeoutMs, this.options.minBytesPerSecond);
    const signals = [watch.signal, ...(this.context.signal ? [this.context.signal] : [])];
    try {
      const response = await this.follow(url, offset, AbortSignal.any(signals));
      watch.startBody();
      // Read from here on, before `use` opens a file: bytes that arrived are kept even if the connection fails.
      // Node's fetch bodies are bytes (its typings leave the chunk type open).
      const body = new ReadAheadBody(response.body as ReadableStream<Uint8Array> | null, {
        received: (bytes) => watch.received(bytes),
        ended: () => watch.stop(),
      });
      try {
        await use(response, body);
      } finally {
        // Releases the connection when `use` stopped early.
        await body.cancel();
      }
    } catch (error) {
      if (watch.signal.aborted && this.context.signal?.aborted !== true) throw watch.signal.reason as UpdateError;
      throw error;
    } finally {
      watch.stop();
    }
  }

  /**
   * GETs `url`, following redirects itself so that each hop is checked (`fetch` would follow them with
   * the same headers wherever they lead): an https URL never leads to plain http, where the transfer and
   * its headers could be read and changed on the way; and the custom `headers` (an access token) go only
   * to the origins they were given for, never to the CDN or other host a redirect names. The Range of a
   * resumed download is ours and goes everywhere.
   */
  private async follow(url: string, offset: number, signal: AbortSignal): Promise<Response> {
    let current = new URL(url);
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = this.headerOrigins.has(current.origin) ? { ...this.options.headers } : {};
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const response = await this.options.fetch(current.href, { headers, signal, redirect: 'manual' });
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      // A redirect without a Location is an HTTP error like any other, for the caller to report.
      if (location === null) return response;
      await response.body?.cancel().catch(() => undefined);
      const next = URL.parse(location, current.href);
      if (next === null || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
        throw new RefusedRequest('NETWORK', `${current.href} redirects to ${JSON.stringify(location)}, which is not an http(s) URL`);
      }
      if (current.protocol === 'https:' && next.protocol === 'http:') {
        throw new RefusedRequest('NETWORK', `refused the redirect from ${current.href} to ${next.href}: an https download is never continued over plain http`);
      }
      if (hops >= MAX_REDIRECTS) throw new RefusedRequest('NETWORK', `${url} redirected more than ${MAX_REDIRECTS} times`);
      this.options.logger.debug(`tufup: ${current.href} redirects to ${next.href}`);
      current = next;
    }
  }

  /**
   * The same file on every mirror, in the order to try them: the operation's current mirror first, then
   * the others in their order. `url` is what tuf-js asks for, under the first mirror's base URLs.
   */
  private sources(url: string): { url: string; mirror: number }[] {
    const first = this.mirrors[0];
    if (first === undefined || this.mirrors.length === 1) return [{ url, mirror: 0 }];
    for (const key of ['metadataUrl', 'targetsUrl'] as const) {
      if (!url.startsWith(first[key])) continue;
      const rest = url.slice(first[key].length);
      const start = Math.min(Math.max(this.context.mirror ?? 0, 0), this.mirrors.length - 1);
      return this.mirrors.map((_, i) => {
        const mirror = (start + i) % this.mirrors.length;
        return { url: `${this.mirrors[mirror]?.[key] ?? ''}${rest}`, mirror };
      });
    }
    return [{ url, mirror: 0 }];
  }

  /**
   * Runs `attempt` on each mirror in turn until one works, failing over on network errors, stalls, 5xx
   * answers, and (with several mirrors) a missing file or a refused redirect; after a round of every
   * mirror, waits and goes round again, up to `retries` more rounds. With one mirror that is: again after
   * network errors, stalls and 5xx answers, up to `retries` more times.
   */
  private async withFailover<T>(url: string, attempt: (url: string) => Promise<T>): Promise<T> {
    const sources = this.sources(url);
    const signal = this.context.signal;
    for (let round = 0; ; round++) {
      let failure: unknown;
      for (const [i, source] of sources.entries()) {
        try {
          const result = await attempt(source.url);
          this.context.onMirror?.(source.mirror);
          return result;
        } catch (error) {
          if (signal?.aborted === true) throw new UpdateError('CANCELLED', `the download of ${url} was cancelled`, { cause: error });
          if (!retryable(error) && !(sources.length > 1 && elsewhere(error, source.url))) throw asNetworkError(error, source.url);
          failure = error;
          const next = sources[i + 1];
          if (next !== undefined) this.options.logger.warn(`tufup: ${describe(error)}; trying ${next.url} on the next mirror`);
        }
      }
      if (round >= this.options.retries) throw asNetworkError(failure, sources.length > 1 ? `${url} on every mirror` : url);
      const delay = Math.min(RETRY_DELAY_MS * 2 ** round, MAX_RETRY_DELAY_MS);
      this.options.logger.warn(`tufup: ${describe(failure)}; retrying ${url} in ${delay} ms`);
      await sleep(delay, undefined, signal ? { signal } : {}).catch((cause: unknown) => {
        throw new UpdateError('CANCELLED', `the download of ${url} was cancelled`, { cause });
      });
    }
  }
}

/**
 * Guards one request against slow retrieval: aborts `signal` with TIMEOUT when nothing arrives for
 * `stallMs`, or when a window of at least `stallMs` of body ends below `minBytesPerSecond` on average.
 * Windows are checked as bytes arrive; a window with no bytes at all ends in the stall timeout instead.
 * Together they bound a download to about size / minBytesPerSecond, whatever the server does.
 */
class TransferWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private windowStart = 0;
  private windowBytes = 0;

  constructor(
    private readonly url: string,
    private readonly stallMs: number,
    private readonly minBytesPerSecond: number,
  ) {
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The headers are in: rate windows count from here (the stall timer alone covers the wait for them). */
  startBody(): void {
    this.windowStart = performance.now();
    this.windowBytes = 0;
  }

  /** Counts `bytes` of body; throws (and aborts the request) when a window ended too slow. */
  received(bytes: number): void {
    this.arm();
    this.windowBytes += bytes;
    const elapsed = performance.now() - this.windowStart;
    if (elapsed < this.stallMs) return;
    const rate = (this.windowBytes * 1000) / elapsed;
    if (rate < this.minBytesPerSecond) {
      this.trip(
        `${this.url} came at ${rate.toFixed(1)} bytes/s over ${(elapsed / 1000).toFixed(1)} s, below the minimum of ${this.minBytesPerSecond} bytes/s`,
      );
      throw this.controller.signal.reason as UpdateError;
    }
    this.startBody();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.trip(`no data from ${this.url} for ${this.stallMs / 1000} s`), this.stallMs);
  }

  private trip(message: string): void {
    this.stop();
    if (!this.controller.signal.aborted) this.controller.abort(new UpdateError('TIMEOUT', message));
  }
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/** The first byte of a 206 answer, from `Content-Range: bytes <start>-<end>/<total>`. */
function rangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Whether another mirror may have what this one did not: a missing file (a mirror that lags behind) or a
 * refused redirect. Not the probe for the next root (`N.root.json`), whose 404 means there is none.
 */
function elsewhere(error: unknown, url: string): boolean {
  if (error instanceof RefusedRequest) return true;
  return error instanceof DownloadHTTPError && (error.statusCode === 404 || error.statusCode === 410) && !/\/\d+\.root\.json$/.test(new URL(url).pathname);
}

function retryable(error: unknown): boolean {
  if (error instanceof RefusedRequest) return false;
  if (error instanceof DownloadHTTPError) return error.statusCode >= 500 || error.statusCode === 408 || error.statusCode === 429;
  if (error instanceof DownloadLengthMismatchError) return false;
  if (error instanceof UpdateError) return error.code === 'NETWORK' || error.code === 'TIMEOUT';
  // fetch rejects with a TypeError for refused, reset and cut connections.
  return error instanceof TypeError || errnoOf(error) === 'ECONNRESET';
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Keeps tuf-js's own classes (it relies on them); wraps connection failures as NETWORK. */
function asNetworkError(error: unknown, url: string): unknown {
  if (error instanceof UpdateError || error instanceof DownloadHTTPError || error instanceof DownloadLengthMismatchError) return error;
  if (retryable(error)) return new UpdateError('NETWORK', `could not download ${url}: ${describe(error)}`, { cause: error });
  return error;
}
