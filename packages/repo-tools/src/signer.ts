import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key } from '@tufjs/models';
import { RepoError } from './error.js';

/** A signature as TUF metadata records it. */
export interface SignatureValue {
  keyid: string;
  /** Hex-encoded signature bytes. */
  sig: string;
}

/**
 * Anything that can sign metadata for one key: a key file, a CI secret, a KMS or a hardware token.
 * `sign` gets the canonical JSON bytes of the `signed` part and may be async.
 */
export interface Signer {
  /** The TUF key ID of the public key this signer signs for. */
  readonly keyid: string;
  /** The public key as it appears in root.json. */
  readonly publicKey: Key;
  sign(data: Buffer): Promise<SignatureValue>;
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

/** The public `Key` (with its spec key ID) of an ed25519 private or public key. */
export function tufKeyOf(key: KeyObject): Key {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const json = ed25519PublicKey(publicKey);
  return new Key({ keyID: keyIdOf(json), keyType: json.keytype, scheme: json.scheme, keyVal: json.keyval });
}

/** Signs with an ed25519 private key held in this process (from a key file or an environment variable). */
export class KeyObjectSigner implements Signer {
  readonly keyid: string;
  readonly publicKey: Key;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new RepoError('BAD_KEY', 'a signer needs an ed25519 private key');
    }
    this.publicKey = tufKeyOf(privateKey);
    this.keyid = this.publicKey.keyID;
  }

  sign(data: Buffer): Promise<SignatureValue> {
    return Promise.resolve({ keyid: this.keyid, sig: cryptoSign(null, data, this.privateKey).toString('hex') });
  }

  // Keeps the private key out of console.log / util.inspect / JSON output by accident.
  toJSON(): { keyid: string } {
    return { keyid: this.keyid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KeyObjectSigner(${this.keyid})`;
  }
}
