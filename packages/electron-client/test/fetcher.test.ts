import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer, noise, rejectionOf, type Misbehaviour } from '@tufup/testkit';
import { silentLogger, UpdateError } from '../src/core/index.js';
import { ResumableFetcher, type FetchContext, type FetcherOptions } from '../src/core/fetcher.js';

// ResumableFetcher, the one piece of tuf-js we replace, against a real server on 127.0.0.1 that
// misbehaves on command. The stall timeout is short (STALL_MS) only in the rows about stalls, and even
// there long enough for the answer's first bytes to arrive on a loaded machine (a row expecting a partial
// needs them); elsewhere it is long, so that a pause of the machine is never taken for a stall.

const STALL_MS = 1_000;

const FILE = noise('fetcher', 200 * 1024);
const META = Buffer.from('{"signed":{}}');

let root: string;
let server: LoopbackServer;
let partialDir: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-fetcher-'));
  await mkdir(join(root, 'targets'), { recursive: true });
  await mkdir(join(root, 'metadata'), { recursive: true });
  await writeFile(join(root, 'targets', 'app.tar.gz'), FILE);
  await writeFile(join(root, 'metadata', 'timestamp.json'), META);
  server = await new LoopbackServer(root).start();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  server.behave();
  server.requests.length = 0;
});

/** What the fetcher reported to its operation. */
interface Reports {
  fileBytes: number[];
  targetBytes: number;
  settled: unknown[];
}

/** The fetcher's options for the test server: no retries, a stall timeout only a real stall trips. */
function baseOptions(): Omit<FetcherOptions, 'partialDir'> {
  const url = server.url;
  return { fetch: globalThis.fetch.bind(globalThis), headers: {}, metadataUrl: `${url}/metadata/`, targetsUrl: `${url}/targets/`, stallTimeoutMs: 10_000, minBytesPerSecond: 1024, retries: 0, logger: silentLogger };
}

function fetcher(options: Partial<FetcherOptions> = {}, signal?: AbortSignal): { fetcher: ResumableFetcher; reports: Reports } {
  partialDir = join(root, `partials-${++counter}`);
  const reports: Reports = { fileBytes: [], targetBytes: 0, settled: [] };
  const context: FetchContext = {
    signal,
    onFileBytes: (_url, bytes) => reports.fileBytes.push(bytes),
    onTargetBytes: (bytes) => (reports.targetBytes += bytes),
    onSettled: (failure) => reports.settled.push(failure),
  };
  const made = new ResumableFetcher(
    { ...baseOptions(), retries: 1, partialDir, ...options },
    context,
  );
  return { fetcher: made, reports };
}

const metadataUrl = (): string => `${server.url}/metadata/timestamp.json`;
const targetUrl = (): string => `${server.url}/targets/app.tar.gz`;

/** What a call failed with: its class, and its code when it is an UpdateError. */
function outcome(error: unknown): string {
  if (error instanceof UpdateError) return `UpdateError ${error.code}`;
  if (error instanceof DownloadHTTPError) return `DownloadHTTPError ${error.statusCode}`;
  if (error instanceof DownloadLengthMismatchError) return 'DownloadLengthMismatchError';
  return String(error);
}

describe('ResumableFetcher.downloadBytes (metadata)', () => {
  it.each<[string, Misbehaviour | undefined, number | undefined, string, number]>([
    // what the server does,                 misbehaviour,                          times,     result,                             requests
    ['serves the file', undefined, undefined, 'bytes', 1],
    ['fails once with 503, then serves it', { kind: 'status', status: 503 }, 1, 'bytes', 2],
    ['answers 404 (tuf-js ends its root probe on it)', { kind: 'status', status: 404 }, undefined, 'DownloadHTTPError 404', 1],
    ['answers 503 every time', { kind: 'status', status: 503 }, undefined, 'DownloadHTTPError 503', 2],
    ['drops the connection every time', { kind: 'reset' }, undefined, 'UpdateError NETWORK', 2],
    ['stalls mid-body every time', { kind: 'stall', afterBytes: 4 }, undefined, 'UpdateError TIMEOUT', 2],
    ['sends bytes without end', { kind: 'endless' }, undefined, 'DownloadLengthMismatchError', 1],
  ])('when the server %s', async (_what, does, times, result, requests) => {
    if (does !== undefined) server.on({ pathEnd: 'timestamp.json', does, ...(times === undefined ? {} : { times }) });
    const { fetcher: f, reports } = fetcher(does?.kind === 'stall' ? { stallTimeoutMs: STALL_MS } : {});
    const got = await f.downloadBytes(metadataUrl(), 1024).then(
      (bytes) => (bytes.equals(META) ? 'bytes' : 'other bytes'),
      (error: unknown) => outcome(error),
    );
    expect(got).toBe(result);
    expect(server.requestsFor('timestamp.json')).toHaveLength(requests);
    // One report per call: undefined when it succeeded, else what it threw.
    expect(reports.settled).toHaveLength(1);
    expect(reports.settled[0] === undefined ? 'bytes' : outcome(reports.settled[0])).toBe(result);
    // Metadata is not a target: no target bytes, no file progress.
    expect([reports.targetBytes, reports.fileBytes]).toEqual([0, []]);
  });

  it('refuses a body longer than the allowed length without reading on', async () => {
    const { fetcher: f } = fetcher();
    expect(outcome(await f.downloadBytes(metadataUrl(), META.length - 1).catch((e: unknown) => e))).toBe('DownloadLengthMismatchError');
  });
});

