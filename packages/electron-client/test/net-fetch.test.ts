import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer, noise, rejectionOf } from '@tufup/testkit';
import { netRequestFetch, UpdateError } from '../src/core/index.js';
import type { ResumableFetcher } from '../src/core/fetcher.js';
import { tokenFetcher } from './helpers/fetcher.js';
import { StandinNet } from './standin/net.js';

// The fetch the worker builds on Electron's net.request (through a thin stand-in of it on Node's http
// client): the fetcher gets manual redirects, bodies, HTTP errors and failures as from Node's fetch.

const FILE = noise('net-fetch', 80 * 1024);
let root: string;
let repo: LoopbackServer;
let cdn: LoopbackServer;
let net: StandinNet;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-net-fetch-'));
  await mkdir(join(root, 'targets'), { recursive: true });
  await writeFile(join(root, 'targets', 'app.tar.gz'), FILE);
  repo = await new LoopbackServer(root).start();
  cdn = await new LoopbackServer(root).start();
});
afterAll(async () => {
  await Promise.all([repo.close(), cdn.close()]);
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  for (const server of [repo, cdn]) {
    server.behave();
    server.requests.splice(0);
  }
});

/** A fetcher whose fetch is netRequestFetch over a fresh stand-in `net` (kept in `net`, to see its requests). */
function fetcher(base = repo.url): ResumableFetcher {
  net = new StandinNet();
  return tokenFetcher(root, base, { fetch: netRequestFetch(net) });
}

describe('netRequestFetch, under the fetcher', () => {
  it('downloads through a redirect to another origin, whose requests carry no token', async () => {
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'redirect', to: cdn.url } });
    const got = await fetcher().downloadFile(`${repo.url}/targets/app.tar.gz`, FILE.length, (file) => readFile(file));
    expect(got.equals(FILE)).toBe(true);
    expect(net.requests.map((r) => [new URL(r.url).origin, r.headers['x-api-key']])).toEqual([
      [repo.url, 'secret-token'],
      [cdn.url, undefined],
    ]);
  });

  it('resumes a cut download with a Range request from the last byte it received', async () => {
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'cut', afterBytes: 20 * 1024 }, times: 1 });
    const got = await fetcher().downloadFile(`${repo.url}/targets/app.tar.gz`, FILE.length, (file) => readFile(file));
    expect(got.equals(FILE)).toBe(true);
    expect(repo.requests.map((r) => [r.range, r.status])).toEqual([[undefined, 200], [`bytes=${20 * 1024}-`, 206]]);
  });

  it('hands over every byte received before a cut, even when the body is read after the connection died', async () => {
    let cut!: () => void;
    const wasCut = new Promise<void>((resolve) => (cut = resolve));
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'cut', afterBytes: 20 * 1024 }, times: 1, then: () => cut() });
    const response = await netRequestFetch(new StandinNet())(`${repo.url}/targets/app.tar.gz`);
    await wasCut;
    // Give the client's socket time to see the end of the connection before anything reads the body.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const received: Buffer[] = [];
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        received.push(Buffer.from(value));
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(Buffer.concat(received).equals(FILE.subarray(0, 20 * 1024))).toBe(true);
  });

  it.each([
    ['an HTTP error, as tuf-js expects it', 404, 'DownloadHTTPError'],
    ['a refused connection after its retries', 'closed', 'UpdateError NETWORK'],
  ])('reports %s', async (_what, what, expected) => {
    let url = `${repo.url}/targets/missing.tar.gz`;
    if (what === 'closed') {
      const gone = await new LoopbackServer(root).start();
      url = `${gone.url}/targets/app.tar.gz`;
      await gone.close();
    }
    const error = await fetcher(new URL(url).origin).downloadFile(url, FILE.length, () => Promise.resolve()).catch((e: unknown) => e);
    expect(error instanceof UpdateError ? `UpdateError ${error.code}` : (error as Error).constructor.name).toBe(expected);
  });

  it('stops the request when the signal fires', async () => {
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'stall', afterBytes: 1000 } });
    const controller = new AbortController();
    const fetch = netRequestFetch(new StandinNet());
    const response = await fetch(`${repo.url}/targets/app.tar.gz`, { signal: controller.signal });
    const reading = response.arrayBuffer();
    controller.abort(new Error('stop'));
    await rejectionOf(reading, Error);
    expect(repo.requests).toHaveLength(1);
  });
});
