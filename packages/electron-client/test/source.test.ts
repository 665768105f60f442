import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeTrustFile } from '@tufup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateError } from '../src/core/error.js';
import { readUpdateSource } from '../src/main/source.js';

// A root.json as tufup-repo writes it; only its shape matters here (tuf-js verifies signatures later).
const ROOT = { signed: { _type: 'root', spec_version: '1.0.31', version: 1, expires: '2030-01-01T00:00:00Z', keys: {}, roles: {}, consistent_snapshot: true }, signatures: [] };

let dir: string;
const productName = (): string => 'My App';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tufup-source-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

function configError(fn: () => unknown): UpdateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UpdateError);
    expect((error as UpdateError).code).toBe('CONFIG');
    return error as UpdateError;
  }
  throw new Error('expected a CONFIG error');
}

describe('where updates come from: the trust file the app ships', () => {
  it('takes the app name, the repository URL and the root from tufup.json, whatever the productName', async () => {
    const path = await file('tufup.json', serializeTrustFile({ appName: 'my-app', url: 'https://updates.example/my-app', root: ROOT }));
    const source = readUpdateSource({ trustedRoot: path }, productName);
    expect(source).toMatchObject({ appName: 'my-app', metadataUrl: 'https://updates.example/my-app/metadata/', targetsUrl: 'https://updates.example/my-app/targets/', from: path });
    expect(JSON.parse(Buffer.from(source.trustedRoot).toString('utf8'))).toEqual(ROOT);
  });

  it('lets the url option win over the recorded one (a mirror), and accepts the file as bytes', () => {
    const bytes = serializeTrustFile({ appName: 'my-app', url: 'https://updates.example/my-app', root: ROOT });
    expect(readUpdateSource({ trustedRoot: bytes, url: 'https://mirror.example/m' }, productName)).toMatchObject({ appName: 'my-app', metadataUrl: 'https://mirror.example/m/metadata/' });
  });

  it('refuses an appName option that differs from the trust file\'s, naming both names', () => {
    const bytes = serializeTrustFile({ appName: 'my-app', url: 'https://updates.example/', root: ROOT });
    const error = configError(() => readUpdateSource({ trustedRoot: bytes, appName: 'myapp' }, productName));
    expect(error.message).toContain('"myapp"');
    expect(error.message).toContain('"my-app"');
    // The same name is no contradiction.
    expect(readUpdateSource({ trustedRoot: bytes, appName: 'my-app' }, productName).appName).toBe('my-app');
  });

  it('still takes a plain root.json: the app name is then the option or app.getName()', async () => {
    const path = await file('root.json', JSON.stringify(ROOT));
    expect(readUpdateSource({ trustedRoot: path, url: 'https://u.example/' }, productName).appName).toBe('My App');
    expect(readUpdateSource({ trustedRoot: path, url: 'https://u.example/', appName: 'my-app' }, productName)).toMatchObject({ appName: 'my-app', targetsUrl: 'https://u.example/targets/' });
  });

  it('says what is missing: the file, a URL, a readable trust file', async () => {
    expect(configError(() => readUpdateSource({ trustedRoot: join(dir, 'absent.json'), url: 'https://u.example/' }, productName)).message).toMatch(/absent\.json could not be read.*tufup\.json/);
    const noUrl = serializeTrustFile({ appName: 'my-app', root: ROOT });
    expect(configError(() => readUpdateSource({ trustedRoot: noUrl }, productName)).message).toContain('tufup-repo trust --url');
    const newer = await file('newer.json', JSON.stringify({ schema: 2, appName: 'my-app', root: ROOT }));
    expect(configError(() => readUpdateSource({ trustedRoot: newer, url: 'https://u.example/' }, productName)).message).toContain('schema');
    expect(configError(() => readUpdateSource({ trustedRoot: Buffer.from('{'), url: 'https://u.example/' }, productName)).message).toContain('not JSON');
    expect(configError(() => readUpdateSource({ trustedRoot: noUrl, url: 'not a url' }, productName)).message).toContain('not a URL');
  });
});
