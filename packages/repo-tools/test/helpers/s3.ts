import { join } from 'node:path';
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
