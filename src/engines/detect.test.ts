import { mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectEngines, engineDetector, engineVersionId } from './detect.js';

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

  it('runs the binaries again only when a file it reads changed (a package upgrade puts new files in place)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'engines-'));
    try {
      const runs = join(dir, 'runs');
      // The real redis-server behind a script that counts how often it is asked its version, and
      // reports the patch written in the script (as a new binary would).
      const install = async (patch: string) => {
        const script = `#!/bin/sh\necho x >> ${runs}\n/usr/bin/redis-server --version | sed 's/v=[0-9.]*/v=${patch}/'\n`;
        await writeFile(join(dir, 'redis-server.new'), script, { mode: 0o755 });
        await rename(join(dir, 'redis-server.new'), join(dir, 'redis-server'));
      };
      const count = () => readFile(runs, 'utf8').then((t) => t.split('\n').filter(Boolean).length, () => 0);
      await install('7.0.98');
      await symlink('/usr/bin/redis-sentinel', join(dir, 'redis-sentinel'));
      const detect = engineDetector(dir);
      expect((await detect()).map((e) => e.version.softwareVersion)).toEqual(['7.0.98']);
      expect(await detect()).toHaveLength(1);
      expect(await count()).toBe(1);
      await install('7.0.99');
      expect((await detect()).map((e) => e.version.softwareVersion)).toEqual(['7.0.99']);
      expect(await detect()).toHaveLength(1);
      expect(await count()).toBe(2);
      // An engine that appears is found at the next look; one that goes is no longer offered.
      await symlink('/usr/bin/valkey-server', join(dir, 'valkey-server'));
      await symlink('/usr/bin/valkey-sentinel', join(dir, 'valkey-sentinel'));
      expect((await detect()).map((e) => e.version.engine)).toEqual(['redis', 'valkey']);
      await rm(join(dir, 'redis-sentinel'));
      expect((await detect()).map((e) => e.version.engine)).toEqual(['valkey']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
