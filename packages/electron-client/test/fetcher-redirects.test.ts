import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackServer, noise, rejectionOf } from '@tufup/testkit';
import { UpdateError } from '../src/core/index.js';
import type { FetcherOptions, ResumableFetcher } from '../src/core/fetcher.js';
import { tokenFetcher } from './helpers/fetcher.js';

// Redirects, followed hop by hop by the fetcher: the custom headers (an access token) reach only the
// repository's origin, an https download is never continued over http, and a redirect that leads
// nowhere useful is refused at once. Three real servers on 127.0.0.1: the repository (origin A), a
// CDN on another port (origin B), and an https server (origin C).

const FILE = noise('redirects', 96 * 1024);
const META = Buffer.from('{"signed":{}}');

/** Whether openssl is here to make a test certificate (.ci/run installs it; without it the https cases skip). */
const OPENSSL = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A key and self-signed certificate for 127.0.0.1, made by openssl. */
async function selfSigned(dir: string): Promise<{ key: string; cert: string }> {
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
}

let root: string;
let repo: LoopbackServer;
let cdn: LoopbackServer;
let tls: LoopbackServer | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-redirects-'));
  await mkdir(join(root, 'targets'), { recursive: true });
  await mkdir(join(root, 'metadata'), { recursive: true });
  await writeFile(join(root, 'targets', 'app.tar.gz'), FILE);
  await writeFile(join(root, 'metadata', 'timestamp.json'), META);
  repo = await new LoopbackServer(root).start();
  cdn = await new LoopbackServer(root).start();
  if (OPENSSL) {
    const pair = await selfSigned(root);
    // This process's fetch trusts the test certificate, as a machine trusts a real one.
    setDefaultCACertificates([...getCACertificates('default'), pair.cert]);
    tls = await new LoopbackServer(root, { tls: pair }).start();
  }
});
afterAll(async () => {
  await Promise.all([repo.close(), cdn.close(), tls?.close()]);
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  for (const server of [repo, cdn, tls]) {
    server?.behave();
    server?.requests.splice(0);
  }
});

/** A fetcher for a repository at `base` (its origin is where the token goes). */
const fetcher = (base: string, options: Partial<FetcherOptions> = {}): ResumableFetcher => tokenFetcher(root, base, options);

const tokenSeen = (server: LoopbackServer): (string | string[] | undefined)[] => server.requests.map((r) => r.headers['x-api-key']);

describe('the custom headers', () => {
  it('go with every request to the repository, and along a redirect that stays on its origin', async () => {
    repo.on({ pathEnd: '/metadata/moved.json', does: { kind: 'redirect', to: `${repo.url}/metadata/timestamp.json`, status: 301 } });
    expect((await fetcher(repo.url).downloadBytes(`${repo.url}/metadata/moved.json`, 1024)).equals(META)).toBe(true);
    expect(repo.requests.map((r) => [r.path, r.headers['x-api-key']])).toEqual([
      ['/metadata/moved.json', 'secret-token'],
      ['/metadata/timestamp.json', 'secret-token'],
    ]);
  });

  it('never reach another origin a redirect leads to; the download still completes there', async () => {
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'redirect', to: cdn.url } });
    const got = await fetcher(repo.url).downloadFile(`${repo.url}/targets/app.tar.gz`, FILE.length, (file) => readFile(file));
    expect(got.equals(FILE)).toBe(true);
    expect(tokenSeen(repo)).toEqual(['secret-token']);
    expect(cdn.requests.map((r) => r.path)).toEqual(['/targets/app.tar.gz']);
    expect(tokenSeen(cdn)).toEqual([undefined]);
  });

  it('stay away from the other origin when a cut download resumes there, while the Range goes along', async () => {
    repo.on({ pathEnd: 'app.tar.gz', does: { kind: 'redirect', to: cdn.url } });
    cdn.on({ pathEnd: 'app.tar.gz', does: { kind: 'cut', afterBytes: 32 * 1024 }, times: 1 });
    const got = await fetcher(repo.url).downloadFile(`${repo.url}/targets/app.tar.gz`, FILE.length, (file) => readFile(file));
    expect(got.equals(FILE)).toBe(true);
    expect(tokenSeen(cdn)).toEqual([undefined, undefined]);
    expect(cdn.requests.map((r) => r.range)).toEqual([undefined, expect.stringMatching(/^bytes=[1-9]\d*-$/)]);
  });
});

describe('redirects the fetcher refuses at once, without retrying (NETWORK)', () => {
  it.skipIf(!OPENSSL)('an https download continued over plain http (needs openssl)', async () => {
    if (tls === undefined) throw new Error('no https server');
    tls.on({ pathEnd: 'app.tar.gz', does: { kind: 'redirect', to: cdn.url } });
    const error = await rejectionOf(fetcher(tls.url).downloadFile(`${tls.url}/targets/app.tar.gz`, FILE.length, () => Promise.resolve()), UpdateError);
    expect(error.code).toBe('NETWORK');
    expect(error.message).toMatch(/refused the redirect from https:\/\/127\.0\.0\.1:\d+\/targets\/app\.tar\.gz to http:\/\/127\.0\.0\.1:\d+\/targets\/app\.tar\.gz/);
    expect(tls.requests).toHaveLength(1);
    expect(cdn.requests).toEqual([]);
  });

  it.each([
    ['a redirect to a file: URL', 'file:///etc/passwd', /not an http\(s\) URL/, 1],
    ['a redirect loop', 'self', /redirected more than 10 times/, 11],
  ])('%s', async (_what, to, message, requests) => {
    repo.on({ pathEnd: 'timestamp.json', does: { kind: 'redirect', to: to === 'self' ? `${repo.url}/metadata/timestamp.json` : to } });
    const error = await rejectionOf(fetcher(repo.url).downloadBytes(`${repo.url}/metadata/timestamp.json`, 1024), UpdateError);
    expect([error.code, error.message]).toEqual(['NETWORK', expect.stringMatching(message)]);
    expect(repo.requests).toHaveLength(requests);
  });
});

describe('an upgrade to https', () => {
  it.skipIf(!OPENSSL)('is followed, without the headers of the http origin (needs openssl)', async () => {
    if (tls === undefined) throw new Error('no https server');
    repo.on({ pathEnd: 'timestamp.json', does: { kind: 'redirect', to: tls.url, status: 308 } });
    expect((await fetcher(repo.url).downloadBytes(`${repo.url}/metadata/timestamp.json`, 1024)).equals(META)).toBe(true);
    expect(tokenSeen(tls)).toEqual([undefined]);
  });
});
