/**
 * A signer in its own process, as a KMS CLI or an HSM tool would be: it holds a private key that the
 * tufup-repo process never sees, and speaks the external signer protocol (docs/repo-tools.md).
 *
 *   node signer-process.ts KEY_FILE LOG_FILE
 *
 * Every call appends one JSON line to LOG_FILE (operation, role, key ID, whether any tufup private key
 * reached its environment, its pid). SIGNER_MODE makes it misbehave the ways real signers do:
 * `fail` (exit 3), `hang` (never answers), `leak` (prints its private key instead of a signature),
 * `wrong-key` (signs with another key). It checks TUFUP_SIGNER_SHA256 against what it read, as a KMS
 * recipe signing the digest relies on.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

const [keyFile = '', logFile = ''] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
const env = process.env;
const mode = env.SIGNER_MODE ?? '';

function log(entry: Record<string, unknown>): void {
  const leaked = Object.keys(env).filter((name) => name.startsWith('TUFUP_KEY_'));
  appendFileSync(logFile, `${JSON.stringify({ ...entry, leaked, pid: process.pid })}\n`);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function signWith(privateKey: KeyObject, data: Buffer): Buffer {
  return sign(privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, privateKey);
}

const op = env.TUFUP_SIGNER_OP;
log({ op, role: env.TUFUP_SIGNER_ROLE, keyid: env.TUFUP_SIGNER_KEYID, protocol: env.TUFUP_SIGNER_PROTOCOL, scheme: env.TUFUP_SIGNER_SCHEME });
if (mode === 'hang') {
  await new Promise(() => setInterval(() => undefined, 1000));
}
if (mode === 'fail') {
  process.stderr.write('signer: AccessDeniedException: not allowed to use this key\n');
  process.exit(3);
}
if (op === 'public-key') {
  process.stdout.write(createPublicKey(key).export({ type: 'spki', format: 'pem' }));
} else if (op === 'sign') {
  if (mode === 'leak') {
    process.stdout.write(key.export({ type: 'pkcs8', format: 'pem' }));
  } else {
    const data = await readStdin();
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== env.TUFUP_SIGNER_SHA256) {
      process.stderr.write('signer: TUFUP_SIGNER_SHA256 does not match stdin\n');
      process.exit(4);
    }
    const signer = mode === 'wrong-key' ? generateKeyPairSync('ed25519').privateKey : key;
    process.stdout.write(`${signWith(signer, data).toString('base64')}\n`);
  }
} else {
  process.stderr.write(`signer: unknown operation ${String(op)}\n`);
  process.exit(2);
}
