// A full disk is seen as it happens, not at the next periodic pass (issue 15): with the periodic
// reconcile off, an engine whose volume fills makes Show Cluster ERROR within seconds, and when
// space comes back by itself (the operator deleted a file; no resize, no request) the engine
// writes again and the cluster is RUNNING again, with no acknowledged write lost. Only the
// service following the engine's log (drivers/local/log-follower.ts, operations/disk-alarms.ts)
// can explain either change here. Root with loop devices, as block-storage.test.ts.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenant } from '../support/dataset.js';
import { fillVolume, writeUntilRefused } from '../support/volumes.js';
import { completes, createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/writer.js';

const MiB = 1024 * 1024;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    CACHESTORE_VOLUMES: 'auto',
    CACHESTORE_VOLUME_MIB_PER_GB: '20',
    // No periodic pass: the look must come from the engine's log.
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
  });
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

async function show(id: string): Promise<any> {
  const r = await h.client.get(`/v1/clusters/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

describe('a disk that fills and empties again, with no periodic look', () => {
  it('shows ERROR within seconds of the engine refusing writes, and RUNNING once it writes again', async () => {
    const redis = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith('Redis'))!;
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(redis, { name: 'diskalarm' }))).id;
    const c = await show(id);
    const inst = c.instance_groups[0].instances[0];
    const instanceId = (await h.service.store.clusterDetail(null, id))!.instances[0].id;
    const dataDir = join(h.dataDir, 'engines', instanceId, 'data');
    const filler = await fillVolume(dataDir, 24 * MiB);
    const { acked, refusal } = await writeUntilRefused(inst.service_ip_address, 'k');
    expect(refusal).toMatch(/MISCONF/);
    await waitFor('Show Cluster ERROR for the full disk', async () => (await show(id)).service_state === 'ERROR');
    expect((await show(id)).instance_groups[0].instances[0].service_state).toBe('ERROR');

    // Space comes back outside the service: the engine retries its write log each second.
    await rm(filler);
    await waitFor('Show Cluster RUNNING again', async () => (await show(id)).service_state === 'RUNNING', 30_000);
    await asTenant(inst.service_ip_address, 6378, async (r) => {
      expect(await r.set('after', 'room')).toBe('OK');
      expect(await r.exists(...acked)).toBe(acked.length);
    });
    const ev = await h.client.get(`/v1/clusters/${id}/events`);
    expect(ev.body.contents.map((e: { message: string }) => e.message).some((m: string) => /has room again/.test(m))).toBe(true);
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
  }, 120_000);
});
