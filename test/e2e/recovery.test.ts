// Clusters that come back by themselves, on both engines: a host reboot (the service and every
// engine and Sentinel SIGKILLed, the service started again), a standalone engine SIGKILLed under
// write load, an HA cluster whose every data node dies while the service runs (and a dead
// Sentinel), the primary chosen by the write logs alone, and a crash loop (an engine that
// refuses its data) that ends in ERROR with the engine's own log lines.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import type { SignedClient } from '../support/client.js';
import { connectTo, fill, PASSWORD, readAll } from '../support/dataset.js';
import { enginePids, killEnginesUnder, onePid, sigkillEngine } from '../support/engines.js';
import { createBody, engineVersions, haBody, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { lostBeyondAofDelay, missingKeys, startWriter, sentinelTargetOf, waitFor, type SentinelTarget } from '../support/writer.js';
import { sentinelMaster, withClient } from '../../src/engines/replication.js';

type Inst = { name: string; role_type: string; service_ip_address: string; service_state: string };
const PRODUCTS = ['Redis OSS Sentinel', 'Valkey Sentinel'] as const;

function instances(body: any): Inst[] {
  return body.instance_groups.flatMap((g: any) => g.instances);
}
const target = (body: any): SentinelTarget => sentinelTargetOf(body, PASSWORD);
async function events(client: SignedClient, id: string): Promise<string[]> {
  return (await client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
}
/** waitFor, and on timeout the cluster as the API shows it and its events, to tell why. */
async function waitCluster<T>(client: SignedClient, id: string, what: string, fn: (body: any) => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  let last: any;
  try {
    return await waitFor(what, async () => fn((last = (await client.get(`/v1/clusters/${id}`)).body)), timeoutMs, 100);
  } catch (err) {
    const ev = await events(client, id);
    throw new Error(`${(err as Error).message}; cluster ${last?.service_state} ${JSON.stringify(last && instances(last).map((i) => [i.name, i.role_type, i.service_state]))}; events:\n${ev.slice(-15).join('\n')}`);
  }
}
async function create(client: SignedClient, body: object): Promise<string> {
  const r = await client.post('/v1/clusters', body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
  return r.body.resource.id;
}
/** The node id (directory under engines/) of the data node listening on ip:6378. */
async function dataNodeId(dataDir: string, ip: string): Promise<string> {
  for (const id of await readdir(join(dataDir, 'engines'))) {
    const conf = await readFile(join(dataDir, 'engines', id, 'engine.conf'), 'utf8').catch(() => '');
    if (conf.includes(`bind ${ip}\n`) && conf.includes('port 6378\n')) return id;
  }
  throw new Error(`no data node on ${ip}`);
}
async function killNode(dataDir: string, ip: string): Promise<void> {
  await sigkillEngine(await dataNodeId(dataDir, ip));
}

describe.each(PRODUCTS)('%s: a host reboot', (product) => {
  const cs = useChildServices('cachestore-reboot-');
  const tag = product.startsWith('Redis') ? 'r' : 'v';

  it('brings every RUNNING cluster back with its data, the HA primary the node with the most data, and keeps STOPPED ones stopped', async () => {
    // Sentinel's down-after gets margin on a machine busy with other test files (README, HA).
    const env = { CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' };
    let svc = await cs.start(env);
    const engine = (await engineVersions(svc.client)).find((e) => e.product_image_type === product)!;
    const soloId = await create(svc.client, createBody(engine, { name: `rebootsolo${tag}` }));
    const haId = await create(svc.client, haBody(engine, 2, { name: `rebootha${tag}` }));
    const stoppedId = await create(svc.client, createBody(engine, { name: `rebootstopped${tag}` }));
    const stop = await svc.client.post(`/v1/clusters/${stoppedId}/stop`);
    expect(await svc.client.waitRequest(stop.body.request_id)).toBe('COMPLETED');
    const soloIp = instances((await svc.client.get(`/v1/clusters/${soloId}`)).body)[0].service_ip_address;
    const stoppedIp = instances((await svc.client.get(`/v1/clusters/${stoppedId}`)).body)[0].service_ip_address;
    await fill(soloIp, 'solo', 500);
    const soloData = await readAll(soloIp);
    const ha = (await svc.client.get(`/v1/clusters/${haId}`)).body;
    const oldPrimary = instances(ha).find((i) => i.role_type === 'MASTER')!;

    // The service dies first, so its records keep naming the old primary; then the primary dies,
    // Sentinel alone promotes a replica, and the writer goes on writing to it. The promoted node
    // holds the most data: every acknowledged write, where the old primary lacks the later ones.
    await svc.kill('SIGKILL');
    const writer = startWriter(target(ha), `ha-${tag}`);
    await waitFor('writes', async () => writer.ackedCount() > 300);
    await killNode(cs.dataDir, oldPrimary.service_ip_address);
    const sentinel = { host: instances(ha).find((i) => i.role_type === 'SENTINEL')!.service_ip_address, port: 26378, password: PASSWORD };
    const promoted = await waitFor('Sentinel to promote a replica', async () => {
      const m = await sentinelMaster(sentinel, ha.name);
      return m && m.ip !== oldPrimary.service_ip_address ? m.ip : undefined;
    }, 30_000);
    const ackedAtFailover = writer.ackedCount();
    await waitFor('writes on the promoted node', async () => writer.ackedCount() > ackedAtFailover + 300);
    // Over the replica lag margin, so the promoted node's last logged write is clearly later.
    await new Promise((r) => setTimeout(r, 3000));
    const written = await writer.stop();

    // The host goes down: every engine and Sentinel dies at once.
    const killedAt = Date.now();
    await killEnginesUnder(cs.dataDir);
    svc = await cs.start(env);

    const solo = await waitCluster(svc.client, soloId, 'the standalone cluster RUNNING', (b) => b.service_state === 'RUNNING' && b);
    expect(instances(solo)[0].service_state).toBe('RUNNING');
    expect(await readAll(soloIp)).toEqual(soloData);

    const back = await waitCluster(svc.client, haId, 'the HA cluster RUNNING with every node', (b) => b.service_state === 'RUNNING' && instances(b).every((i) => i.service_state === 'RUNNING') && b);
    const primary = instances(back).find((i) => i.role_type === 'MASTER')!;
    expect(primary.service_ip_address).toBe(promoted);
    // Had another node been chosen, every write of the 3 s and more since the failover would be
    // missing; only the engines' own last-2-s delay on a busy disk may be (AOF_WRITE_DELAY_MS).
    expect(lostBeyondAofDelay(await missingKeys(target(back), written.acked), written, killedAt)).toEqual([]);
    // Every Sentinel names the chosen primary.
    for (const i of instances(back)) expect((await sentinelMaster({ host: i.service_ip_address, port: 26378, password: PASSWORD }, back.name))?.ip).toBe(promoted);
    const ev = (await events(svc.client, haId)).join('\n');
    expect(ev).toMatch(new RegExp(`started the cluster again from its data: ${primary.name} is the primary \\(last primary by the newest Sentinel configuration`));

    const stopped = (await svc.client.get(`/v1/clusters/${stoppedId}`)).body;
    expect(stopped.service_state).toBe('STOPPED');
    expect(await enginePids(await dataNodeId(cs.dataDir, stoppedIp))).toEqual([]);
    // Two service starts and a failover by Sentinel alone: more than the default minute under load.
  }, 180_000);
});

describe('dead engines while the service runs', () => {
  let h: Harness;
  beforeAll(async () => {
    // No periodic reconcile: deaths are seen by the primary watch (standalone engines) and
    // through the Sentinels' events (HA clusters), then by the looks the backoff schedules.
    h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '0', CACHESTORE_HEAL_AFTER_MS: '300', CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  describe.each(PRODUCTS)('%s', (product) => {
    const tag = product.startsWith('Redis') ? 'r' : 'v';
    const engine = async () => (await engineVersions(h.client)).find((e) => e.product_image_type === product)!;

    it('starts a standalone engine SIGKILLed under write load again, losing no acknowledged write', async () => {
      const id = await create(h.client, createBody(await engine(), { name: `crash${tag}` }));
      const detail = (await h.service.store.clusterDetail(null, id))!;
      const inst = detail.instances[0];
      const before = await onePid(inst.id);
      const writer = startWriter({ host: inst.serviceIpAddress, port: 6378, password: PASSWORD }, `w-${tag}`);
      await waitFor('writes', async () => writer.ackedCount() > 500);
      const killedAt = Date.now();
      process.kill(before, 'SIGKILL');
      const ackedAtKill = writer.ackedCount();
      await waitFor('writes after the restart', async () => writer.ackedCount() > ackedAtKill + 500, 30_000);
      const written = await writer.stop();
      expect(lostBeyondAofDelay(await missingKeys({ host: inst.serviceIpAddress, port: 6378, password: PASSWORD }, written.acked), written, killedAt)).toEqual([]);
      expect(await onePid(inst.id)).not.toBe(before);
      const b = await waitCluster(h.client, id, 'RUNNING', (x) => x.service_state === 'RUNNING' && x);
      expect(instances(b)[0].service_state).toBe('RUNNING');
      expect(await events(h.client, id)).toContain(`started the engine of instance ${inst.name} again from its data`);
    });

    it('brings an HA cluster whose every data node died back, with every acknowledged write', async () => {
      const id = await create(h.client, haBody(await engine(), 2, { name: `alldead${tag}` }));
      const body = (await h.client.get(`/v1/clusters/${id}`)).body;
      const writer = startWriter(target(body), `a-${tag}`);
      await waitFor('writes', async () => writer.ackedCount() > 500);
      const written = await writer.stop();
      const detail = (await h.service.store.clusterDetail(null, id))!;
      const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
      const data = detail.instances.filter((i) => i.roleType !== 'SENTINEL');
      const killedAt = Date.now();
      for (const i of data) await sigkillEngine(i.id);
      await waitFor('the recovery event', async () => (await events(h.client, id)).some((m) => m.startsWith('started the cluster again from its data')), 30_000);
      const back = await waitCluster(h.client, id, 'the cluster RUNNING again with every node', (b) =>
        b.service_state === 'RUNNING' && instances(b).every((i) => i.service_state === 'RUNNING') && b,
      );
      // Nothing was written after the replicas caught up: the recorded primary stays the primary.
      expect(instances(back).find((i) => i.role_type === 'MASTER')!.name).toBe(primary.name);
      for (const i of data) expect(await enginePids(i.id)).toHaveLength(1);
      expect(lostBeyondAofDelay(await missingKeys(target(back), written.acked), written, killedAt)).toEqual([]);

      // A dead Sentinel comes back too, and watches the primary.
      const sentinelInst = detail.instances.find((i) => i.roleType === 'SENTINEL')!;
      const sentinelPid = await sigkillEngine(sentinelInst.id);
      await waitFor('the Sentinel started again', async () => (await events(h.client, id)).includes(`started the Sentinel of instance ${sentinelInst.name} again, watching the primary`), 30_000);
      const after = await enginePids(sentinelInst.id);
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(sentinelPid);
      expect((await sentinelMaster({ host: sentinelInst.serviceIpAddress, port: 26378, password: PASSWORD }, back.name))?.ip).toBe(primary.serviceIpAddress);
    });

    it('picks by the write logs a primary that no record names: the node that took the latest writes', async () => {
      const id = await create(h.client, haBody(await engine(), 2, { name: `bylog${tag}` }));
      const detail = (await h.service.store.clusterDetail(null, id))!;
      const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
      const [r1, r2] = detail.instances.filter((i) => i.roleType === 'REPLICA');
      await fill(primary.serviceIpAddress, 'base', 200);
      await waitFor('the replicas to have the writes', async () => (await readAll(r1.serviceIpAddress)).size === 200 && (await readAll(r2.serviceIpAddress)).size === 200);
      // With the service and every Sentinel gone, a replica is made a primary by hand and takes
      // writes for a while: no record names it, only its write log shows it holds the most data.
      // Made a primary as an operator would: as the service's own user (the tenant may not).
      const asService = await serviceEndpoint(h, id, r1.serviceIpAddress);
      await h.closeService();
      for (const i of detail.instances) await sigkillEngine(i.roleType === 'SENTINEL' ? i.id : `${i.id}-sentinel`);
      // A primary without replicas is fenced (README, Partitions and fencing): the operator
      // lifts that too, so it takes the writes.
      await withClient(asService, async (c) => {
        await c.call('REPLICAOF', 'NO', 'ONE');
        await c.call('CONFIG', 'SET', 'min-replicas-to-write', '0');
      });
      await new Promise((r) => setTimeout(r, 3500));
      const c = connectTo(r1.serviceIpAddress);
      await c.connect();
      await c.set('late', 'only on the promoted node');
      c.disconnect();
      const expected = await readAll(r1.serviceIpAddress);
      for (const i of detail.instances.filter((x) => x.roleType !== 'SENTINEL')) await sigkillEngine(i.id);
      await h.restartService();

      const back = await waitCluster(h.client, id, 'the cluster RUNNING again with every node', (b) =>
        b.service_state === 'RUNNING' && instances(b).every((i) => i.service_state === 'RUNNING') && instances(b).find((i) => i.role_type === 'MASTER')?.name === r1.name && b,
      );
      expect(instances(back).find((i) => i.role_type === 'MASTER')!.name).toBe(r1.name);
      expect(await readAll(r1.serviceIpAddress)).toEqual(expected);
      await waitFor('the old primary to copy the chosen one', async () => (await readAll(primary.serviceIpAddress).catch(() => new Map())).get('late'));
      expect((await events(h.client, id)).join('\n')).toMatch(new RegExp(`${r1.name} is the primary \\(it logged the latest write`));
    });

    it('gives up on an engine that refuses its data: ERROR with its log lines, until Start', async () => {
      const id = await create(h.client, createBody(await engine(), { name: `loop${tag}` }));
      const inst = (await h.service.store.clusterDetail(null, id))!.instances[0];
      await fill(inst.serviceIpAddress, 'loop', 50);
      const manifest = join(h.dataDir, 'engines', inst.id, 'data', 'appendonlydir', 'appendonly.aof.manifest');
      const good = await readFile(manifest, 'utf8');
      await writeFile(manifest, 'not a manifest\n');
      await sigkillEngine(inst.id);

      const b = await waitCluster(h.client, id, 'the service to give up', (x) => x.service_state === 'ERROR' && x, 30_000);
      const gaveUp = await waitFor('the give-up event', async () => (await events(h.client, id)).find((m) => m.startsWith('gave up restarting')));
      expect(gaveUp).toMatch(/did not stay up after 5 starts/);
      // The engine's own words.
      expect(gaveUp).toMatch(/Invalid AOF manifest file format/);
      // Each failed start was an event with the engine's reason.
      const failed = (await events(h.client, id)).filter((m) => m.startsWith(`starting the engine of instance ${inst.name} again failed`));
      expect(failed).toHaveLength(5);
      expect(failed[0]).toMatch(/\(start 1\): .*Invalid AOF manifest file format/);
      expect(instances(b)[0].service_state).toBe('ERROR');
      // No more starts by the service, not even after the service itself restarts.
      await h.restartService();
      await new Promise((r) => setTimeout(r, 2000));
      expect(await enginePids(inst.id)).toEqual([]);
      expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('ERROR');
      expect((await events(h.client, id)).filter((m) => m.startsWith('gave up restarting'))).toHaveLength(1);

      // The operator repairs the data and starts the cluster: it runs, and heals by itself again.
      await writeFile(manifest, good);
      const start = await h.client.post(`/v1/clusters/${id}/start`);
      expect(await h.client.waitRequest(start.body.request_id)).toBe('COMPLETED');
      expect((await readAll(inst.serviceIpAddress)).size).toBe(50);
      const pid = await sigkillEngine(inst.id);
      await waitFor('the engine started again', async () => {
        const p = await enginePids(inst.id);
        return p.length === 1 && p[0] !== pid;
      });
      await waitCluster(h.client, id, 'RUNNING', (x) => x.service_state === 'RUNNING');
    });
  });
});
