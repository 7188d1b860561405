// Snapshots (the base of an AOF rewrite, as backups take them) and their verification, against
// real engines (both Redis OSS and Valkey).
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstalledEngines } from '../drivers/local/installed-engines.js';
import { LocalDriver } from '../drivers/local/local-driver.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import { killEnginesUnder } from '../../test/support/engines.js';
import { testSubnet } from '../../test/support/harness.js';
import { withClient } from './replication.js';
import { detectEngines, type InstalledEngine } from './detect.js';
import { parseManifest, rewriteAof } from './aof.js';
import { sweepScratchEngines, verifyRdb } from './snapshot.js';

let dir: string;
let engines: InstalledEngine[];
let driver: LocalDriver;
const base = testSubnet().replace(/\.0\/24$/, '');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snapshot-test-'));
  engines = await detectEngines();
  const installed = new InstalledEngines(process.env.PATH ?? '');
  await installed.read();
  driver = new LocalDriver(dir, installed);
});
afterAll(async () => {
  await killEnginesUnder(dir);
  await rm(dir, { recursive: true, force: true });
});

describe.each(['redis', 'valkey'] as const)('%s snapshots', (engine) => {
  const node: NodeSpec = {
    nodeId: `snap-${engine}`, instanceId: `snap-${engine}`, clusterId: 'c', kind: 'data', engine,
    ip: `${base}.${engine === 'redis' ? 11 : 12}`, port: 6378, password: 'Secr3t!pass', serviceSecret: 's'.repeat(64), maxMemoryBytes: 1e9, ioThreads: 1, replicaOf: null,
  };
  const ep = endpointOf(node);
  const bin = () => engines.find((e) => e.version.engine === engine)!.binaries;

  it('takes a consistent snapshot that loads with every key, and gives equal data an equal digest', async () => {
    await driver.configure(node);
    await driver.launch(node);
    await driver.waitReady(node, 15_000);
    await withClient(ep, async (c) => {
      for (let i = 0; i < 500; i++) await c.set(`k${i}`, `v${i}`);
      await c.rpush('list', 'a', 'b', 'c');
      await c.select(3);
      await c.set('other-db', '1');
    });
    const first = await rewriteAof(ep);
    const copy1 = join(dir, `${engine}-1.rdb`);
    await copyFile(first.base, copy1);
    // The rewrite starts a new, empty increment: every later write is logged there.
    expect(first.incr).toMatch(/\.incr\.aof$/);
    expect((await readFile(first.incr!)).length).toBe(0);
    const v1 = await verifyRdb(copy1, bin());
    expect(v1.keys).toBe(502);
    expect(v1.digest).toMatch(/^[0-9a-f]{40}$/);

    // The same data saved again: same digest. One more key: another digest.
    const copy2 = join(dir, `${engine}-2.rdb`);
    await copyFile((await rewriteAof(ep)).base, copy2);
    expect((await verifyRdb(copy2, bin())).digest).toBe(v1.digest);
    await withClient(ep, (c) => c.set('k-new', 'x'));
    const before = await rewriteAof(ep);
    expect(before.previousIncrIno).not.toBeNull();
    const copy3 = join(dir, `${engine}-3.rdb`);
    await copyFile(before.base, copy3);
    const v3 = await verifyRdb(copy3, bin());
    expect(v3.keys).toBe(503);
    expect(v3.digest).not.toBe(v1.digest);
  });

  it('reads the AOF manifest the engine writes', () => {
    expect(parseManifest('file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.2.incr.aof seq 2 type h\nfile appendonly.aof.4.incr.aof seq 4 type i\n')).toEqual([
      { name: 'appendonly.aof.3.base.rdb', seq: 3, type: 'b' },
      { name: 'appendonly.aof.2.incr.aof', seq: 2, type: 'h' },
      { name: 'appendonly.aof.4.incr.aof', seq: 4, type: 'i' },
    ]);
  });

  it('rejects a damaged snapshot', async () => {
    const good = await readFile(join(dir, `${engine}-1.rdb`));
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    const damaged = join(dir, `${engine}-damaged.rdb`);
    await writeFile(damaged, bad);
    await expect(verifyRdb(damaged, bin())).rejects.toThrow(/damaged|could not load/);
  });
});

describe('the sweep of scratch verification directories (at start)', () => {
  it('leaves a directory a live service is still making, and removes those of dead services', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'sweep-test-'));
    try {
      const { mkdir, utimes } = await import('node:fs/promises');
      const { existsSync } = await import('node:fs');
      // Just made: no owner.pid yet (the service writes it next).
      await mkdir(join(tmp, 'cachestore-verify-new'));
      // A crash between the two, long ago.
      await mkdir(join(tmp, 'cachestore-verify-old'));
      const past = new Date(Date.now() - 10 * 60_000);
      await utimes(join(tmp, 'cachestore-verify-old'), past, past);
      // Owned by a live process (this one), and by one that is gone.
      await mkdir(join(tmp, 'cachestore-verify-live'));
      await writeFile(join(tmp, 'cachestore-verify-live', 'owner.pid'), String(process.pid));
      await mkdir(join(tmp, 'cachestore-verify-dead'));
      await writeFile(join(tmp, 'cachestore-verify-dead', 'owner.pid'), '999999999');
      expect(await sweepScratchEngines(tmp)).toBe(2);
      expect(['new', 'old', 'live', 'dead'].filter((n) => existsSync(join(tmp, `cachestore-verify-${n}`)))).toEqual(['new', 'live']);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
