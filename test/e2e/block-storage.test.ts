// Real data volumes and Set Block Storage Size, as root with loop devices: each data node's data
// directory is a mounted XFS filesystem of its DATA block storage size (scaled to 20 MiB per GB,
// CACHESTORE_VOLUME_MIB_PER_GB, so tests cost little disk); a resize grows every data node's
// volume online with the same engine process answering; bad sizes are refused naming the
// current size with nothing changed; terminate leaves no mount, loop device or file; a restart
// of the service and a simulated reboot (volumes unmounted, engines killed) mount them again
// before the engines start; and an engine that fills its disk refuses writes, Show Cluster says
// so (a standalone engine on both engines, and an HA primary: the cluster ERROR, no failover),
// and growing the volume makes it write again with no acknowledged write lost.
import { readdir, readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountAt, parseMountInfo } from '../../src/drivers/local/volumes.js';
import { asTenant, nextSecond } from '../support/dataset.js';
import { killEnginesUnder, onePid } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { completes, createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { fillVolume, loopDevicesUnder, mountsUnder, unmountVolumesUnder, writeUntilRefused } from '../support/volumes.js';

const MIB_PER_GB = 20;
const MiB = 1024 * 1024;
type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

let h: Harness;
let engines: Engine[];
const engine = (kind: 'Redis' | 'Valkey') => engines.find((e) => e.product_image_type.startsWith(kind))!;

beforeAll(async () => {
  h = await startHarness({
    CACHESTORE_VOLUMES: 'auto',
    CACHESTORE_VOLUME_MIB_PER_GB: String(MIB_PER_GB),
    CACHESTORE_RECONCILE_INTERVAL_MS: '300',
    CACHESTORE_HEAL_AFTER_MS: '200',
  });
  engines = await engineVersions(h.client);
  expect(h.service.app).toBeDefined();
  // A start on a machine shared with other test runs can take long; the harness holds no fixed delays.
}, 180_000);
afterAll(async () => {
  // h.stop() unmounts and detaches everything under the data dir, also after a failure.
  await h?.stop();
});

async function show(id: string): Promise<any> {
  const r = await h.client.get(`/v1/clusters/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

async function events(id: string): Promise<string[]> {
  const r = await h.client.get(`/v1/clusters/${id}/events`);
  expect(r.status).toBe(200);
  return r.body.contents.map((e: { message: string }) => e.message);
}

const dataDirOf = (instanceId: string) => join(h.dataDir, 'engines', instanceId, 'data');

/** The mount on a node's data dir: its device's size and the filesystem's. */
async function volumeOf(instanceId: string): Promise<{ fsType: string; source: string; deviceBytes: number; fsBytes: number } | null> {
  const dir = dataDirOf(instanceId);
  const m = mountAt(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), dir);
  if (!m) return null;
  const sectors = Number((await readFile(`/sys/class/block/${m.source.replace('/dev/', '')}/size`, 'utf8')).trim());
  const s = await statfs(dir);
  return { fsType: m.fsType, source: m.source, deviceBytes: sectors * 512, fsBytes: s.blocks * s.bsize };
}

/** Each data node's data dir is a loop-mounted XFS volume of `gb` (scaled), and the engine works in it. */
async function expectVolumes(instanceIds: string[], gb: number): Promise<void> {
  for (const id of instanceIds) {
    const v = await volumeOf(id);
    expect(v, `instance ${id} has no volume mounted on its data dir`).not.toBeNull();
    expect(v!.fsType).toBe('xfs');
    expect(v!.source).toMatch(/^\/dev\/loop\d+$/);
    expect(v!.deviceBytes).toBe(gb * MIB_PER_GB * MiB);
    // The filesystem spans the device but for its metadata (the 64 MiB log, mostly).
    expect(v!.fsBytes).toBeGreaterThan(v!.deviceBytes - 80 * MiB);
    // The engine's append-only files are on it (same device as the mount point).
    const [dirDev, aofDev] = await Promise.all([stat(dataDirOf(id)), stat(join(dataDirOf(id), 'appendonlydir'))]);
    expect(aofDev.dev).toBe(dirDev.dev);
    expect(dirDev.dev).not.toBe((await stat(join(h.dataDir, 'engines', id))).dev);
  }
}

/** Instance ids (Show Cluster does not show them): the data nodes, or the SENTINEL instance. */
async function instanceIds(clusterId: string, kind: 'data' | 'sentinel' = 'data'): Promise<string[]> {
  const d = await h.service.store.clusterDetail(null, clusterId);
  return d!.instances.filter((i) => (i.roleType === 'SENTINEL') === (kind === 'sentinel')).map((i) => i.id);
}
/** An error's detail as text (field errors come as a list). */
const text = (e: { detail: unknown }) => (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail));
const dataStorage = (c: any, role = 'MASTER') => c.instance_groups.find((g: any) => g.role_type === role).block_storage_groups.find((b: any) => b.role_type === 'DATA');
const resize = (storageId: string, size: number) => h.client.post(`/v1/block-storage-groups/${storageId}/resize`, { size_gb: size });

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('standalone (Redis OSS)', () => {
  let id: string;
  let node: string;

  it('runs its data node on a volume of its DATA size', async () => {
    id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engine('Redis'), { name: 'bsstandalone' }))).id;
    const c = await show(id);
    node = (await instanceIds(id))[0];
    await expectVolumes([node], 56);
    await asTenant(c.instance_groups[0].instances[0].service_ip_address, 6378, (r) => r.set('before', 'resize'));
  });

  it('grows the volume online: same engine process, new size, Show Cluster shows it', async () => {
    const c = await show(id);
    const pid = await onePid(node);
    await completes(h.client, 'POST', `/v1/block-storage-groups/${dataStorage(c).id}/resize`, { size_gb: 64 });
    await expectVolumes([node], 64);
    expect(await onePid(node)).toBe(pid);
    expect(dataStorage(await show(id)).size_gb).toBe(64);
    expect(await asTenant(c.instance_groups[0].instances[0].service_ip_address, 6378, (r) => r.get('before'))).toBe('resize');
    expect((await events(id)).some((e) => /DATA volume of instance .* grown 56 GB -> 64 GB online.*engine kept running/.test(e))).toBe(true);
  });

  it('refuses shrinking, the same size, OS volumes and unknown groups, changing nothing', async () => {
    const c = await show(id);
    const data = dataStorage(c);
    for (const size of [56, 64]) {
      const e = expectErrorShape(await resize(data.id, size), 400);
      expect(text(e)).toContain('is 64 GB now');
      expect(text(e)).toContain(size === 64 ? 'is its current size' : 'would shrink it');
    }
    const os = c.instance_groups[0].block_storage_groups.find((b: any) => b.role_type === 'OS');
    expect(text(expectErrorShape(await resize(os.id, 128), 400))).toMatch(/OS volume .* only DATA volumes/);
    expectErrorShape(await resize('0123456789abcdef0123456789abcdef', 128), 404, 'NotFound');
    // Outside the contract's steps: the contract's own validation.
    expectErrorShape(await resize(data.id, 65), 400);
    expectErrorShape(await resize(data.id, 5128), 400);
    expect(dataStorage(await show(id)).size_gb).toBe(64);
    await expectVolumes([node], 64);
    expect((await show(id)).service_state).toBe('RUNNING');
  });

  it('grows a STOPPED cluster\'s volume, which stays STOPPED and starts on it', async () => {
    await completes(h.client, 'POST', `/v1/clusters/${id}/stop`);
    await completes(h.client, 'POST', `/v1/block-storage-groups/${dataStorage(await show(id)).id}/resize`, { size_gb: 72 });
    expect((await show(id)).service_state).toBe('STOPPED');
    await expectVolumes([node], 72);
    await completes(h.client, 'POST', `/v1/clusters/${id}/start`);
    const c = await show(id);
    expect([c.service_state, dataStorage(c).size_gb]).toEqual(['RUNNING', 72]);
    expect(await asTenant(c.instance_groups[0].instances[0].service_ip_address, 6378, (r) => r.get('before'))).toBe('resize');
  });

  it('terminate leaves no mount, no loop device and no volume file', async () => {
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
    expect(await volumeOf(node)).toBeNull();
    expect((await mountsUnder(join(h.dataDir, 'engines', node))).length).toBe(0);
    expect(await loopDevicesUnder(join(h.dataDir, 'engines', node))).toEqual([]);
    await expect(stat(join(h.dataDir, 'engines', node, 'data.img'))).rejects.toThrow(/ENOENT/);
  });
});

describe('HA (Valkey, 1 replica)', () => {
  let id: string;
  let nodes: string[];
  let ip: string;

  it('gives every data node a volume; the SENTINEL group has none to resize', async () => {
    id = (await completes(h.client, 'POST', '/v1/clusters', haBody(engine('Valkey'), 1, { name: 'bsha' }))).id;
    const c = await show(id);
    nodes = await instanceIds(id);
    expect(nodes).toHaveLength(2);
    await expectVolumes(nodes, 56);
    expect(await volumeOf((await instanceIds(id, 'sentinel'))[0])).toBeNull();
    expect(text(expectErrorShape(await resize(dataStorage(c, 'SENTINEL').id, 64), 400))).toMatch(/SENTINEL group .* stores no data/);
    ip = c.instance_groups[0].instances.find((i: any) => i.role_type === 'MASTER').service_ip_address;
    await asTenant(ip, 6378, (r) => r.set('kept', 'across reboots'));
  });

  it('grows every data node online, each engine keeping its process', async () => {
    const pids = await Promise.all(nodes.map(onePid));
    await completes(h.client, 'POST', `/v1/block-storage-groups/${dataStorage(await show(id), 'MASTER_REPLICA').id}/resize`, { size_gb: 72 });
    await expectVolumes(nodes, 72);
    expect(await Promise.all(nodes.map(onePid))).toEqual(pids);
    const c = await show(id);
    expect(dataStorage(c, 'MASTER_REPLICA').size_gb).toBe(72);
    expect(c.service_state).toBe('RUNNING');
  });

  it('a restart of the service keeps volumes and engines', async () => {
    const pids = await Promise.all(nodes.map(onePid));
    await h.restartService();
    await expectVolumes(nodes, 72);
    expect(await Promise.all(nodes.map(onePid))).toEqual(pids);
  });

  it('after a reboot (volumes unmounted, engines killed) the volumes are mounted before the engines start, data kept', async () => {
    await h.closeService();
    await killEnginesUnder(h.dataDir);
    await unmountVolumesUnder(h.dataDir);
    for (const n of nodes) expect(await volumeOf(n)).toBeNull();
    await h.restartService();
    await waitFor('the cluster RUNNING again with both data nodes', async () => {
      const c = await show(id);
      return c.service_state === 'RUNNING' && c.instance_groups[0].instances.every((i: any) => i.service_state === 'RUNNING');
    }, 30_000);
    await expectVolumes(nodes, 72);
    // Nothing was written beside the volume, on the bare mount point: the dataset is the one on it.
    const primary = (await show(id)).instance_groups[0].instances.find((i: any) => i.role_type === 'MASTER').service_ip_address;
    expect(await asTenant(primary, 6378, (r) => r.get('kept'))).toBe('across reboots');
  });

  it('terminate leaves nothing mounted and no loop device', async () => {
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
    for (const n of nodes) {
      expect(await volumeOf(n)).toBeNull();
      expect(await loopDevicesUnder(join(h.dataDir, 'engines', n))).toEqual([]);
    }
  });
});

describe('restore (Redis OSS)', () => {
  it('the restored cluster runs on volumes of the size asked for, with the write log of the volume-backed source', async () => {
    const src = (await completes(h.client, 'POST', '/v1/clusters', createBody(engine('Redis'), { name: 'bssource' }))).id;
    const ip = (await show(src)).instance_groups[0].instances[0].service_ip_address;
    await asTenant(ip, 6378, (r) => r.set('in', 'backup'));
    await completes(h.client, 'POST', `/v1/clusters/${src}/backup-histories`);
    // Written after the backup: only the archived write log (on the node's own volume) holds it.
    await nextSecond();
    await asTenant(ip, 6378, (r) => r.set('after', 'backup'));
    // Every write logged up to the end of this second is restored.
    const at = Math.floor(Date.now() / 1000);
    // A live log covers only seconds that have ended.
    await nextSecond();
    const restored = (
      await completes(h.client, 'POST', `/v1/clusters/${src}/restore`, {
        name: 'bsrestored',
        instance_name_prefix: 'bsr',
        server_type_name: 'redis1v1m2',
        backup_recovery_time: new Date(at * 1000).toISOString(),
        block_storage_groups: [{ role_type: 'DATA', size_gb: 80 }],
      })
    ).id;
    const [node] = await instanceIds(restored);
    await expectVolumes([node], 80);
    const rip = (await show(restored)).instance_groups[0].instances[0].service_ip_address;
    expect(await asTenant(rip, 6378, (r) => r.mget('in', 'after'))).toEqual(['backup', 'backup']);
    for (const id of [restored, src]) await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
    expect(await loopDevicesUnder(join(h.dataDir, 'engines'))).toEqual([]);
  }, 120_000);
});

describe('a service that cannot mount volumes any more (Redis OSS)', () => {
  it('never starts an engine on the bare mount point; mounting again brings the data back', async () => {
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engine('Redis'), { name: 'bsnomount' }))).id;
    const [node] = await instanceIds(id);
    const ip = (await show(id)).instance_groups[0].instances[0].service_ip_address;
    await asTenant(ip, 6378, (r) => r.set('on', 'volume'));
    // A reboot, after which the service runs where it cannot mount (e.g. as another user).
    await h.closeService();
    await killEnginesUnder(h.dataDir);
    await unmountVolumesUnder(h.dataDir);
    h.config.volumes = 'off';
    try {
      await h.restartService();
      await waitFor('the failed start in the events', async () => (await events(id)).some((e) => /cannot mount it: CACHESTORE_VOLUMES=off/.test(e)));
      expect((await show(id)).service_state).toBe('ERROR');
      // Nothing was written on the bare mount point.
      expect(await readdir(dataDirOf(node))).toEqual([]);
    } finally {
      h.config.volumes = 'auto';
    }
    await h.restartService();
    await waitFor('the cluster RUNNING again', async () => (await show(id)).service_state === 'RUNNING', 30_000);
    await expectVolumes([node], 56);
    expect(await asTenant(ip, 6378, (r) => r.get('on'))).toBe('volume');
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
  }, 90_000);
});

describe.each(['Redis', 'Valkey'] as const)('a full disk (%s)', (kind) => {
  it('makes the engine refuse writes and the cluster ERROR; growing the volume makes it write again, nothing acknowledged lost', async () => {
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engine(kind), { name: `bsfull${kind}` }))).id;
    const c = await show(id);
    const node = (await instanceIds(id))[0];
    const ip = c.instance_groups[0].instances[0].service_ip_address;
    const pid = await onePid(node);
    await expectVolumes([node], 56);
    // Most of the 1120 MiB taken at once (as a grown write log would), so the engine's own
    // writes reach the end in seconds rather than minutes.
    await fillVolume(dataDirOf(node), 24 * MiB);
    const { acked, refusal } = await writeUntilRefused(ip, 'k');
    expect(refusal).toMatch(/MISCONF/);
    expect(acked.length).toBeGreaterThan(0);

    await waitFor('Show Cluster ERROR for the full disk', async () => (await show(id)).service_state === 'ERROR');
    const said = await events(id);
    // The event carries the figures and the engine's own words from its log.
    expect(said.some((e) => /data volume is full \(\d+\.\d MiB free of \d+\.\d MiB\).*refuses writes.*the engine says: .*(No space left on device|Short write while writing to the AOF file)/.test(e)), said.join('\n')).toBe(true);
    expect((await show(id)).instance_groups[0].instances[0].service_state).toBe('ERROR');

    await completes(h.client, 'POST', `/v1/block-storage-groups/${dataStorage(c).id}/resize`, { size_gb: 64 });
    await expectVolumes([node], 64);
    expect(await onePid(node)).toBe(pid);
    expect((await show(id)).service_state).toBe('RUNNING');
    await asTenant(ip, 6378, async (r) => {
      expect(await r.set('after', 'grow')).toBe('OK');
      expect(await r.exists(...acked)).toBe(acked.length);
    });
    await waitFor('the event that the disk has room again', async () => (await events(id)).some((e) => /has room again/.test(e)));
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
    expect(await volumeOf(node)).toBeNull();
  }, 120_000);
});

describe('a full disk on an HA primary (Redis OSS)', () => {
  it('the primary and the cluster are ERROR while it refuses writes; growing the group makes it write again', async () => {
    const id = (await completes(h.client, 'POST', '/v1/clusters', haBody(engine('Redis'), 1, { name: 'bsfullha' }))).id;
    const c = await show(id);
    const primary = c.instance_groups[0].instances.find((i: any) => i.role_type === 'MASTER');
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const node = detail.instances.find((i) => i.roleType === 'MASTER')!.id;
    const pids = await Promise.all((await instanceIds(id)).map(onePid));
    await fillVolume(dataDirOf(node), 24 * MiB);
    const { acked, refusal } = await writeUntilRefused(primary.service_ip_address, 'h');
    expect(refusal).toMatch(/MISCONF/);
    await waitFor('Show Cluster ERROR for the primary\'s full disk', async () => {
      const s = await show(id);
      return s.service_state === 'ERROR' && s.instance_groups[0].instances.find((i: any) => i.name === primary.name).service_state === 'ERROR';
    });
    const said = await events(id);
    expect(said.some((e) => /cluster is ERROR \(the primary's data volume is full\)/.test(e)), said.join('\n')).toBe(true);
    // The replica, whose disk has room, is not called full; no failover happened.
    expect((await show(id)).instance_groups[0].instances.find((i: any) => i.role_type === 'REPLICA').service_state).toBe('RUNNING');

    await completes(h.client, 'POST', `/v1/block-storage-groups/${dataStorage(c, 'MASTER_REPLICA').id}/resize`, { size_gb: 64 });
    await expectVolumes(await instanceIds(id), 64);
    expect(await Promise.all((await instanceIds(id)).map(onePid))).toEqual(pids);
    const after = await show(id);
    expect(after.service_state).toBe('RUNNING');
    expect(after.instance_groups[0].instances.find((i: any) => i.role_type === 'MASTER').name).toBe(primary.name);
    await asTenant(primary.service_ip_address, 6378, async (r) => {
      expect(await r.set('after', 'grow')).toBe('OK');
      expect(await r.exists(...acked)).toBe(acked.length);
    });
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
  }, 120_000);
});

describe('without real volumes (CACHESTORE_VOLUMES=off)', () => {
  let off: Harness;
  beforeAll(async () => {
    off = await startHarness({ CACHESTORE_VOLUMES: 'off' });
  }, 180_000);
  afterAll(async () => {
    await off?.stop();
  });

  it('says so in the events, records the new size, and mounts nothing', async () => {
    const redis = (await engineVersions(off.client)).find((e) => e.product_image_type.startsWith('Redis'))!;
    const id = (await completes(off.client, 'POST', '/v1/clusters', createBody(redis, { name: 'bsoff' }))).id;
    const said = async () => ((await off.client.get(`/v1/clusters/${id}/events`)).body.contents as Array<{ message: string }>).map((e) => e.message);
    expect((await said()).some((e) => /data volumes are NOT real: CACHESTORE_VOLUMES=off; the DATA block storage size is recorded only/.test(e))).toBe(true);
    const c = (await off.client.get(`/v1/clusters/${id}`)).body;
    await completes(off.client, 'POST', `/v1/block-storage-groups/${dataStorage(c).id}/resize`, { size_gb: 64 });
    expect(dataStorage((await off.client.get(`/v1/clusters/${id}`)).body).size_gb).toBe(64);
    expect((await said()).some((e) => /56 GB -> 64 GB recorded only: data volumes are not real here \(CACHESTORE_VOLUMES=off\)/.test(e))).toBe(true);
    expect(await mountsUnder(off.dataDir)).toEqual([]);
    // The refusals hold all the same.
    expect(text(expectErrorShape(await off.client.post(`/v1/block-storage-groups/${dataStorage(c).id}/resize`, { size_gb: 56 }), 400))).toContain('is 64 GB now');
  });
});
