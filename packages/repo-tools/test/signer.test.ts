import { createHash, generateKeyPairSync } from 'node:crypto';
import { Metadata, Timestamp } from '@tufjs/models';
import { describe, expect, it } from 'vitest';
import { keyIdOf, KeyObjectSigner, parsePublicKey, signMetadata, tufKeyOf, type Signer } from '../src/index.js';
import { RepoError } from '../src/error.js';

function timestamp(): Metadata<Timestamp> {
  return new Metadata(new Timestamp({ version: 1, specVersion: '1.0.31', expires: '2030-01-01T00:00:00Z' }));
}

describe('key IDs', () => {
  it('are the sha256 of the canonical JSON of the public key, as the TUF spec says', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const key = tufKeyOf(privateKey);
    const hex = key.keyVal.public ?? '';
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    // Canonical JSON: sorted keys, no whitespace.
    const canonical = `{"keytype":"ed25519","keyval":{"public":"${hex}"},"scheme":"ed25519"}`;
    expect(key.keyID).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(keyIdOf(key.toJSON())).toBe(key.keyID);
  });
});

describe('signMetadata', () => {
  it('makes signatures that @tufjs/models verifies', async () => {
    const signer = new KeyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    const signed = await signMetadata(timestamp(), [signer]);
    expect(Object.keys(signed.signatures)).toEqual([signer.keyid]);
    expect(() => signer.publicKey.verifySignature(signed)).not.toThrow();
  });

  it('takes asynchronous signers, as a KMS would be', async () => {
    const inner = new KeyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    const kms: Signer = {
      keyid: inner.keyid,
      publicKey: inner.publicKey,
      sign: async (data) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return inner.sign(data);
      },
    };
    const signed = await signMetadata(timestamp(), [kms]);
    expect(() => inner.publicKey.verifySignature(signed)).not.toThrow();
  });

  it('refuses a signer whose signature does not verify (BAD_KEY)', async () => {
    const honest = new KeyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    const other = new KeyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    const liar: Signer = { keyid: honest.keyid, publicKey: honest.publicKey, sign: async (data) => ({ keyid: honest.keyid, sig: (await other.sign(data)).sig }) };
    await expect(signMetadata(timestamp(), [liar])).rejects.toMatchObject({ code: 'BAD_KEY' });
  });

  it('keeps the private key out of logs and JSON', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = new KeyObjectSigner(privateKey);
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const body = pem.split('\n')[1] ?? '';
    const { inspect } = await import('node:util');
    expect(inspect(signer, { depth: 5 })).not.toContain(body);
    expect(JSON.stringify(signer)).not.toContain(body);
    // Node never prints a KeyObject's bytes, so the two checks above hold anyway; what the signer adds
    // is that the key object itself is not handed on, where a later export() or serializer could reach it.
    expect(inspect(signer, { depth: 5 })).not.toMatch(/privateKey|PrivateKeyObject/);
    expect(JSON.parse(JSON.stringify(signer))).toEqual({ keyid: signer.keyid });
    expect(() => new KeyObjectSigner(generateKeyPairSync('ed25519').publicKey)).toThrow(RepoError);
  });
});

describe('public keys from PEM or base64 DER (keys add --public-key, root begin --add-key, signer commands)', () => {
  it('reads ed25519 and ECDSA P-256 keys, in PEM or as base64 DER (what aws kms get-public-key prints)', () => {
    const ed = generateKeyPairSync('ed25519').publicKey;
    const fromPem = parsePublicKey(ed.export({ type: 'spki', format: 'pem' }) as string, 'x');
    const fromDer = parsePublicKey((ed.export({ type: 'spki', format: 'der' })).toString('base64'), 'x');
    expect(fromDer.keyID).toBe(fromPem.keyID);
    expect(fromPem.keyID).toBe(tufKeyOf(ed).keyID);
    const ec = parsePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string, 'x');
    expect(ec).toMatchObject({ keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256' });
    // The spec's key ID covers the PEM public value, as for any key.
    expect(ec.keyID).toBe(keyIdOf(ec.toJSON()));
  });

  it('refuses other key types, garbage, and a private key given by mistake, without repeating it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const privatePem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    for (const text of [rsa, p384, 'not a key', privatePem]) {
      let error: unknown;
      try {
        parsePublicKey(text, 'kms.pub');
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'BAD_KEY' });
      expect((error as Error).message).toContain('kms.pub');
      expect((error as Error).message).not.toContain(privatePem.split('\n')[1]);
    }
  });

  it('a key-file signer with an ECDSA P-256 key makes DER signatures @tufjs/models verifies', async () => {
    const signer = new KeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const signed = await signMetadata(timestamp(), [signer]);
    expect(Buffer.from(signed.signatures[signer.keyid]?.sig ?? '', 'hex')[0]).toBe(0x30);
    expect(() => signer.publicKey.verifySignature(signed)).not.toThrow();
  });
});
