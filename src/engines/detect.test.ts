import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectEngines, engineVersionId } from './detect.js';

describe('engine detection', () => {
  let onlyRedis: string;
  let serverOnly: string;
  beforeAll(async () => {
    onlyRedis = await mkdtemp(join(tmpdir(), 'engines-'));
    await symlink('/usr/bin/redis-server', join(onlyRedis, 'redis-server'));
    await symlink('/usr/bin/redis-sentinel', join(onlyRedis, 'redis-sentinel'));
    serverOnly = await mkdtemp(join(tmpdir(), 'engines-'));
    await symlink('/usr/bin/valkey-server', join(serverOnly, 'valkey-server'));
  });
  afterAll(async () => {
    await rm(onlyRedis, { recursive: true, force: true });
    await rm(serverOnly, { recursive: true, force: true });
  });

  it('offers both engines found on this machine, with versions read from the binaries', async () => {
    const found = await detectEngines(process.env.PATH);
    expect(found.map((e) => e.version.productImageType).sort()).toEqual(['Redis OSS Sentinel', 'Valkey Sentinel']);
    for (const e of found) expect(e.version.softwareVersion).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('does not offer an engine that is missing, or whose Sentinel is missing', async () => {
    expect((await detectEngines(onlyRedis)).map((e) => e.version.engine)).toEqual(['redis']);
    expect(await detectEngines(serverOnly)).toEqual([]);
    expect(await detectEngines('/nonexistent')).toEqual([]);
  });

  it('gives a version the same 32-hex id everywhere', async () => {
    const [redis] = await detectEngines(onlyRedis);
    expect(redis.version.id).toBe(engineVersionId('Redis OSS Sentinel', redis.version.softwareVersion));
    expect(redis.version.id).toMatch(/^[0-9a-f]{32}$/);
    expect(engineVersionId('Redis OSS Sentinel', '7.0.15')).not.toBe(engineVersionId('Valkey Sentinel', '7.0.15'));
  });
});
