// README "Partitions and fencing", on real engines and Sentinels with real nftables cuts between
// the nodes' loopback addresses (test/support/partitions.ts; the writers and the service reach
// every node throughout). An HA cluster (primary, 2 replicas, a Sentinel beside each, the
// SENTINEL group's own) per engine; writers keep a ledger of acknowledged writes, and after each
// cut heals, every acknowledged write is on the primary, except, when the primary itself was cut
// off, writes it acknowledged within the fence's bound after the cut (and the moment before it,
// that its replicas had not received yet): after the bound it acknowledges nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FENCE_MAX_LAG_S, fenceBoundMs } from '../../src/domain/fencing.js';
import { connectTo } from '../support/dataset.js';
import { enginePids, sigkillEngine } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { configGet, configSet } from '../../src/engines/parameters.js';
import { engineVersions, haBody, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { eventMessages } from '../support/observe.js';
import { describeLedger, primaryIsolated, replicaIsolated, replicationOf, sentinelMinority, viewOf } from '../support/partition-scenarios.js';
import { partitions, type Partitions } from '../support/partitions.js';
import { waitFor } from '../support/writer.js';

/** Replication to the replicas is asynchronous: a write acknowledged this long before the cut may not have left the primary yet. */
const IN_FLIGHT_MS = 1000;

let h: Harness;
const tables: Partitions[] = [];

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  // The cuts first: a failed test must not leave the kernel dropping packets.
  for (const t of tables) await t.close().catch(() => undefined);
  await h?.stop();
});

