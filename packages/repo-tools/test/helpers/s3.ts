import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import S3rver from 's3rver';

/** A real S3-compatible server (s3rver) on 127.0.0.1, storing into a folder, with its bucket made. */
export interface LocalS3 {
  /** The endpoint for the AWS SDK and `tufup-repo publish --endpoint` (path-style addressing). */
  endpoint: string;
  bucket: string;
  /** The credentials s3rver accepts, as the SDK reads them from the environment. */
  env: NodeJS.ProcessEnv;
  /** The same, for S3Options. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The public URL of a key prefix (what a client or a CDN in front of the bucket fetches). */
  urlOf(prefix: string): string;
  close(): Promise<void>;
}

export async function startS3(dir: string, bucket = 'updates'): Promise<LocalS3> {
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3rver'), configureBuckets: [{ name: bucket }] });
  storeUploadsWhole(server);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    urlOf: (prefix) => `${endpoint}/${bucket}/${prefix}`,
    close: () => server.close(),
  };
}

/** What is used of s3rver's filesystem store (lib/stores/filesystem.js): where an object lives, and its metadata. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: 'object'): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: UploadedObject): Promise<{ size: number; md5: string }>;
}

interface UploadedObject {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  content: Buffer | AsyncIterable<Buffer>;
}

/**
 * Makes s3rver keep an upload as S3 does: whole, or not at all. s3rver writes a request's body straight
 * into the object's file (and answers before that file is flushed), so an upload cut off by a killed
 * `tufup-repo publish` stayed behind as a partial object that listings and reads returned, with the md5
 * of what had arrived; the next publish then took it for a file published from another repository
 * (PUBLISH_CONFLICT). Real S3, R2 and GCS make an object visible only once its upload completed, and that
 * is the store the publish tests are about: here the body is received whole, then renamed into place.
 */
function storeUploadsWhole(server: S3rver): void {
  const store = (server as unknown as { store: FilesystemStore }).store;
  store.putObject = async (object) => {
    const content = Buffer.isBuffer(object.content) ? object.content : await receiveWhole(object.content);
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    const partial = `${objectPath}.uploading`;
    await mkdir(dirname(objectPath), { recursive: true });
    await writeFile(partial, content);
    const md5 = createHash('md5').update(content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    await rename(partial, objectPath);
    return { size: content.length, md5 };
  };
}

/** The whole body, or the error of a body cut off before its end. */
async function receiveWhole(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
