import { describe, expect, it } from 'vitest';
import { parseTrustFile, serializeTrustFile, TRUST_SCHEMA, type JsonObject } from '../src/index.js';
import { expectThrowsCode } from './helpers.js';

/** A root.json as repo-tools writes it (the shape; signatures are the TUF client's to check). */
const root: JsonObject = {
  signatures: [{ keyid: 'ab'.repeat(32), sig: 'cd'.repeat(64) }],
  signed: {
    _type: 'root',
    consistent_snapshot: true,
    expires: '2027-11-26T00:00:00Z',
    keys: { ['ab'.repeat(32)]: { keytype: 'ed25519', keyval: { public: 'ef'.repeat(32) }, scheme: 'ed25519' } },
    roles: { root: { keyids: ['ab'.repeat(32)], threshold: 1 } },
    spec_version: '1.0.31',
    version: 3,
  },
};
const rootBytes = Buffer.from(`${JSON.stringify(root, null, 1)}\n`);

describe('the trust file (tufup.json)', () => {
  it('round-trips the app name, the URL and the root, whose JSON is what the repository signed', () => {
    const bytes = serializeTrustFile({ appName: 'My-App', url: 'https://updates.example.com/my-app', root: rootBytes });
    const parsed = parseTrustFile(bytes);
    expect(parsed.appName).toBe('My-App');
    expect(parsed.url).toBe('https://updates.example.com/my-app');
    expect(parsed.rootVersion).toBe(3);
    expect(JSON.parse(Buffer.from(parsed.root).toString('utf8'))).toEqual(root);
  });

  it('is readable JSON with the schema first and the root last, and the URL is optional', () => {
    const text = serializeTrustFile({ appName: 'my_app', root }).toString('utf8');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['schema', 'appName', 'root']);
    expect(text.startsWith(`{\n  "schema": ${TRUST_SCHEMA},\n  "appName": "my_app",`)).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    expect(parseTrustFile(text).url).toBeUndefined();
  });

  it('refuses what is not a trust file, saying what is wrong and where', () => {
    const good = JSON.parse(serializeTrustFile({ appName: 'app', root }).toString('utf8')) as JsonObject;
    const cases: [unknown, RegExp][] = [
      ['{"schema": 1, "appName": "app", "root": ', /not JSON/],
      [[1, 2], /not a JSON object/],
      [{ ...good, schema: 2 }, /schema is 2; this version of tufup reads schema 1/],
      [root, /it is a root\.json; make the trust file with "tufup-repo trust"/],
      [{ ...good, appName: 'My App' }, /"My App" is not a valid app name/],
      [{ ...good, appName: undefined }, /"appName" is missing/],
      [{ ...good, url: 'ftp://example.com/' }, /must be an http\(s\) URL/],
      [{ ...good, url: 'updates' }, /is not a URL/],
      [{ ...good, root: { signed: { _type: 'timestamp', version: 1 }, signatures: [] } }, /"timestamp" metadata, not root/],
      [{ ...good, root: { signed: { _type: 'root' } } }, /must be a root\.json/],
      [{ ...good, root: { signed: { _type: 'root', version: 0 }, signatures: [] } }, /no valid version/],
    ];
    for (const [data, message] of cases) {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      const error = expectThrowsCode(() => parseTrustFile(Buffer.from(text), '/app/resources/tufup.json'), 'INVALID_TRUST_FILE');
      expect(error.message).toContain('/app/resources/tufup.json is not a valid trust file');
      expect(error.message).toMatch(message);
    }
  });

  it('will not write a file it would refuse to read', () => {
    expectThrowsCode(() => serializeTrustFile({ appName: 'My App', root }), 'INVALID_TRUST_FILE');
    expectThrowsCode(() => serializeTrustFile({ appName: 'app', url: 'file:///tmp/repo', root }), 'INVALID_TRUST_FILE');
    expectThrowsCode(() => serializeTrustFile({ appName: 'app', root: Buffer.from('not json') }), 'INVALID_TRUST_FILE');
    expectThrowsCode(() => serializeTrustFile({ appName: 'app', root: { signed: { _type: 'targets', version: 1 }, signatures: [] } }), 'INVALID_TRUST_FILE');
  });
});
