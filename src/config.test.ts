import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_K8S_IMAGES, loadConfig } from './config.js';

describe('driver configuration', () => {
  it('is the local driver unless CACHESTORE_DRIVER says kubernetes, and refuses other names', () => {
    expect(loadConfig({}).driver).toBe('local');
    expect(loadConfig({ CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24' }).driver).toBe('kubernetes');
    expect(() => loadConfig({ CACHESTORE_DRIVER: 'docker' })).toThrow(new ConfigError("CACHESTORE_DRIVER must be local or kubernetes, got 'docker'"));
  });

  it('keeps backups in a local directory unless told otherwise, and refuses a storage that is not built', () => {
    expect(loadConfig({}).backupStorage).toBe('local');
    expect(loadConfig({}).s3).toBeUndefined();
    expect(loadConfig({ CACHESTORE_BACKUP_STORAGE: 'local' }).backupStorage).toBe('local');
    expect(() => loadConfig({ CACHESTORE_BACKUP_STORAGE: 'gcs' })).toThrow(
      new ConfigError("CACHESTORE_BACKUP_STORAGE must be local (a directory, CACHESTORE_BACKUP_DIR) or s3 (an S3-compatible object store, CACHESTORE_S3_*), got 'gcs'"),
    );
  });

  it('reads the object store settings, with path-style addressing by default only for an endpoint of its own', () => {
    expect(() => loadConfig({ CACHESTORE_BACKUP_STORAGE: 's3' })).toThrow(new ConfigError('CACHESTORE_BACKUP_STORAGE=s3 needs CACHESTORE_S3_BUCKET (the bucket backups go to)'));
    const aws = loadConfig({ CACHESTORE_BACKUP_STORAGE: 's3', CACHESTORE_S3_BUCKET: 'my-backups' });
    expect(aws.s3).toEqual({ bucket: 'my-backups', endpoint: undefined, region: 'us-east-1', prefix: '', forcePathStyle: false, accessKeyId: undefined, secretAccessKey: undefined });
    expect(aws.logShipMs).toBe(5000);
    const minio = loadConfig({
      CACHESTORE_BACKUP_STORAGE: 's3',
      CACHESTORE_S3_BUCKET: 'my-backups',
      CACHESTORE_S3_ENDPOINT: 'http://minio.internal:9000',
      CACHESTORE_S3_REGION: 'eu-west-1',
      CACHESTORE_S3_PREFIX: '/cachestore/prod',
      CACHESTORE_S3_ACCESS_KEY_ID: 'AKIA',
      CACHESTORE_S3_SECRET_ACCESS_KEY: 'the-secret',
      CACHESTORE_LOG_SHIP_MS: '1000',
    });
    expect(minio.s3).toEqual({ bucket: 'my-backups', endpoint: 'http://minio.internal:9000', region: 'eu-west-1', prefix: 'cachestore/prod/', forcePathStyle: true, accessKeyId: 'AKIA', secretAccessKey: 'the-secret' });
    expect(minio.logShipMs).toBe(1000);
    const base = { CACHESTORE_BACKUP_STORAGE: 's3', CACHESTORE_S3_BUCKET: 'my-backups' };
    expect(loadConfig({ ...base, CACHESTORE_S3_ENDPOINT: 'http://x:9000', CACHESTORE_S3_FORCE_PATH_STYLE: 'false' }).s3?.forcePathStyle).toBe(false);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(/CACHESTORE_S3_FORCE_PATH_STYLE must be true or false, got 'yes'/);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_BUCKET: 'My_Bucket' })).toThrow(/CACHESTORE_S3_BUCKET must be an S3 bucket name/);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_ENDPOINT: 'minio:9000' })).toThrow(/CACHESTORE_S3_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    // A URL with credentials in it is refused without repeating them.
    expect(() => loadConfig({ ...base, CACHESTORE_S3_ENDPOINT: 'http://AKIA:the-secret@minio:9000' })).toThrow(/got 'http:\/\/minio:9000'/);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_ACCESS_KEY_ID: 'AKIA' })).toThrow(/set both CACHESTORE_S3_ACCESS_KEY_ID and CACHESTORE_S3_SECRET_ACCESS_KEY, or neither/);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_SECRET_ACCESS_KEY: 'the-secret' })).toThrow(/set both/);
    expect(() => loadConfig({ ...base, CACHESTORE_S3_PREFIX: 'a b' })).toThrow(/CACHESTORE_S3_PREFIX may hold only/);
  });

  it('takes Service CIDR subnets for kubernetes only, and wants the loopback default replaced there', () => {
    expect(() => loadConfig({ CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24' })).toThrow(/must lie inside 127\.0\.0\.0\/8 for the local driver/);
    expect(() => loadConfig({ CACHESTORE_DRIVER: 'kubernetes' })).toThrow(/subnet local-subnet \(127\.77\.0\.0\/16\) is a loopback range; with CACHESTORE_DRIVER=kubernetes set CACHESTORE_SUBNETS=local-subnet=/);
    const c = loadConfig({ CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24,b=10.96.201.0/24' });
    expect(c.subnets.map((s) => `${s.id}=${s.cidr}`)).toEqual(['local-subnet=10.96.200.0/24', 'b=10.96.201.0/24']);
  });

  it('reads the engine images, namespace and storage class', () => {
    const base = { CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24' };
    expect(loadConfig(base).kubernetes).toEqual({ namespace: undefined, images: DEFAULT_K8S_IMAGES, storageClass: undefined });
    const c = loadConfig({ ...base, CACHESTORE_K8S_IMAGES: 'valkey=registry.local/valkey:8.0.1', CACHESTORE_K8S_NAMESPACE: 'caches', CACHESTORE_K8S_STORAGE_CLASS: 'ssd' });
    expect(c.kubernetes).toEqual({ namespace: 'caches', images: { redis: DEFAULT_K8S_IMAGES.redis, valkey: 'registry.local/valkey:8.0.1' }, storageClass: 'ssd' });
    expect(() => loadConfig({ ...base, CACHESTORE_K8S_IMAGES: 'memcached=memcached:1' })).toThrow(/CACHESTORE_K8S_IMAGES entries look like/);
    expect(() => loadConfig({ ...base, CACHESTORE_K8S_IMAGES: 'redis' })).toThrow(/CACHESTORE_K8S_IMAGES entries look like/);
  });
});
