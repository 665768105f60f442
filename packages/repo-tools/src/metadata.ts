import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, MetaFile, Root, Signature, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { messageOf } from '@tufup/bundle';
import { RepoError } from './error.js';
import type { RoleName } from './config.js';
import type { Signer } from './signer.js';

/** The TUF specification version this tool writes. */
export const SPEC_VERSION = '1.0.31';

/** Any top-level role's signed part. */
export type AnySigned = Root | Targets | Snapshot | Timestamp;
/** The JSON object type the @tufjs/models parsers take. */
export type JSONObject = Parameters<typeof Root.fromJSON>[0];

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYY-MM-DDTHH:MM:SSZ`, the only date format the TUF spec allows (no milliseconds). */
export function formatExpires(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The expiry date `days` after `now`, in the spec's format. */
export function expiresIn(days: number, now: Date = new Date()): string {
  return formatExpires(new Date(now.getTime() + Math.round(days * DAY_MS)));
}

/**
 * Signs metadata with every signer given, replacing old signatures. Signers may be async (KMS), so
 * this canonicalizes `signed` itself rather than using the synchronous `Metadata.sign`; each signature
 * is checked against its public key before it is kept, so a faulty signer cannot publish a bad one.
 */
export async function signMetadata<T extends AnySigned>(metadata: Metadata<T>, signers: readonly Signer[]): Promise<Metadata<T>> {
  const data = Buffer.from(canonicalize(metadata.signed.toJSON()));
  const signatures: Record<string, Signature> = {};
  const context = { role: metadata.signed.type as RoleName };
  for (const signer of signers) {
    const { keyid, sig } = await signer.sign(data, context);
    signatures[keyid] = new Signature({ keyID: keyid, sig });
  }
  const signed = new Metadata(metadata.signed, signatures);
  for (const signer of signers) {
    try {
      signer.publicKey.verifySignature(signed);
    } catch (cause) {
      throw new RepoError('BAD_KEY', `the signer for key ${signer.keyid} made a signature that does not verify`, { cause });
    }
  }
  return signed;
}

/** The bytes of a metadata file: indented JSON with a final newline. Clients verify `signed` canonically. */
export function serializeMetadata(metadata: Metadata<AnySigned>): Buffer {
  return Buffer.from(`${JSON.stringify(metadata.toJSON(), null, 2)}\n`);
}

/** The snapshot/timestamp entry describing a metadata file's bytes. */
export function metaFileOf(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });
}

/** File name of a role's metadata under consistent snapshots (`timestamp.json` is never versioned). */
export function metadataFileName(role: RoleName, version: number): string {
  return role === 'timestamp' ? 'timestamp.json' : `${version}.${role}.json`;
}

/** Parses a metadata file; METADATA_CORRUPT naming the file when it is not valid metadata of that role. */
export function parseMetadata(role: 'root', bytes: Buffer, file: string): Metadata<Root>;
export function parseMetadata(role: 'targets', bytes: Buffer, file: string): Metadata<Targets>;
export function parseMetadata(role: 'snapshot', bytes: Buffer, file: string): Metadata<Snapshot>;
export function parseMetadata(role: 'timestamp', bytes: Buffer, file: string): Metadata<Timestamp>;
export function parseMetadata(role: RoleName, bytes: Buffer, file: string): Metadata<AnySigned> {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as JSONObject;
    switch (role) {
      case 'root':
        return Metadata.fromJSON(MetadataKind.Root, json);
      case 'targets':
        return Metadata.fromJSON(MetadataKind.Targets, json);
      case 'snapshot':
        return Metadata.fromJSON(MetadataKind.Snapshot, json);
      case 'timestamp':
        return Metadata.fromJSON(MetadataKind.Timestamp, json);
    }
  } catch (cause) {
    throw new RepoError('METADATA_CORRUPT', `${file} is not valid ${role} metadata: ${messageOf(cause)}`, { cause });
  }
}

/** A copy of `signed` with the next version and a new expiry date (the models' fields are read-only). */
export function nextVersion<T extends AnySigned>(signed: T, expires: string, edit?: (json: JSONObject) => void): T {
  const json = signed.toJSON();
  json.version = signed.version + 1;
  json.expires = expires;
  edit?.(json);
  return reparse(signed, json);
}

function reparse<T extends AnySigned>(signed: T, json: JSONObject): T {
  switch (signed.type) {
    case MetadataKind.Root:
      return Root.fromJSON(json) as T;
    case MetadataKind.Targets:
      return Targets.fromJSON(json) as T;
    case MetadataKind.Snapshot:
      return Snapshot.fromJSON(json) as T;
    case MetadataKind.Timestamp:
      return Timestamp.fromJSON(json) as T;
  }
}
