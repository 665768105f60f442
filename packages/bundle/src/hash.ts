import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The sha256 (hex) and byte length of some content: what signed metadata records of a file. */
export interface Digest {
  sha256: string;
  size: number;
}

/** Hashes and counts chunks as they are handed over, synchronously. */
export class Hasher {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  constructor(private readonly onBytes?: (total: number) => void) {}

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
  }

  get size(): number {
    return this.bytes;
  }

  /** Call once, after the last chunk. */
  digest(): Digest {
    return { sha256: this.hash.digest('hex'), size: this.bytes };
  }
}

/** A pass-through stream that hashes and counts what flows through it. */
export class DigestStream extends Transform {
  private readonly hasher: Hasher;

  constructor(onBytes?: (total: number) => void) {
    super();
    this.hasher = new Hasher(onBytes);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hasher.update(chunk);
    done(null, chunk);
  }

  /** Valid once every chunk has passed through. */
  digest(): Digest {
    return this.hasher.digest();
  }
}

/** Streams a file through sha256. */
export async function digestFile(path: string): Promise<Digest> {
  const hasher = new Hasher();
  await pipeline(createReadStream(path), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) hasher.update(chunk);
  });
  return hasher.digest();
}

export function digestBuffer(data: Uint8Array): Digest {
  return { sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

export function sameDigest(a: Digest, b: Digest): boolean {
  return a.size === b.size && a.sha256 === b.sha256;
}
