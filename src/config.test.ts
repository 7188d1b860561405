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
    expect(loadConfig({ CACHESTORE_BACKUP_STORAGE: 'local' }).backupStorage).toBe('local');
    expect(() => loadConfig({ CACHESTORE_BACKUP_STORAGE: 's3' })).toThrow(
      new ConfigError("CACHESTORE_BACKUP_STORAGE must be local (a directory, CACHESTORE_BACKUP_DIR); no object store is built yet, got 's3'"),
    );
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
