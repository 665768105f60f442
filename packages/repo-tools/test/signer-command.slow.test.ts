import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, Timestamp } from '@tufjs/models';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addBundle,
  addKey,
  CommandSigner,
  initRepository,
  loadRepository,
  removeKey,
  signMetadata,
  signRepository,
  verifyRepository,
  type CommandSignerOptions,
} from '../src/index.js';
import { cliOk, codeOf, errorCode, runCli, ROOT, tempDir, treeHash, writeBundle } from './helpers/fixtures.js';

const NODE = join(ROOT, 'node_modules/.bin/node');
const SIGNER = join(ROOT, 'packages/repo-tools/test/helpers/signer-process.ts');

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

interface LogLine {
  op: string;
  role?: string;
  keyid?: string;
  protocol?: string;
  scheme?: string;
  leaked: string[];
  pid: number;
}

function timestamp(): Metadata<Timestamp> {
  return new Metadata(new Timestamp({ version: 1, specVersion: '1.0.31', expires: '2030-01-01T00:00:00Z' }));
}

describe('the external signer command (a key held by another process)', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let logFile: string;

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    logFile = join(tmp, 'signer.log');
  });
  afterEach(() => cleanup());

  /** Writes `key` where only the signer process reads it and returns the command line that signs with it. */
  const signerFor = async (key: KeyObject, name = 'held.pem'): Promise<{ command: string; pem: string }> => {
    const file = join(tmp, name);
    const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFile(file, pem, { mode: 0o600 });
    return { command: [NODE, SIGNER, file, logFile].map(quote).join(' '), pem };
  };
  const log = async (): Promise<LogLine[]> =>
    (await readFile(logFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as LogLine);
  const create = (options: CommandSignerOptions): Promise<CommandSigner> => CommandSigner.create({ stderr: 'ignore', ...options });

  it('learns the public key from the command and signs any role, with the role and key ID in its environment', async () => {
    const { command } = await signerFor(generateKeyPairSync('ed25519').privateKey);
    const signer = await create({ command, env: { ...process.env, TUFUP_KEY_TARGETS: 'secret', TUFUP_KEY_PASSPHRASE: 'pw' } });
    const signed = await signMetadata(timestamp(), [signer]);
    expect(() => signer.publicKey.verifySignature(signed)).not.toThrow();
    const lines = await log();
    expect(lines.map((l) => l.op)).toEqual(['public-key', 'sign']);
    expect(lines[1]).toMatchObject({ role: 'timestamp', keyid: signer.keyid, protocol: '1', scheme: 'ed25519' });
    // tufup's own private keys never reach the command.
    expect(lines.flatMap((l) => l.leaked)).toEqual([]);
  });

  it('signs with an ECDSA P-256 key, the type AWS and GCP KMS keys have', async () => {
    const { command } = await signerFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const signer = await create({ command });
    expect(signer.publicKey).toMatchObject({ keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256' });
    expect(signer.publicKey.keyVal.public).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const signed = await signMetadata(timestamp(), [signer]);
    expect(() => signer.publicKey.verifySignature(signed)).not.toThrow();
  });

  it('takes the public key from a file instead of asking the command', async () => {
    const key = generateKeyPairSync('ed25519');
    const { command } = await signerFor(key.privateKey);
    const signer = await create({ command, publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }) as string });
    await signMetadata(timestamp(), [signer]);
    expect((await log()).map((l) => l.op)).toEqual(['sign']);
  });

  it('a command that fails, or signs with the wrong key, is a typed error', async () => {
    const { command } = await signerFor(generateKeyPairSync('ed25519').privateKey);
    const signer = await create({ command });
    expect(await codeOf(signMetadata(timestamp(), [await create({ command, env: { ...process.env, SIGNER_MODE: 'fail' }, publicKey: pemOf(signer) })]))).toBe(
      'SIGNER_FAILED',
    );
    expect(await codeOf(signMetadata(timestamp(), [await create({ command, env: { ...process.env, SIGNER_MODE: 'wrong-key' }, publicKey: pemOf(signer) })]))).toBe(
      'BAD_KEY',
    );
    expect(await codeOf(create({ command: 'exit 7' }))).toBe('SIGNER_FAILED');
    expect(await codeOf(create({ command: 'echo not-a-key' }))).toBe('BAD_KEY');
  });

  it('a command that prints its private key instead of a signature gets an error that does not repeat it', async () => {
    const { command, pem } = await signerFor(generateKeyPairSync('ed25519').privateKey);
    const good = await create({ command });
    const leaky = await create({ command, env: { ...process.env, SIGNER_MODE: 'leak' }, publicKey: pemOf(good) });
    const error = await signMetadata(timestamp(), [leaky]).then(
      () => new Error('signed'),
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: 'SIGNER_FAILED' });
    const body = pem.split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(20);
    expect(`${error.message} ${String(error.stack)}`).not.toContain(body);
    // A command printing a private key where its public key belongs is refused the same way.
    const asPublic = await codeOf(create({ command: `cat ${quote(join(tmp, 'held.pem'))}` }));
    expect(asPublic).toBe('BAD_KEY');
  });

  it('a command that does not answer is killed after the timeout (SIGNER_TIMEOUT), with what it started', async () => {
    const { command } = await signerFor(generateKeyPairSync('ed25519').privateKey);
    const good = await create({ command });
    const hung = await create({ command, env: { ...process.env, SIGNER_MODE: 'hang' }, publicKey: pemOf(good), timeoutMs: 1500 });
    const started = Date.now();
    expect(await codeOf(signMetadata(timestamp(), [hung]))).toBe('SIGNER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
    const pid = (await log()).at(-1)?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    // The node process the shell started is gone too, not only the shell.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await running(pid)).toBe(false);
  });

  describe('in a repository, for every role', () => {
    let repoDir: string;
    let keysDir: string;

    beforeEach(async () => {
      repoDir = join(tmp, 'repo');
      keysDir = join(tmp, 'keys');
      await initRepository({ repoDir, keysDir, appName: 'demo' });
    });

    const bundle = async (version: string): Promise<string> => {
      const dir = join(tmp, `bundle-${version}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(join(dir, 'resources'), { recursive: true });
      await writeFile(join(dir, 'resources', 'app.js'), `console.log(${JSON.stringify(version)});\n${'// filler\n'.repeat(300)}`);
      return dir;
    };

    it('an ECDSA targets key and an ECDSA root key held by commands sign releases and the root chain tuf-js verifies', async () => {
      const targets = await create({ command: (await signerFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'kms-targets.pem')).command });
      const root = await create({ command: (await signerFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'kms-root.pem')).command });
      const state = await loadRepository(repoDir);
      const oldTargets = state.root.signed.roles.targets?.keyIDs[0] ?? '';
      const oldRoot = state.root.signed.roles.root?.keyIDs[0] ?? '';

      // Move targets and root onto the command-held keys (each root change signed by the old and new root key).
      await addKey({ repoDir, keysDir, role: 'targets', publicKeyPem: pemOf(targets), signers: [targets] });
      await removeKey({ repoDir, keysDir, role: 'targets', keyid: oldTargets, signers: [targets] });
      await addKey({ repoDir, keysDir, role: 'root', publicKeyPem: pemOf(root), signers: [root] });
      await removeKey({ repoDir, keysDir, role: 'root', keyid: oldRoot, signers: [root] });
      const rotated = await loadRepository(repoDir);
      expect(rotated.root.signed.roles.targets?.keyIDs).toEqual([targets.keyid]);
      expect(rotated.root.signed.roles.root?.keyIDs).toEqual([root.keyid]);

      // From now on the keys folder holds no targets or root key: releases and root re-signing go through the commands.
      await addBundle({ repoDir, keysDir, signers: [targets], bundleDir: await bundle('1.0.0'), version: '1.0.0', platform: 'linux', arch: 'x64' });
      const before = await treeHash(repoDir);
      expect(await codeOf(addBundle({ repoDir, keysDir, bundleDir: await bundle('1.1.0'), version: '1.1.0', platform: 'linux', arch: 'x64' }))).toBe('MISSING_KEY');
      expect(await treeHash(repoDir)).toBe(before);
      await signRepository({ repoDir, keysDir, roles: ['root'], signers: [root] });

      // tuf-js, trusting the first root, follows the chain to the ECDSA root and verifies ECDSA-signed targets.
      const verified = await verifyRepository({ repoDir });
      expect(verified).toMatchObject({ rootVersion: 6, targets: 2 });
      const roles = (await log()).filter((l) => l.op === 'sign').map((l) => l.role);
      expect(new Set(roles)).toEqual(new Set(['root', 'targets']));
    });

    it('through the CLI: --signer-command signs releases and root ceremonies; no key text reaches the output', async () => {
      const outputs: string[] = [];
      const cli = async (...args: string[]): Promise<string> => {
        const r = await cliOk([...args, '--repo', repoDir, '--keys-dir', keysDir]);
        outputs.push(r.stdout, r.stderr);
        return r.stdout;
      };
      const held = await signerFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'kms-targets.pem');
      const pubFile = join(tmp, 'kms-targets.pub');
      await writeFile(pubFile, pemOf(await create({ command: held.command })));
      const state = await loadRepository(repoDir);
      await cli('keys', 'add', 'targets', '--public-key', pubFile, '--signer-command', held.command);
      await cli('keys', 'remove', 'targets', state.root.signed.roles.targets?.keyIDs[0] ?? '', '--signer-command', held.command);

      await cli('add', await writeBundle(join(tmp, 'b0'), 0), '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64', '--signer-command', held.command);
      // With the public key given, the command is only asked to sign.
      const calls = (await log()).length;
      await cli('yank', '1.0.0', '--reason', 'test', '--signer-command', held.command, '--signer-public-key', pubFile);
      expect((await log()).slice(calls).map((l) => l.op)).toEqual(['sign']);

      // A root ceremony signed by a root key that lives in a command (an HSM on the key holder's desk).
      const rootHeld = await signerFor(generateKeyPairSync('ed25519').privateKey, 'hsm-root.pem');
      const rootPub = join(tmp, 'hsm-root.pub');
      await writeFile(rootPub, pemOf(await create({ command: rootHeld.command })));
      await cli('root', 'begin', '--add-key', `root=${rootPub}`);
      const oldRoot = (await readdir(keysDir)).find((f) => f.startsWith('root.')) ?? '';
      await cli('root', 'sign', '--key', join(keysDir, oldRoot));
      const signed = JSON.parse(await cli('root', 'sign', '--signer-command', rootHeld.command, '--json')) as { complete: boolean };
      expect(signed.complete).toBe(true);
      await cli('root', 'publish');
      expect(await verifyRepository({ repoDir })).toMatchObject({ rootVersion: 4 });

      // A signer that fails: the reason code, exit 1, nothing written; the key it holds appears nowhere.
      const before = await treeHash(repoDir);
      const failed = await runCli(['unyank', '1.0.0', '--repo', repoDir, '--keys-dir', keysDir, '--signer-command', held.command, '--signer-public-key', pubFile, '--json'], {
        env: { SIGNER_MODE: 'leak' },
      });
      expect(failed.code).toBe(1);
      expect(errorCode(failed)).toBe('SIGNER_FAILED');
      expect(await treeHash(repoDir)).toBe(before);
      outputs.push(failed.stdout, failed.stderr);
      for (const pem of [held.pem, rootHeld.pem]) {
        const body = pem.split('\n')[1] ?? '';
        for (const text of outputs) expect(text).not.toContain(body);
      }
    });
  });
});

/** Whether `pid` is a live process: a zombie left to an init that does not reap (containers) is dead. */
async function running(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z /.test(stat);
}

/** The PEM public key of a signer, as `keys add --public-key` and `--signer-public-key` take it. */
function pemOf(signer: CommandSigner): string {
  const value = signer.publicKey.keyVal.public ?? '';
  if (value.startsWith('-----BEGIN')) return value;
  // ed25519 keys are hex in TUF metadata.
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(value, 'hex').toString('base64url') };
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
}
