// README "Degraded HA clusters", on real engines and Sentinels: a cluster is RUNNING while a
// primary serves writes; a dead SENTINEL-group instance is an ERROR instance, a replica still
// copying its primary is SYNCHRONIZING; without a reachable primary the cluster is ERROR; a dead
// Sentinel beside a data node is an event, and healing starts it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo } from '../support/dataset.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { engineVersions, haBody, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { eventMessages, instancesOf, primaryOf } from '../support/observe.js';
import { waitFor } from '../support/writer.js';
import { parseInfo } from '../../src/engines/replication.js';
import { connect } from '../../src/engines/client.js';


function api(h: () => Harness) {
  return {
    async createHa(kind: 'Redis' | 'Valkey', name: string, replicas: 1 | 2 = 1) {
      const engine = (await engineVersions(h().client)).find((e) => e.product_image_type.startsWith(kind))!;
      const r = await h().client.post('/v1/clusters', haBody(engine, replicas, { name }));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await h().client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
      return r.body.resource.id as string;
    },
    async show(id: string) {
      return (await h().client.get(`/v1/clusters/${id}`)).body;
    },
    async sync(id: string) {
      const r = await h().client.post(`/v1/clusters/${id}/sync-state`);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await h().client.waitRequest(r.body.request_id)).toBe('COMPLETED');
      return this.show(id);
    },
    async instanceId(clusterId: string, name: string): Promise<string> {
      return (await h().service.store.clusterDetail(null, clusterId))!.instances.find((i) => i.name === name)!.id;
    },
  };
}

/** SIGKILLs the node's engine (`nodeId`: an instance id, or `<instance id>-sentinel`) and waits until it is gone. */
async function kill(nodeId: string): Promise<number> {
  const pids = await enginePids(nodeId);
  expect(pids, `${nodeId} runs before it is killed`).toHaveLength(1);
  process.kill(pids[0], 'SIGKILL');
  await waitFor(`${nodeId} to exit`, async () => (await enginePids(nodeId)).length === 0);
  return pids[0];
}

async function replication(ip: string): Promise<Record<string, string>> {
  const c = connectTo(ip);
  await c.connect();
  try {
    return parseInfo(await c.info('replication'));
  } finally {
    c.disconnect();
  }
}

