import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key } from '@tufjs/models';
import type { RoleName } from './config.js';
import { RepoError } from './error.js';

/** A signature as TUF metadata records it. */
export interface SignatureValue {
  keyid: string;
  /** Hex-encoded signature bytes (raw for ed25519, DER for ECDSA). */
  sig: string;
}

/** What is being signed, for signers that log, prompt or choose a key by it (an HSM, a KMS command). */
export interface SignContext {
  /** The role whose metadata the bytes are. */
  role: RoleName;
}

/**
 * Anything that can sign metadata for one key, for any role: a key file, a CI secret, a KMS or a
 * hardware token. `sign` gets the canonical JSON bytes of the `signed` part and may be async.
 */
export interface Signer {
  /** The TUF key ID of the public key this signer signs for. */
  readonly keyid: string;
  /** The public key as it appears in root.json. */
  readonly publicKey: Key;
  sign(data: Buffer, context?: SignContext): Promise<SignatureValue>;
}

/** The key types tufup signs with: ed25519 (its own keys) and ECDSA P-256 (what every KMS and HSM offers). */
export type KeyType = 'ed25519' | 'ecdsa';

/** A public key object as the TUF spec writes it. */
export interface PublicKeyJson {
  keytype: KeyType;
  scheme: 'ed25519' | 'ecdsa-sha2-nistp256';
  keyval: { public: string };
}

const UNSUPPORTED = 'only ed25519 and ECDSA P-256 (ecdsa-sha2-nistp256) keys are supported';

/**
 * The TUF public key object of a key: ed25519 with a hex public value; ECDSA P-256 as keytype `ecdsa`,
 * scheme `ecdsa-sha2-nistp256` and a PEM public value, as python-tuf (securesystemslib) and tuf-js write it.
 */
export function publicKeyJson(publicKey: KeyObject): PublicKeyJson {
  if (publicKey.asymmetricKeyType === 'ed25519') return ed25519PublicKey(publicKey);
  if (publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
  }
  throw new RepoError('BAD_KEY', UNSUPPORTED);
}

/** The public key object of an ed25519 key as the TUF spec writes it (hex public value). */
export function ed25519PublicKey(publicKey: KeyObject): { keytype: 'ed25519'; scheme: 'ed25519'; keyval: { public: string } } {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new RepoError('BAD_KEY', 'only ed25519 keys are supported');
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: Buffer.from(jwk.x, 'base64url').toString('hex') } };
}

/** The TUF key ID: sha256 of the canonical JSON of the public key object. */
export function keyIdOf(publicKeyJson: object): string {
  return createHash('sha256').update(canonicalize(publicKeyJson)).digest('hex');
}

/** The public `Key` (with its spec key ID) of an ed25519 or ECDSA P-256 private or public key. */
export function tufKeyOf(key: KeyObject): Key {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const json = publicKeyJson(publicKey);
  return new Key({ keyID: keyIdOf(json), keyType: json.keytype, scheme: json.scheme, keyVal: json.keyval });
}

/**
 * The public `Key` of a PEM public key (SPKI) or of base64 DER SPKI, as `aws kms get-public-key` prints it.
 * BAD_KEY, naming `where` and never echoing the input (it could be a private key given by mistake).
 */
export function parsePublicKey(text: string, where: string): Key {
  const trimmed = text.trim();
  if (/PRIVATE KEY/.test(trimmed)) throw new RepoError('BAD_KEY', `${where} holds a private key; give its public key`);
  let key: KeyObject;
  try {
    key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey({ key: trimmed, format: 'pem' })
      : createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new RepoError('BAD_KEY', `${where} is not a PEM (or base64 DER) public key`, { cause });
  }
  try {
    return tufKeyOf(key);
  } catch (cause) {
    throw new RepoError('BAD_KEY', `${where}: ${UNSUPPORTED}`, { cause });
  }
}

/**
 * Signs with an ed25519 (or ECDSA P-256) private key held in this process, from a key file or an
 * environment variable.
 */
export class KeyObjectSigner implements Signer {
  readonly keyid: string;
  readonly publicKey: Key;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.type !== 'private') throw new RepoError('BAD_KEY', 'a signer needs a private key');
    this.publicKey = tufKeyOf(privateKey);
    this.keyid = this.publicKey.keyID;
  }

  sign(data: Buffer): Promise<SignatureValue> {
    // ed25519 hashes inside the algorithm (no digest given); ECDSA P-256 signs SHA-256, DER-encoded as TUF expects.
    const digest = this.publicKey.keyType === 'ed25519' ? null : 'sha256';
    return Promise.resolve({ keyid: this.keyid, sig: cryptoSign(digest, data, this.privateKey).toString('hex') });
  }

  // Keeps the private key out of console.log / util.inspect / JSON output by accident.
  toJSON(): { keyid: string } {
    return { keyid: this.keyid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KeyObjectSigner(${this.keyid})`;
  }
}
