import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Key } from '@tufjs/models';
import { KEY_ENV, PASSPHRASE_ENV } from './config.js';
import { RepoError } from './error.js';
import { parsePublicKey, type SignatureValue, type SignContext, type Signer } from './signer.js';

/**
 * The external signer protocol, version 1 (docs/repo-tools.md, "Signing with a command").
 *
 * The command line runs in the shell (`sh -c` / `cmd.exe /c`) with the environment of tufup-repo minus
 * its private keys (`TUFUP_KEY_*`, `TUFUP_KEY_PASSPHRASE`), plus:
 *   TUFUP_SIGNER_PROTOCOL=1
 *   TUFUP_SIGNER_OP=public-key | sign
 * and for `sign`:
 *   TUFUP_SIGNER_ROLE     root | targets | snapshot | timestamp: whose metadata the bytes are
 *   TUFUP_SIGNER_KEYID    the TUF key ID it signs for
 *   TUFUP_SIGNER_KEYTYPE  ed25519 | ecdsa
 *   TUFUP_SIGNER_SCHEME   ed25519 | ecdsa-sha2-nistp256
 *   TUFUP_SIGNER_SHA256   hex SHA-256 of the payload, for signers that take a digest (KMS ECDSA)
 * stdin carries the payload (`public-key`: nothing): the exact bytes to sign, the canonical JSON of the
 * metadata's `signed` part. stdout must carry only the answer:
 *   public-key: the public key, PEM (`-----BEGIN PUBLIC KEY-----`) or base64 DER (SubjectPublicKeyInfo)
 *   sign:       the signature, base64 (whitespace ignored): the raw 64 bytes for ed25519, DER for ECDSA
 * Exit status 0 means success. stderr is the command's own: it goes to the user's terminal as it is
 * (prompts such as "touch your YubiKey"); tufup-repo never reads, stores or repeats it, nor stdout
 * when stdout is not a valid answer, so a misconfigured command cannot leak a secret into our errors.
 */
export const SIGNER_PROTOCOL = 1;

/** How long a signer command may take before it is killed (a hardware token waits for a touch). */
export const DEFAULT_SIGNER_TIMEOUT_MS = 120_000;

/** Largest answer read from a signer command's stdout. */
const MAX_OUTPUT = 64 * 1024;

/** Options of {@link CommandSigner.create}. */
export interface CommandSignerOptions {
  /** The command line, run by the shell. */
  command: string;
  /** The public key (PEM or base64 DER); when absent the command is asked for it (`TUFUP_SIGNER_OP=public-key`). */
  publicKey?: string;
  /** @default DEFAULT_SIGNER_TIMEOUT_MS */
  timeoutMs?: number;
  /** The environment the command starts from (tufup's private keys are removed from it). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where the command's stderr goes. @default 'inherit' (the user's terminal) */
  stderr?: 'inherit' | 'ignore';
}

/** A signer whose private key lives in another program: a KMS CLI, an HSM tool, a YubiKey, a script. */
export class CommandSigner implements Signer {
  private constructor(
    private readonly options: CommandSignerOptions,
    readonly publicKey: Key,
  ) {}

  get keyid(): string {
    return this.publicKey.keyID;
  }

  /** Learns the public key (from the options or by asking the command) and returns the signer. */
  static async create(options: CommandSignerOptions): Promise<CommandSigner> {
    const text = options.publicKey ?? (await run(options, { TUFUP_SIGNER_OP: 'public-key' }, Buffer.alloc(0), 'giving its public key')).toString('utf8');
    const where = options.publicKey === undefined ? 'the public key the signer command printed' : 'the signer public key';
    return new CommandSigner(options, parsePublicKey(text, where));
  }

  async sign(data: Buffer, context?: SignContext): Promise<SignatureValue> {
    const key = this.publicKey;
    const env = {
      TUFUP_SIGNER_OP: 'sign',
      TUFUP_SIGNER_ROLE: context?.role ?? '',
      TUFUP_SIGNER_KEYID: key.keyID,
      TUFUP_SIGNER_KEYTYPE: key.keyType,
      TUFUP_SIGNER_SCHEME: key.scheme,
      TUFUP_SIGNER_SHA256: createHash('sha256').update(data).digest('hex'),
    };
    const what = `signing ${context?.role ?? 'metadata'} with key ${key.keyID.slice(0, 12)}`;
    const out = (await run(this.options, env, data, what)).toString('utf8').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(out) || out.length % 4 === 1) {
      throw new RepoError('SIGNER_FAILED', `the signer command, ${what}, printed ${out.length} character(s) that are not a base64 signature`);
    }
    return { keyid: key.keyID, sig: Buffer.from(out, 'base64').toString('hex') };
  }

  // The command line may hold a KMS key name or a token: keep it out of accidental logs and JSON.
  toJSON(): { keyid: string } {
    return { keyid: this.keyid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CommandSigner(${this.keyid})`;
  }
}

/** The environment a signer command gets: ours without tufup's private keys, plus the protocol's variables. */
function commandEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const secret = new Set<string>([...Object.values(KEY_ENV), PASSPHRASE_ENV]);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) if (!secret.has(name) && !name.startsWith('TUFUP_SIGNER_')) env[name] = value;
  return { ...env, TUFUP_SIGNER_PROTOCOL: String(SIGNER_PROTOCOL), ...extra };
}

/** Runs the command once; its stdout on exit 0, SIGNER_FAILED / SIGNER_TIMEOUT otherwise. */
function run(options: CommandSignerOptions, extra: Record<string, string>, input: Buffer, what: string): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SIGNER_TIMEOUT_MS;
  const posix = process.platform !== 'win32';
  return new Promise((resolvePromise, reject) => {
    const child = spawn(options.command, {
      shell: true,
      env: commandEnv(options.env ?? process.env, extra),
      stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'],
      // Its own process group, so a timeout kills what the shell started too, not only the shell.
      detached: posix,
      windowsHide: true,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: RepoError | undefined, out?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolvePromise(out ?? Buffer.alloc(0));
    };
    const kill = (): void => {
      try {
        if (posix && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish(new RepoError('SIGNER_TIMEOUT', `the signer command, ${what}, did not answer within ${timeoutMs / 1000} s and was stopped`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        kill();
        finish(new RepoError('SIGNER_FAILED', `the signer command, ${what}, printed more than ${MAX_OUTPUT} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    child.on('error', (cause) => finish(new RepoError('SIGNER_FAILED', `the signer command, ${what}, could not be started: ${cause.message}`, { cause })));
    child.on('close', (code, signal) => {
      if (code === 0) finish(undefined, Buffer.concat(chunks));
      else finish(new RepoError('SIGNER_FAILED', `the signer command, ${what}, ${signal === null ? `exited with status ${String(code)}` : `was killed by ${signal}`} (its own messages, if any, are on stderr above)`));
    });
    // A command that signs the digest (TUFUP_SIGNER_SHA256) may never read stdin: that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
