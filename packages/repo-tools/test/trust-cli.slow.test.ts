import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTrustFile } from '@tufup/bundle';
import { cliOk, errorCode, runCli, tempDir } from './helpers/fixtures.js';

describe('tufup-repo init --url and tufup-repo trust', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repo: string;
  const cli = (...args: string[]): ReturnType<typeof cliOk> => cliOk([...args, '--repo', repo, '--keys-dir', join(tmp, 'keys')]);

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
  });
  afterEach(() => cleanup());

  it('init records the URL in the trust file; trust prints that file, or writes it with another URL', async () => {
    await cli('init', '--app-name', 'my-app', '--url', 'https://updates.example.com/my-app');
    const kept = await readFile(join(repo, 'tufup.json'), 'utf8');
    expect(parseTrustFile(kept)).toMatchObject({ appName: 'my-app', url: 'https://updates.example.com/my-app', rootVersion: 1 });
    // Printed, it is the file itself, so `tufup-repo trust > resources/tufup.json` works too.
    expect((await cli('trust')).stdout).toBe(kept);
    const out = join(tmp, 'build', 'tufup.json');
    const wrote = await cli('trust', '--out', out, '--url', 'https://cdn.example.com/x');
    expect(wrote.stdout).toContain(`wrote ${out}: my-app, root v1, https://cdn.example.com/x`);
    expect(parseTrustFile(await readFile(out))).toMatchObject({ url: 'https://cdn.example.com/x' });
    const json = JSON.parse((await cli('trust', '--json')).stdout) as { rootVersion: number; trust: { root: unknown } };
    expect(json.rootVersion).toBe(1);
    expect(json.trust.root).toEqual(JSON.parse(await readFile(join(repo, 'metadata', 'root.json'), 'utf8')));
  });

  it('a URL that is not http(s) is a usage error (exit 2), and trust outside a repository says so', async () => {
    const bad = await runCli(['init', '--repo', repo, '--keys-dir', join(tmp, 'keys'), '--app-name', 'my-app', '--url', 'updates.example.com']);
    expect(bad.code).toBe(2);
    expect(errorCode(bad)).toBe('USAGE');
    const none = await runCli(['trust', '--repo', join(tmp, 'nothing')]);
    expect(none.code).toBe(1);
    expect(errorCode(none)).toBe('REPO_NOT_FOUND');
  });
});
