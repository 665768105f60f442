import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, errorCode, runCli, tempDir, treeHash, writeBundle, type CliRun } from './helpers/fixtures.js';

// Every bad input is refused by the real CLI: non-zero exit, the reason and its code on stderr, and a
// repository byte for byte as it was.
describe('tufup-repo refuses bad input and leaves the repository untouched', () => {
  let cleanup: () => Promise<void>;
  let tmp: string;
  let repo: string;
  let keys: string;
  let bundle: string;

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
    keys = join(tmp, 'keys');
    bundle = await writeBundle(join(tmp, 'bundle'), 1);
    await cliOk(['init', '--repo', repo, '--keys-dir', keys, '--app-name', 'demo']);
    await cliOk(['add', await writeBundle(join(tmp, 'bundle-0'), 0), '--repo', repo, '--keys-dir', keys, '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64']);
  });

  afterAll(async () => {
    await cleanup();
  });

  /** Runs a command that must fail and returns its run, after checking the repository did not change. */
  async function refused(args: string[], options: { env?: NodeJS.ProcessEnv; repoDir?: string; input?: string } = {}): Promise<CliRun> {
    const repoDir = options.repoDir ?? repo;
    const before = await treeHash(repoDir);
    const run = await runCli(args, { ...(options.env === undefined ? {} : { env: options.env }), ...(options.input === undefined ? {} : { input: options.input }) });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).not.toBe('');
    expect(run.stderr).not.toContain('PRIVATE KEY');
    expect(await treeHash(repoDir)).toBe(before);
    const leftovers = (await readdir(tmp)).filter((n) => n.includes('tufup-tmp') || n.includes('tufup-lock'));
    expect(leftovers).toEqual([]);
    return run;
  }

  const add = (version: string, dir = bundle, ...extra: string[]): string[] => [
    'add', dir, '--repo', repo, '--keys-dir', keys, '--version', version, '--platform', 'linux', '--arch', 'x64', ...extra,
  ];

  it('a version lower than the latest', async () => {
    const run = await refused(add('0.9.0'));
    expect(errorCode(run)).toBe('VERSION_NOT_NEWER');
    expect(run.stderr).toContain('1.0.0');
  });

  it('a duplicate version', async () => {
    expect(errorCode(await refused(add('1.0.0')))).toBe('DUPLICATE_VERSION');
  });

  it('a prerelease of the latest version, which sorts before it', async () => {
    expect(errorCode(await refused(add('1.0.0-beta.1')))).toBe('VERSION_NOT_NEWER');
  });

  it.each(['1.1', 'v1.1.0', '1.1.0 ', 'latest'])('a malformed version %j', async (version) => {
    expect(errorCode(await refused(add(version)))).toBe('INVALID_VERSION');
  });

  it('a bundle folder that does not exist', async () => {
    expect(errorCode(await refused(add('1.1.0', join(tmp, 'no-such-bundle'))))).toBe('BUNDLE_NOT_FOUND');
  });

  it('an empty bundle folder', async () => {
    const empty = join(tmp, 'empty-bundle');
    await mkdir(empty, { recursive: true });
    expect(errorCode(await refused(add('1.1.0', empty)))).toBe('BUNDLE_EMPTY');
  });

  it('custom fields that are not a JSON object', async () => {
    expect(errorCode(await refused(add('1.1.0', bundle, '--custom', '[1,2]')))).toBe('INVALID_CUSTOM');
    expect(errorCode(await refused(add('1.1.0', bundle, '--custom', '{nope')))).toBe('INVALID_CUSTOM');
  });

  it('a missing targets key: the error names the role and the key', async () => {
    const run = await refused(['add', bundle, '--repo', repo, '--keys-dir', join(tmp, 'no-keys'), '--version', '1.1.0', '--json']);
    expect(errorCode(run)).toBe('MISSING_KEY');
    const root = JSON.parse(await readFile(join(repo, 'metadata/root.json'), 'utf8')) as { signed: { roles: Record<string, { keyids: string[] }> } };
    expect(run.stderr).toContain('targets');
    expect(run.stderr).toContain(root.signed.roles.targets?.keyids[0]);
  });

  it('an offline root key: key rotation says it needs the root key', async () => {
    const rootKey = (await readdir(keys)).find((n) => n.startsWith('root.'));
    expect(rootKey).toBeDefined();
    const offline = join(tmp, 'offline');
    await mkdir(offline, { recursive: true });
    await rename(join(keys, rootKey!), join(offline, rootKey!));
    try {
      const run = await refused(['keys', 'rotate', 'targets', '--repo', repo, '--keys-dir', keys]);
      expect(errorCode(run)).toBe('MISSING_KEY');
      expect(run.stderr).toContain('root');
      // Day-to-day publishing does not need the root key.
      await cliOk(['sign', '--repo', repo, '--keys-dir', keys]);
    } finally {
      await rename(join(offline, rootKey!), join(keys, rootKey!));
    }
  });

  it('a threshold above the number of keys', async () => {
    expect(errorCode(await refused(['threshold', 'targets', '2', '--repo', repo, '--keys-dir', keys]))).toBe('THRESHOLD');
  });

  it('removing a version that is not there', async () => {
    expect(errorCode(await refused(['remove', '3.0.0', '--repo', repo, '--keys-dir', keys]))).toBe('VERSION_NOT_FOUND');
  });

  it('init over an existing repository', async () => {
    expect(errorCode(await refused(['init', '--repo', repo, '--keys-dir', join(tmp, 'keys2'), '--app-name', 'demo']))).toBe('REPO_EXISTS');
  });

  it('init with the keys folder inside the repository', async () => {
    const fresh = join(tmp, 'fresh');
    await mkdir(fresh);
    const run = await refused(['init', '--repo', fresh, '--keys-dir', join(fresh, 'keys'), '--app-name', 'demo'], { repoDir: fresh });
    expect(errorCode(run)).toBe('KEYS_IN_REPO');
  });

  it.each([
    ['a flipped byte in the current targets metadata', 'targets'],
    ['invalid JSON in timestamp.json', 'timestamp'],
    ['a signature that does not match in root.json', 'root'],
  ])('corrupted metadata: %s', async (_what, role) => {
    const metadata = join(repo, 'metadata');
    const timestamp = JSON.parse(await readFile(join(metadata, 'timestamp.json'), 'utf8')) as { signed: { meta: Record<string, { version: number }> } };
    const snapshotVersion = timestamp.signed.meta['snapshot.json']?.version ?? 0;
    const snapshot = JSON.parse(await readFile(join(metadata, `${snapshotVersion}.snapshot.json`), 'utf8')) as { signed: { meta: Record<string, { version: number }> } };
    const file = join(metadata, role === 'targets' ? `${snapshot.signed.meta['targets.json']?.version ?? 0}.targets.json` : `${role}.json`);
    const original = await readFile(file);
    const text = original.toString('latin1');
    // Change one hex digit right after a marker: the file stays valid JSON but no longer matches.
    const flipAfter = (marker: string): Buffer => {
      const at = text.indexOf(marker) + marker.length;
      return Buffer.from(text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1), 'latin1');
    };
    const broken = role === 'timestamp' ? original.subarray(0, original.length >> 1) : role === 'root' ? flipAfter('"sig": "') : flipAfter('"sha256": "');
    expect(broken.equals(original)).toBe(false);
    await writeFile(file, broken);
    try {
      expect(errorCode(await refused(add('1.1.0')))).toBe('METADATA_CORRUPT');
      expect(errorCode(await refused(['sign', '--repo', repo, '--keys-dir', keys]))).toBe('METADATA_CORRUPT');
      const verify = await runCli(['verify', '--repo', repo]);
      expect(verify.code).toBe(1);
    } finally {
      await writeFile(file, original);
    }
  });

  describe('with encrypted keys', () => {
    let encRepo: string;
    let encKeys: string;
    const passphrase = 'correct horse battery staple';

    beforeAll(async () => {
      encRepo = join(tmp, 'enc-repo');
      encKeys = join(tmp, 'enc-keys');
      await cliOk(['init', '--repo', encRepo, '--keys-dir', encKeys, '--app-name', 'demo'], { env: { TUFUP_KEY_PASSPHRASE: passphrase } });
    });

    it('writes key files that are encrypted', async () => {
      for (const name of await readdir(encKeys)) {
        expect(await readFile(join(encKeys, name), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
      }
    });

    it('refuses a wrong passphrase', async () => {
      const args = ['add', bundle, '--repo', encRepo, '--keys-dir', encKeys, '--version', '1.0.0'];
      const run = await refused(args, { repoDir: encRepo, env: { TUFUP_KEY_PASSPHRASE: 'wrong' } });
      expect(errorCode(run)).toBe('BAD_PASSPHRASE');
      expect(run.stderr).not.toContain('wrong');
    });

    it('refuses a missing passphrase', async () => {
      const args = ['add', bundle, '--repo', encRepo, '--keys-dir', encKeys, '--version', '1.0.0'];
      expect(errorCode(await refused(args, { repoDir: encRepo }))).toBe('BAD_PASSPHRASE');
    });

    it('reads the passphrase from stdin, refusing a wrong one there too', async () => {
      const args = ['sign', '--repo', encRepo, '--keys-dir', encKeys, '--passphrase-stdin'];
      expect(errorCode(await refused(args, { repoDir: encRepo, input: 'nope\n' }))).toBe('BAD_PASSPHRASE');
      await cliOk(args, { input: `${passphrase}\n` });
    });

    it('works with the right passphrase from a file', async () => {
      const file = join(tmp, 'passphrase.txt');
      await writeFile(file, `${passphrase}\n`);
      await cliOk(['add', bundle, '--repo', encRepo, '--keys-dir', encKeys, '--version', '1.0.0', '--passphrase-file', file]);
    });
  });

  describe('with keys from environment variables, as in CI', () => {
    it('publishes without a keys folder, and names the variable when a key is missing', async () => {
      const pem = async (role: string): Promise<string> => {
        const name = (await readdir(keys)).find((n) => n.startsWith(`${role}.`));
        return readFile(join(keys, name!), 'utf8');
      };
      const env = { TUFUP_KEY_TARGETS: await pem('targets'), TUFUP_KEY_SNAPSHOT: await pem('snapshot') };
      const noKeys = join(tmp, 'ci-no-keys');
      const run = await refused(['add', bundle, '--repo', repo, '--keys-dir', noKeys, '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64'], { env });
      expect(errorCode(run)).toBe('MISSING_KEY');
      expect(run.stderr).toContain('TUFUP_KEY_TIMESTAMP');
      const ok = await runCli(['add', bundle, '--repo', repo, '--keys-dir', noKeys, '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64'], {
        env: { ...env, TUFUP_KEY_TIMESTAMP: await pem('timestamp') },
      });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('added demo 1.1.0');
    });
  });
});