describe('ResumableFetcher.downloadFile (targets)', () => {
  it('hands the whole file to the handler, reports its progress and keeps no partial', async () => {
    const { fetcher: f, reports } = fetcher();
    const seen = await f.downloadFile(targetUrl(), FILE.length, (file) => readFile(file));
    expect(seen.equals(FILE)).toBe(true);
    expect(reports.targetBytes).toBe(FILE.length);
    expect(reports.fileBytes.at(-1)).toBe(FILE.length);
    expect(reports.settled).toEqual([undefined]);
    expect(await readdir(partialDir)).toEqual([]);
  });

  it('resumes a cut download with a Range request, fetching each byte once', async () => {
    server.on({ pathEnd: 'app.tar.gz', does: { kind: 'cut', afterBytes: 64 * 1024 }, times: 1 });
    const { fetcher: f, reports } = fetcher();
    const seen = await f.downloadFile(targetUrl(), FILE.length, (file) => readFile(file));
    expect(seen.equals(FILE)).toBe(true);
    const [first, second] = server.requestsFor('app.tar.gz');
    expect(first).toMatchObject({ range: undefined, misbehaviour: 'cut' });
    expect(second).toMatchObject({ range: `bytes=${first?.bytesSent}-`, status: 206 });
    expect(reports.targetBytes).toBe(FILE.length);
  });

  it.each<[string, (partial: string) => Promise<void>, string[]]>([
    // A partial left by an earlier run whose bytes are not the file's: the resumed file fails the
    // handler's check, so the fetcher starts once more from nothing.
    ['a partial that is not a prefix of the file', (partial) => writeFile(partial, noise('other', 1000)), ['bytes=1000-', 'none']],
    // The file changed on the server and is now shorter than our partial: 416, then from nothing.
    ['a partial longer than the file on the server', (partial) => writeFile(partial, noise('other', FILE.length + 10)), ['bytes=204810-', 'none']],
  ])('starts again from nothing after %s', async (_what, leave, ranges) => {
    const { fetcher: f } = fetcher();
    await mkdir(partialDir, { recursive: true });
    await leave(join(partialDir, 'app.tar.gz.partial'));
    const seen = await f.downloadFile(targetUrl(), FILE.length + 100, async (file) => {
      const bytes = await readFile(file);
      if (!bytes.equals(FILE)) throw new Error('hash mismatch');
      return bytes;
    });
    expect(seen.equals(FILE)).toBe(true);
    expect(server.requestsFor('app.tar.gz').map((r) => r.range ?? 'none')).toEqual(ranges);
  });

  it.each<[string, Misbehaviour, Partial<FetcherOptions>, string, string[]]>([
    // Bytes over the signed length are never kept; a stalled or slow transfer keeps its partial to resume.
    ['a file longer than its signed length', { kind: 'endless' }, {}, 'DownloadLengthMismatchError', []],
    ['a server that stalls', { kind: 'stall', afterBytes: 1000 }, { stallTimeoutMs: STALL_MS }, 'UpdateError TIMEOUT', ['app.tar.gz.partial']],
    ['a server that trickles below the minimum rate', { kind: 'trickle', bytes: 16, everyMs: 40 }, { stallTimeoutMs: STALL_MS, retries: 0 }, 'UpdateError TIMEOUT', ['app.tar.gz.partial']],
    ['a server that answers 500', { kind: 'status', status: 500 }, { retries: 0 }, 'DownloadHTTPError 500', []],
  ])('fails on %s', async (_what, does, options, result, partials) => {
    server.on({ pathEnd: 'app.tar.gz', does });
    const { fetcher: f, reports } = fetcher(options);
    const error = await f.downloadFile(targetUrl(), FILE.length, () => Promise.resolve()).catch((e: unknown) => e);
    expect(outcome(error)).toBe(result);
    expect(reports.settled).toEqual([error]);
    expect(await readdir(partialDir)).toEqual(partials);
  });

  it('stops with CANCELLED when its operation is cancelled mid-transfer', async () => {
    const controller = new AbortController();
    // Cancelled once the server has sent its first bytes (and then stalls), however long the request took.
    server.on({ pathEnd: 'app.tar.gz', does: { kind: 'stall', afterBytes: 1000 }, then: () => controller.abort() });
    const { fetcher: f } = fetcher({}, controller.signal);
    const download = f.downloadFile(targetUrl(), FILE.length, () => Promise.resolve());
    expect((await rejectionOf(download, UpdateError)).code).toBe('CANCELLED');
    // One request, not retried after the cancel.
    expect(server.requestsFor('app.tar.gz')).toHaveLength(1);
  });

  it('keeps nothing between calls: a second fetcher resumes what the first left', async () => {
    server.on({ pathEnd: 'app.tar.gz', does: { kind: 'cut', afterBytes: 32 * 1024 } });
    const first = fetcher({ retries: 0 });
    expect(outcome(await first.fetcher.downloadFile(targetUrl(), FILE.length, () => Promise.resolve()).catch((e: unknown) => e))).toBe('UpdateError NETWORK');
    server.behave();
    const second = new ResumableFetcher({ ...baseOptions(), partialDir });
    expect((await second.downloadFile(targetUrl(), FILE.length, (file) => readFile(file))).equals(FILE)).toBe(true);
    expect(server.requestsFor('app.tar.gz').at(-1)?.range).toMatch(/^bytes=\d+-$/);
  });
});
