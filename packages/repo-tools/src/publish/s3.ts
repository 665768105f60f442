import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { errnoOf, messageOf } from '@tufup/bundle';
import { METADATA_DIR, TARGETS_DIR } from '../config.js';
import { ioError, RepoError } from '../error.js';
import type { Destination, RemoteFile } from './destination.js';
import type { PlannedFile } from './plan.js';

/** How to reach an S3-compatible store; credentials come from the AWS SDK's usual chain (`AWS_ACCESS_KEY_ID` ...). */
export interface S3Options {
  /** The store's endpoint (R2, MinIO, Spaces, GCS, a local server). @default the SDK's: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS */
  endpoint?: string;
  /** @default $AWS_REGION, else `us-east-1` (R2 takes `auto`) */
  region?: string;
  /** Address buckets as `<endpoint>/<bucket>` rather than `<bucket>.<endpoint>` (MinIO and most local servers). @default false */
  pathStyle?: boolean;
  /** A canned ACL for every object, e.g. `public-read` where objects are not public by bucket policy (Spaces). */
  acl?: string;
  /** Credentials, instead of the SDK's chain (environment, shared files, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

type Sdk = typeof import('@aws-sdk/client-s3');

/** The AWS SDK, an optional peer dependency: loaded only to publish to S3, with an error saying how to get it. */
async function loadSdk(): Promise<Sdk> {
  try {
    return await import('@aws-sdk/client-s3');
  } catch (cause) {
    if (errnoOf(cause) === 'ERR_MODULE_NOT_FOUND' && messageOf(cause).includes('@aws-sdk/client-s3')) {
      throw new RepoError('MISSING_DEPENDENCY', 'publishing to s3:// needs the AWS SDK: npm install --save-dev @aws-sdk/client-s3', { cause });
    }
    throw cause;
  }
}

/** The bucket and key prefix of `s3://bucket/prefix`. */
function parseS3Url(to: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(to);
  const bucket = match?.[1];
  if (bucket === undefined || bucket === '') throw new RepoError('USAGE', `"${to}" names no bucket: use s3://bucket/prefix`);
  const prefix = (match?.[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket, prefix: prefix === '' ? '' : `${prefix}/` };
}

function md5OfEtag(etag: string | undefined): string | undefined {
  const value = etag?.replace(/"/g, '').toLowerCase();
  // A multipart upload's ETag ("<md5 of md5s>-<parts>") is no digest of the bytes.
  return value !== undefined && /^[0-9a-f]{32}$/.test(value) ? value : undefined;
}

/** The store's error, with its name (AccessDenied, NoSuchBucket ...) and status, as PUBLISH_FAILED. */
function storeError(what: string, cause: unknown): RepoError {
  if (cause instanceof RepoError) return cause;
  const name = cause instanceof Error ? cause.name : 'Error';
  const status = (cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  const detail = `${name === 'Error' ? '' : `${name}: `}${messageOf(cause)}${status === undefined ? '' : ` (HTTP ${status})`}`;
  return new RepoError('PUBLISH_FAILED', `${what}: ${detail}`, { cause });
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw ioError(`cannot read ${path}`, cause);
  }
  return hash.digest('hex');
}

/** Opens an S3-compatible store; MISSING_DEPENDENCY when the AWS SDK is not installed. */
export async function openS3Destination(to: string, options: S3Options): Promise<Destination> {
  const { bucket, prefix } = parseS3Url(to);
  const sdk = await loadSdk();
  const client = new sdk.S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.pathStyle === true,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // Since SDK 3.729 uploads default to aws-chunked bodies with trailing checksums, which several
    // S3-compatible stores do not decode (they store the framing as content); plain bodies work everywhere,
    // and their ETag is the MD5 a later publish compares.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return new S3Destination(sdk, client, bucket, prefix, options.acl, to.replace(/\/+$/, ''));
}

class S3Destination implements Destination {
  constructor(
    private readonly sdk: Sdk,
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly acl: string | undefined,
    readonly description: string,
  ) {}

  async list(): Promise<Map<string, RemoteFile>> {
    const found = new Map<string, RemoteFile>();
    for (const folder of [METADATA_DIR, TARGETS_DIR]) {
      let token: string | undefined;
      do {
        const page = await this.client
          .send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}${folder}/`, ...(token === undefined ? {} : { ContinuationToken: token }) }))
          .catch((cause: unknown) => {
            throw storeError(`cannot list ${this.description}`, cause);
          });
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          const md5 = md5OfEtag(object.ETag);
          found.set(object.Key.slice(this.prefix.length), { size: object.Size ?? 0, ...(md5 === undefined ? {} : { md5 }) });
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    }
    return found;
  }

  async md5Of(key: string): Promise<string | undefined> {
    try {
      const head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${key}` }));
      const md5 = md5OfEtag(head.ETag);
      if (md5 !== undefined) return md5;
      const object = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${key}` }));
      return createHash('md5')
        .update((await object.Body?.transformToByteArray()) ?? new Uint8Array())
        .digest('hex');
    } catch (cause) {
      if (cause instanceof Error && (cause.name === 'NotFound' || cause.name === 'NoSuchKey')) return undefined;
      throw storeError(`cannot read ${key} from ${this.description}`, cause);
    }
  }

  async put(file: PlannedFile): Promise<void> {
    const { source } = file;
    // A store cannot check a hash before it makes the object visible, so targets are checked before the upload.
    if ('path' in source && (await sha256OfFile(source.path)) !== source.sha256) {
      throw new RepoError('VERIFY_FAILED', `${source.path} does not match the sha256 signed for it; run "tufup-repo verify"`);
    }
    const body = 'bytes' in source ? source.bytes : createReadStream(source.path);
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: `${this.prefix}${file.key}`,
          Body: body,
          ContentLength: file.size,
          ContentType: file.contentType,
          CacheControl: file.cacheControl,
          ...('path' in source ? { Metadata: { sha256: source.sha256 } } : {}),
          ...(this.acl === undefined ? {} : { ACL: this.acl as NonNullable<ConstructorParameters<Sdk['PutObjectCommand']>[0]['ACL']> }),
        }),
      );
    } catch (cause) {
      throw storeError(`could not upload ${file.key} to ${this.description}`, cause);
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