describe('partitions and fencing', () => {
  for (const kind of ['Redis', 'Valkey'] as const) {
    // The two engines run side by side (their own cluster, addresses and nftables table).
    it.concurrent(`${kind}: a cut-off primary stops acknowledging within the bound; no other cut loses a write`, async () => {
      const net = await partitions(`partitions_test_${kind}_${process.pid}`);
      tables.push(net);
      const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
      const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name: `part${kind.toLowerCase()}`, instance_name_prefix: `pt${kind[0].toLowerCase()}` }));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
      const id = r.body.resource.id as string;

      // The fence is on every data node, and the tenant cannot loosen it.
      const values = new Map<string, any>((await h.client.get(`/v1/clusters/${id}/parameters`)).body.contents.map((p: any) => [p.name, p]));
      expect(values.get('min-replicas-to-write')).toMatchObject({ applied_value: '1', default_value: '1' });
      expect(values.get('min-replicas-max-lag')).toMatchObject({ applied_value: String(FENCE_MAX_LAG_S) });
      for (const ip of (await viewOf(h, id)).all) {
        const info = await replicationOf(ip);
        if (info?.role === 'master') expect(info.min_slaves_good_slaves, 'the primary counts its linked replicas').toBe('2');
      }
      const loosen = await h.client.request('PUT', `/v1/clusters/${id}/parameters`, {
        parameters: [{ id: values.get('min-replicas-to-write').id, old_value: '1', new_value: '0' }],
      });
      const e = expectErrorShape(loosen, 400, 'ValidationError');
      expect(JSON.stringify(e.detail)).toMatch(/fenced.*min-replicas-to-write may be 1 or more/);

      // A replica cut off: the primary keeps its other replica, so it keeps acknowledging.
      const replica = await replicaIsolated(h, net, id, fenceBoundMs() + 1500);
      expect(replica.lost, describeLedger(kind, replica)).toBe(0);
      expect(replica.samePrimary).toBe(true);
      expect(replica.acknowledgedAfterFenceBound, describeLedger(kind, replica)).toBeGreaterThan(0);

      // The SENTINEL group's instance cut off: a minority of Sentinels cannot fail over.
      const minority = await sentinelMinority(h, net, id, 2500);
      expect(minority.lost, describeLedger(kind, minority)).toBe(0);
      expect(minority.samePrimary).toBe(true);
      expect(minority.acknowledgedDuringCut).toBeGreaterThan(0);

      // The primary cut off, clients writing to it; the majority fails over; the cut heals.
      const primary = await primaryIsolated(h, net, id, 1000);
      const line = describeLedger(kind, primary);
      expect(primary.isolatedLastAckMs ?? 0, line).toBeLessThanOrEqual(fenceBoundMs());
      for (const at of primary.lostAckedAfterCutMs) {
        expect(at, `a lost write was acknowledged ${at} ms after the cut: ${line}`).toBeGreaterThanOrEqual(-IN_FLIGHT_MS);
        expect(at, `a lost write was acknowledged ${at} ms after the cut: ${line}`).toBeLessThanOrEqual(fenceBoundMs());
      }
      // The API follows: the new primary is MASTER, the old one its REPLICA, the cluster RUNNING.
      await waitFor('Show Cluster to name the new primary', async () => {
        const v = await viewOf(h, id);
        const body = (await h.client.get(`/v1/clusters/${id}`)).body;
        return body.service_state === 'RUNNING' && v.primary === primary.newPrimary && v.replicas.includes(primary.oldPrimary);
      }, 30_000, 200);
      const events = await eventMessages(h.client, id);
      expect(events.some((m) => /still acts as a primary but the Sentinels follow .*cut off from them/.test(m)), events.join('\n')).toBe(true);
    }, 240_000);
  }

  it.concurrent('Redis, one replica: while its replica is down the primary refuses writes and says so; healing brings writes back', async () => {
    // Healing waits 6 s, so the fence (at most 4 s) shows before the replica is started again.
    const own = await startHarness({ CACHESTORE_HEAL_AFTER_MS: '6000' });
    try {
      const engine = (await engineVersions(own.client)).find((e) => e.product_image_type.startsWith('Redis'))!;
      const r = await own.client.post('/v1/clusters', haBody(engine, 1, { name: 'fenceone', instance_name_prefix: 'fone' }));
      expect(await own.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
      const id = r.body.resource.id as string;
      const detail = (await own.service.store.clusterDetail(null, id))!;
      const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
      const replica = detail.instances.find((i) => i.roleType === 'REPLICA')!;
      const c = connectTo(primary.serviceIpAddress);
      await c.connect();
      try {
        // Writes are accepted once the primary counts its replica (it recounts once a second).
        const accepts = () => c.set('probe', '1').then(() => true, () => false);
        await waitFor('the primary to accept writes with its replica linked', accepts, 10_000, 200);
        await sigkillEngine(replica.id);
        await waitFor('the event that the primary refuses writes', async () => (await eventMessages(own.client, id)).some((m) => /primary .* refuses writes \(NOREPLICAS\)/.test(m)), 20_000, 200);
        await expect(c.set('during', '1')).rejects.toThrow(/^NOREPLICAS/);
        expect((await own.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
        await waitFor('the event that it accepts writes again', async () => (await eventMessages(own.client, id)).some((m) => /accepts writes again/.test(m)), 30_000, 200);
        await waitFor('the primary to accept writes again', accepts, 10_000, 200);
        expect(await enginePids(replica.id)).toHaveLength(1);
      } finally {
        c.disconnect();
      }
      // A running primary without the fence (as one made before the fence existed) is fenced by
      // the service's next start, without a restart of the engine.
      const ep = await serviceEndpoint(own, id, primary.serviceIpAddress);
      const pid = (await enginePids(primary.id))[0];
      await configSet(ep, { 'min-replicas-to-write': '0' });
      await own.restartService();
      expect(await configGet(ep, ['min-replicas-to-write', 'min-replicas-max-lag'])).toEqual({ 'min-replicas-to-write': '1', 'min-replicas-max-lag': String(FENCE_MAX_LAG_S) });
      expect(await enginePids(primary.id)).toEqual([pid]);
      expect(await eventMessages(own.client, id)).toContain(`fenced 1 running data node(s): min-replicas-to-write 1, min-replicas-max-lag ${FENCE_MAX_LAG_S} (README, Partitions and fencing)`);
    } finally {
      await own.stop();
    }
  }, 120_000);
});
