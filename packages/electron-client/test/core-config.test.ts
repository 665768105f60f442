import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, UpdateClient, UpdateError, type CoreOptions } from '@tufup/electron-client/core';
import { thrownBy } from '@tufup/testkit';
import { allowedVersion } from '../src/core/catalog.js';
import { resolveOptions } from '../src/core/config.js';

describe('UpdateClient options', () => {
  let tmp: string;
  let base: CoreOptions;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tufup-config-'));
    base = {
      appName: 'demoapp',
      currentVersion: '1.0.0',
      installDir: join(tmp, 'app'),
      metadataUrl: 'https://updates.example.com/metadata',
      targetsUrl: 'https://updates.example.com/targets',
      cacheDir: join(tmp, 'cache'),
      trustedRoot: new Uint8Array(),
    };
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('takes the mirrors in order, metadataUrl/targetsUrl first, then mirrors, then urls, each once', () => {
    const { mirrors, metadataUrl, targetsUrl } = resolveOptions({
      ...base,
      mirrors: [{ metadataUrl: 'https://b.example/m', targetsUrl: 'https://cdn.b.example/t/' }],
      urls: ['https://c.example/repo', 'https://updates.example.com'],
    });
    expect(mirrors).toEqual([
      { metadataUrl: 'https://updates.example.com/metadata/', targetsUrl: 'https://updates.example.com/targets/' },
      { metadataUrl: 'https://b.example/m/', targetsUrl: 'https://cdn.b.example/t/' },
      { metadataUrl: 'https://c.example/repo/metadata/', targetsUrl: 'https://c.example/repo/targets/' },
    ]);
    expect([metadataUrl, targetsUrl]).toEqual(['https://updates.example.com/metadata/', 'https://updates.example.com/targets/']);
    expect(resolveOptions({ ...base, metadataUrl: undefined, targetsUrl: undefined, urls: ['https://c.example/repo'] }).metadataUrl).toBe('https://c.example/repo/metadata/');
  });

  it('documents its defaults', () => {
    expect(DEFAULTS).toEqual({ channel: 'latest', allowPrerelease: false, stallTimeoutMs: 30_000, minBytesPerSecond: 1024, retries: 3, busyTimeoutMs: 10_000 });
  });

  it.each<[string, Partial<CoreOptions>]>([
    ['an app name with a slash', { appName: 'my/app' }],
    ['a current version that is not semver', { currentVersion: 'v1.0' }],
    ['a metadata URL that is not a URL', { metadataUrl: 'updates/metadata' }],
    ['a targets URL that is not http(s)', { targetsUrl: 'ftp://example.com/targets' }],
    ['a platform with upper-case letters', { platform: 'Linux' }],
    ['a stall timeout of zero', { stallTimeoutMs: 0 }],
    ['a negative retry count', { retries: -1 }],
    ['a negative minimum rate', { minBytesPerSecond: -1 }],
    ['a minimum rate that is not a number', { minBytesPerSecond: Number.NaN }],
    ['a negative busy timeout', { busyTimeoutMs: -1 }],
    ['no repository URL at all', { metadataUrl: undefined, targetsUrl: undefined }],
    ['a metadata URL without a targets URL', { targetsUrl: undefined }],
    ['a mirror that is not http(s)', { mirrors: [{ metadataUrl: 'ftp://m/metadata/', targetsUrl: 'https://m/targets/' }] }],
    ['a mirror base that is not a URL', { urls: ['mirror two'] }],
    ['a trusted root file that does not exist', { trustedRoot: '/nonexistent/root.json' }],
  ])('refuses %s with CONFIG', (_what, change) => {
    expect(thrownBy(() => new UpdateClient({ ...base, ...change }), UpdateError).code).toBe('CONFIG');
  });

  it('refuses a trusted root that is not a TUF root with CONFIG, before any request', async () => {
    const requests: string[] = [];
    const client = new UpdateClient({
      ...base,
      trustedRoot: Buffer.from('{"signed": {"_type": "targets"}}'),
      fetch: (input) => {
        requests.push(input instanceof Request ? input.url : input.toString());
        return Promise.reject(new Error('no network in this test'));
      },
    });
    const error = await client.checkForUpdates().catch((e: unknown) => e);
    expect((error as UpdateError).code).toBe('CONFIG');
    expect(requests).toEqual([]);
  });

  it('reports DISK when the cache folder cannot be created', async () => {
    const file = join(tmp, 'a-file');
    await writeFile(file, '');
    const client = new UpdateClient({ ...base, cacheDir: join(file, 'cache') });
    const error = await client.checkForUpdates().catch((e: unknown) => e);
    expect((error as UpdateError).code).toBe('DISK');
  });

  it('reports CANCELLED for a check whose signal has already fired', async () => {
    const client = new UpdateClient(base);
    const error = await client.checkForUpdates({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((error as UpdateError).code).toBe('CANCELLED');
  });
});

describe('the channel policy', () => {
  const policy = (channel: string, allowPrerelease = false, excluded: string[] = []) => ({
    channel,
    allowPrerelease,
    excludeVersions: new Set(excluded),
  });

  it.each<[string, ReturnType<typeof policy>, Record<string, boolean>]>([
    ['latest', policy('latest'), { '1.2.0': true, '1.3.0-beta.1': false, '1.3.0-alpha.1': false }],
    ['beta', policy('beta'), { '1.2.0': true, '1.3.0-beta.1': true, '1.3.0-alpha.1': false }],
    ['allowPrerelease', policy('latest', true), { '1.2.0': true, '1.3.0-beta.1': true, '1.3.0-alpha.1': true }],
    ['excluded versions', policy('beta', true, ['1.2.0', '1.3.0-beta.1']), { '1.2.0': false, '1.3.0-beta.1': false, '1.3.0-alpha.1': true }],
  ])('%s', (_name, options, expected) => {
    const actual = Object.fromEntries(Object.keys(expected).map((v) => [v, allowedVersion(v, options)]));
    expect(actual).toEqual(expected);
  });
});
