import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** s3rver's fixed credentials: any non-empty pair is accepted. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An S3-compatible server (s3rver) on a loopback port with one empty bucket, kept in a temporary folder. */
export interface S3rverHandle {
  port: number;
  endpoint: string;
  close(): Promise<void>;
}

export async function startS3rver(bucket: string): Promise<S3rverHandle> {
  const directory = mkdtempSync(join(tmpdir(), 'hh-s3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The gateway's environment for S3 storage at `storageUrl` (`s3://bucket/prefix`) served from `endpoint`. */
export function s3StorageEnv(storageUrl: string, endpoint: string): Record<string, string> {
  return {
    STORAGE_URL: storageUrl,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  };
}