describe('with healing and the primary watch off', () => {
  let h: Harness;
  const t = api(() => h);
  beforeAll(async () => {
    // Nothing restarts a dead process here, so each state stays until the test looks at it.
    h = await startHarness({ CACHESTORE_HEAL_AFTER_MS: '0', CACHESTORE_PRIMARY_WATCH_MS: '0' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('shows a dead SENTINEL-group instance as ERROR while the cluster stays RUNNING and serves', async () => {
    const id = await t.createHa('Valkey', 'deadsentinel');
    const sentinel = instancesOf(await t.show(id)).find((i) => i.role_type === 'SENTINEL')!;
    await kill(await t.instanceId(id, sentinel.name));
    const s = await t.sync(id);
    expect(s.service_state).toBe('RUNNING');
    const byName = new Map(instancesOf(s).map((i) => [i.name, i.service_state]));
    expect(byName.get(sentinel.name)).toBe('ERROR');
    for (const i of instancesOf(s).filter((x) => x.role_type !== 'SENTINEL')) expect(byName.get(i.name), i.name).toBe('RUNNING');
    const c = connectTo(primaryOf(s)!.service_ip_address);
    await c.connect();
    expect(await c.set('still', 'serving')).toBe('OK');
    c.disconnect();
  });

  it('shows a replica still copying its primary as SYNCHRONIZING while the cluster stays RUNNING', async () => {
    const id = await t.createHa('Redis', 'copying');
    const s0 = await t.show(id);
    const primary = primaryOf(s0)!;
    const replica = instancesOf(s0).find((i) => i.role_type === 'REPLICA')!;
    // A full resync whose transfer the primary holds back for 6 s (as a large dataset would take):
    // the primary waits before it streams, and the replica, detached and attached again with a
    // history of its own, must copy everything.
    // As the service's own user: the tenant may neither CONFIG SET nor REPLICAOF.
    const p = connect(await serviceEndpoint(h, id, primary.service_ip_address));
    const r = connect(await serviceEndpoint(h, id, replica.service_ip_address));
    p.on('error', () => undefined);
    r.on('error', () => undefined);
    await p.connect();
    await r.connect();
    try {
      await p.config('SET', 'repl-diskless-sync-delay', '6');
      await r.call('REPLICAOF', 'NO', 'ONE');
      await r.call('REPLICAOF', primary.service_ip_address, '6378');
      expect((await replication(replica.service_ip_address)).master_link_status).toBe('down');
      const s = await t.sync(id);
      expect(s.service_state).toBe('RUNNING');
      expect(instancesOf(s).find((i) => i.name === replica.name)!.service_state).toBe('SYNCHRONIZING');
      expect(instancesOf(s).find((i) => i.name === replica.name)!.role_type).toBe('REPLICA');
      expect(primaryOf(s)!.name).toBe(primary.name);
      // The copy done, the replica is RUNNING again.
      await waitFor('the replica to finish copying', async () => (await replication(replica.service_ip_address)).master_link_status === 'up', 20_000);
      expect(instancesOf(await t.sync(id)).find((i) => i.name === replica.name)!.service_state).toBe('RUNNING');
    } finally {
      await p.config('SET', 'repl-diskless-sync-delay', '0').catch(() => undefined);
      p.disconnect();
      r.disconnect();
    }
  });

  it('is ERROR without a reachable primary, refuses a switchover naming ERROR, and Start brings it back', async () => {
    const id = await t.createHa('Redis', 'noprimary');
    const s0 = await t.show(id);
    const primary = primaryOf(s0)!;
    const replica = instancesOf(s0).find((i) => i.role_type === 'REPLICA')!;
    // The replica first, so no Sentinel can promote anything.
    await kill(await t.instanceId(id, replica.name));
    await kill(await t.instanceId(id, primary.name));
    const s = await t.sync(id);
    expect(s.service_state).toBe('ERROR');
    const byName = new Map(instancesOf(s).map((i) => [i.name, i.service_state]));
    expect(byName.get(primary.name)).toBe('ERROR');
    expect(byName.get(replica.name)).toBe('ERROR');
    const sw = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
    expect(expectErrorShape(sw, 400).detail).toMatch(/is ERROR; switchover is allowed only when it is RUNNING/);

    const start = await h.client.post(`/v1/clusters/${id}/start`);
    expect(start.status).toBe(202);
    expect(await h.client.waitRequest(start.body.request_id, 40_000)).toBe('COMPLETED');
    const after = await t.show(id);
    expect(after.service_state).toBe('RUNNING');
    expect(primaryOf(after)!.name).toBe(primary.name);
    expect((await replication(replica.service_ip_address)).master_link_status).toBe('up');
  });
});

describe('with healing on', () => {
  let h: Harness;
  const t = api(() => h);
  beforeAll(async () => {
    // Heal a process dead for 300 ms; reconcile every 200 ms so healing is seen within a second.
    h = await startHarness({ CACHESTORE_HEAL_AFTER_MS: '300', CACHESTORE_RECONCILE_INTERVAL_MS: '200' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('records a dead Sentinel beside a data node as an event and starts it again; the cluster stays RUNNING', async () => {
    const id = await t.createHa('Valkey', 'sentinelhealed');
    const s0 = await t.show(id);
    const replica = instancesOf(s0).find((i) => i.role_type === 'REPLICA')!;
    const node = `${await t.instanceId(id, replica.name)}-sentinel`;
    const before = await kill(node);
    await waitFor('the heal event', async () => (await eventMessages(h.client, id)).some((m) => m === `started the Sentinel beside instance ${replica.name} again, watching the primary`), 20_000);
    const events = await eventMessages(h.client, id);
    expect(events).toContain(`the Sentinel beside instance ${replica.name} does not answer`);
    expect(events.filter((m) => /cluster is ERROR/.test(m))).toEqual([]);
    const after = await enginePids(node);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    // The restarted Sentinel monitors the cluster's primary again.
    const c = connectTo(replica.service_ip_address, 26378);
    await c.connect();
    const addr = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'sentinelhealed')) as string[];
    c.disconnect();
    expect(addr).toEqual([primaryOf(s0)!.service_ip_address, '6378']);
    expect((await t.show(id)).service_state).toBe('RUNNING');
  });
});
