import { readFile, writeFile } from 'node:fs/promises';
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

  it('verify --trusted-root takes the trust file an app ships as well as a plain root.json', async () => {
    await cli('init', '--app-name', 'my-app', '--url', 'https://updates.example.com/my-app');
    const shipped = join(tmp, 'shipped', 'tufup.json');
    await cli('trust', '--out', shipped);
    // The root moves on after the app shipped: verify follows the chain from the shipped root either way.
    await cli('keys', 'rotate', 'root');
    const plainRoot = join(tmp, 'shipped', '1.root.json');
    await writeFile(plainRoot, await readFile(join(repo, 'metadata', '1.root.json')));
    for (const trusted of [shipped, plainRoot]) {
      const verified = JSON.parse((await cli('verify', '--trusted-root', trusted, '--json')).stdout) as { rootVersion: number };
      expect(verified.rootVersion).toBe(2);
    }
    // Another repository's trust file (same app name, other keys) and another app's are refused.
    const other = join(tmp, 'other');
    await cliOk(['init', '--repo', other, '--keys-dir', join(tmp, 'other-keys'), '--app-name', 'my-app']);
    await cliOk(['init', '--repo', join(tmp, 'third'), '--keys-dir', join(tmp, 'third-keys'), '--app-name', 'not-my-app']);
    for (const [file, says] of [
      [join(other, 'tufup.json'), 'the metadata does not verify'],
      [join(tmp, 'third', 'tufup.json'), 'is for the app not-my-app, not my-app'],
    ] as const) {
      const refused = await runCli(['verify', '--repo', repo, '--trusted-root', file]);
      expect([refused.code, errorCode(refused)]).toEqual([1, 'VERIFY_FAILED']);
      expect(refused.stderr).toContain(says);
    }
    // Neither a root nor a trust file: the message says what the option takes.
    const bad = join(tmp, 'bad.json');
    await writeFile(bad, '{"hello": 1}');
    const refused = await runCli(['verify', '--repo', repo, '--trusted-root', bad]);
    expect(errorCode(refused)).toBe('VERIFY_FAILED');
    expect(refused.stderr).toContain('--trusted-root takes a root.json or a trust file');
  });
});
