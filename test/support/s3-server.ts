// An S3-compatible store for tests: s3rver (npm), which keeps objects in a directory. It is a
// STAND-IN for a real object store (MinIO, Ceph RGW, AWS S3), none of which can run here. It
// listens on 127.0.0.1 at a port the kernel picks, and `stop()` closes it and removes its files.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { S3Bucket } from '../../src/backups/s3-bucket.js';
import type { S3Config } from '../../src/config.js';

/** s3rver's built-in account. */
export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3 {
  endpoint: string;
  bucket: string;
  directory: string;
  /** What CACHESTORE_S3_* would set, with `prefix`. */
  settings(prefix?: string): S3Config;
  /** The CACHESTORE_* variables for a whole service. */
  env(prefix?: string): Record<string, string>;
  /** A client of the bucket, for a test to look at (and tamper with) what is stored. */
  bucketClient(prefix?: string): S3Bucket;
  stop(): Promise<void>;
}

export async function startTestS3(bucket = 'cachestore-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const clients: S3Bucket[] = [];
  let addr;
  try {
    addr = await server.run();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const settings = (prefix = ''): S3Config => ({ bucket, endpoint, region: 'us-east-1', prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix, forcePathStyle: true, ...S3RVER_KEY });
  return {
    endpoint,
    bucket,
    directory,
    settings,
    env: (prefix = '') => ({
      CACHESTORE_BACKUP_STORAGE: 's3',
      CACHESTORE_S3_BUCKET: bucket,
      CACHESTORE_S3_ENDPOINT: endpoint,
      CACHESTORE_S3_PREFIX: prefix,
      CACHESTORE_S3_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId,
      CACHESTORE_S3_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey,
    }),
    bucketClient: (prefix = '') => {
      const c = new S3Bucket(settings(prefix));
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
