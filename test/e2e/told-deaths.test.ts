// Issue 15, README "Watching without polling": the service is told of a death by the connection
// it keeps to each engine and Sentinel, instead of polling. Here Sentinel's down-after is 30 s
// and the periodic reconcile runs every 10 min, so neither Sentinel's +sdown nor a reconcile pass
// can explain what Show Cluster shows within the few seconds these tests wait: only the closed
// connection can. Both engines; the killed process comes back (healing after 1 s) with a new pid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenant } from '../support/dataset.js';
import { onePid, sigkillEngine } from '../support/engines.js';
import { engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { eventMessages, instancesOf, primaryOf } from '../support/observe.js';
import { waitFor } from '../support/writer.js';

/** Well before Sentinel's 30 s down-after and the 10 min reconcile; generous for a loaded machine. */
const TOLD_WITHIN_MS = 6000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ CACHESTORE_SENTINEL_DOWN_AFTER_MS: '30000', CACHESTORE_RECONCILE_INTERVAL_MS: '600000', CACHESTORE_HEAL_AFTER_MS: '1000' });
});
afterAll(async () => {
  await h?.stop();
});

async function createHa(kind: string, name: string): Promise<string> {
  const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
  const r = await h.client.post('/v1/clusters', haBody(engine, 1, { name }));
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
  return r.body.resource.id;
}
const show = async (id: string) => (await h.client.get(`/v1/clusters/${id}`)).body;
const stateOf = async (id: string, name: string) => instancesOf(await show(id)).find((i) => i.name === name)!.service_state;
const nodeId = async (clusterId: string, name: string) => (await h.service.store.clusterDetail(null, clusterId))!.instances.find((i) => i.name === name)!.id;

describe.each(['Redis', 'Valkey'])('%s: deaths told by the connection', (kind) => {
  const tag = kind[0].toLowerCase();

  it('shows a SIGKILLed replica as ERROR at once while the cluster stays RUNNING, then starts it again', async () => {
    const id = await createHa(kind, `told${tag}replica`);
    const replica = instancesOf(await show(id)).find((i) => i.role_type === 'REPLICA')!;
    const node = await nodeId(id, replica.name);
    const before = await sigkillEngine(node);
    await waitFor('the replica ERROR in Show Cluster', async () => (await stateOf(id, replica.name)) === 'ERROR', TOLD_WITHIN_MS, 20);
    expect((await show(id)).service_state).toBe('RUNNING');
    expect(await eventMessages(h.client, id)).toContain(`instance ${replica.name} is ERROR (its engine does not answer)`);
    await waitFor('the replica RUNNING again', async () => (await stateOf(id, replica.name)) === 'RUNNING', 30_000, 50);
    expect(await onePid(node)).not.toBe(before);
    expect(await eventMessages(h.client, id)).toContain(`started data node ${replica.name} again from its data as a replica of the primary`);
  });

  it('shows a SIGKILLed SENTINEL-group instance as ERROR at once, and a dead Sentinel beside a data node in the events, then starts both again', async () => {
    const id = await createHa(kind, `told${tag}sentinel`);
    const s0 = await show(id);
    const sentinel = instancesOf(s0).find((i) => i.role_type === 'SENTINEL')!;
    const sentinelNode = await nodeId(id, sentinel.name);
    const before = await sigkillEngine(sentinelNode);
    await waitFor('the Sentinel instance ERROR in Show Cluster', async () => (await stateOf(id, sentinel.name)) === 'ERROR', TOLD_WITHIN_MS, 20);
    expect((await show(id)).service_state).toBe('RUNNING');
    await waitFor('the Sentinel instance RUNNING again', async () => (await stateOf(id, sentinel.name)) === 'RUNNING', 30_000, 50);
    expect(await onePid(sentinelNode)).not.toBe(before);

    const primary = primaryOf(s0)!;
    const beside = `${await nodeId(id, primary.name)}-sentinel`;
    await sigkillEngine(beside);
    await waitFor('the event for the Sentinel beside the primary', async () => (await eventMessages(h.client, id)).includes(`the Sentinel beside instance ${primary.name} does not answer`), TOLD_WITHIN_MS, 20);
    await waitFor('that Sentinel started again', async () => (await eventMessages(h.client, id)).includes(`started the Sentinel beside instance ${primary.name} again, watching the primary`), 30_000, 50);
  });

  it("takes the tenant's CLIENT KILL of its connections for no death, and still sees the next real one", async () => {
    const id = await createHa(kind, `told${tag}clientkill`);
    const replica = instancesOf(await show(id)).find((i) => i.role_type === 'REPLICA')!;
    const node = await nodeId(id, replica.name);
    const pid = await onePid(node);
    // The tenant may run CLIENT: it ends every connection but its own on the replica, the
    // service's link among them (and the primary's replication link is on the primary's side).
    const killed = await asTenant(replica.service_ip_address, 6378, (c) => c.call('CLIENT', 'KILL', 'SKIPME', 'yes', 'TYPE', 'pubsub') as Promise<number>);
    expect(killed).toBeGreaterThanOrEqual(1);
    // Long enough for a wrongly reported death to have been recorded and shown.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stateOf(id, replica.name)).toBe('RUNNING');
    expect(await onePid(node)).toBe(pid);
    expect((await eventMessages(h.client, id)).filter((m) => m.includes(replica.name) && /ERROR|started/.test(m))).toEqual([]);
    // The link is back: a SIGKILL now is told as before.
    await waitFor('the link to be back', async () => {
      const n = await asTenant(replica.service_ip_address, 6378, (c) => c.call('PUBSUB', 'NUMSUB', 'cachestore:liveness') as Promise<[string, number]>);
      return Number(n[1]) === 1;
    }, 10_000, 50);
    await sigkillEngine(node);
    await waitFor('the replica ERROR in Show Cluster', async () => (await stateOf(id, replica.name)) === 'ERROR', TOLD_WITHIN_MS, 20);
  });
});
