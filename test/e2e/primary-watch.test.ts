// README "Failover": when a RUNNING HA cluster's primary dies, the service sees its process gone
// and asks a Sentinel to fail over at once, without waiting for Sentinel's own detection. Here
// Sentinel's down-after is 30 s, so Sentinel alone cannot start a failover within this test: the
// new primary can only come from the primary watch, whose event names the dead primary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginePids } from '../support/engines.js';
import { engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { eventMessages, instancesOf, primaryOf } from '../support/observe.js';
import { sentinelClient, waitFor } from '../support/writer.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_SENTINEL_DOWN_AFTER_MS: '30000', CACHESTORE_PRIMARY_WATCH_MS: '100', CACHESTORE_HEAL_AFTER_MS: '0' });
});
afterAll(async () => {
  await h?.stop();
});

describe.each(['Redis', 'Valkey'])('%s: the primary watch', (kind) => {
  it('fails over at once when the primary process dies, and says so in the events', async () => {
    const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
    const name = `watch${kind.toLowerCase()}`;
    // Two replicas: the new primary keeps one, so its fence (README, Partitions and fencing)
    // lets the write below through while healing is off and the old primary stays dead.
    const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name }));
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    const id = r.body.resource.id;
    const before = (await h.client.get(`/v1/clusters/${id}`)).body;
    const old = primaryOf(before)!;
    const oldId = (await h.service.store.clusterDetail(null, id))!.instances.find((i) => i.name === old.name)!.id;
    const pids = await enginePids(oldId);
    expect(pids).toHaveLength(1);
    process.kill(pids[0], 'SIGKILL');

    // Well inside Sentinel's 30 s down-after: only the forced failover can have done this.
    const after = await waitFor('the replica to be the primary in Show Cluster', async () => {
      const s = (await h.client.get(`/v1/clusters/${id}`)).body;
      const p = primaryOf(s);
      return p && p.name !== old.name && s.service_state === 'RUNNING' ? s : undefined;
    }, 15_000);
    expect(await eventMessages(h.client, id)).toContain(`the primary's engine on ${old.service_ip_address} died; asked Sentinel to fail over at once`);
    const c = sentinelClient({ sentinels: instancesOf(after).map((i) => ({ host: i.service_ip_address, port: 26378 })), name, password: 'Secr3t!pass' });
    try {
      expect(await c.set('after', 'failover')).toBe('OK');
    } finally {
      c.disconnect();
    }
  });
});
