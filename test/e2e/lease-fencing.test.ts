// The worker's lease is a fence. A worker that paused longer than its lease (a stalled process, a
// store it could not reach) finds another worker running its request when it wakes: it must stop
// there, leaving the request, its clean-up and the cluster's state to the new holder; and a worker
// never claims again a request it is still running, however late its heartbeat.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../../src/operations/worker.js';
import { PASSWORD, connectTo } from '../support/dataset.js';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let second: Worker | undefined;

beforeAll(async () => {
  // Each step is followed by a pause: the window in which the first worker "sleeps".
  h = await startHarness({ CACHESTORE_DEBUG_STEP_DELAY_MS: '1500' });
}, 60_000);
afterEach(async () => {
  await second?.stop();
  second = undefined;
});
afterAll(async () => {
  await h?.stop();
});

async function lastStep(requestId: string): Promise<string | null> {
  return (await h.client.get(`/v1/requests/${requestId}/details`)).body.last_step ?? null;
}

async function events(clusterId: string): Promise<string[]> {
  return (await h.client.get(`/v1/clusters/${clusterId}/events?size=100`)).body.contents.map((e: { message: string }) => e.message);
}

describe('a worker whose lease was taken over', () => {
  it('neither claims its own request again nor cleans up after its successor, who completes it', async () => {
    const [engine] = await engineVersions(h.client);
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'fenced' }));
    expect(r.status).toBe(202);
    const { request_id: requestId } = r.body;
    const clusterId: string = r.body.resource.id;
    const deadline = Date.now() + 30_000;
    while ((await lastStep(requestId)) === null && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    const step = await lastStep(requestId);
    expect(step).not.toBeNull();

    // The first worker is in its pause after a step; its lease now lapses, as if it had slept
    // through it (and, so that its heartbeat cannot take it back, the lease names nobody it
    // knows). Woken, its own claim loop must not pick the request up a second time.
    const db = new Database(join(h.dataDir, 'cachestore.db'));
    try {
      db.pragma('busy_timeout = 5000');
      db.prepare("UPDATE requests SET lease_until = 0, lease_owner = 'a-worker-that-died' WHERE id = ?").run(requestId);
    } finally {
      db.close();
    }
    h.service.worker.notify();
    await new Promise((res) => setTimeout(res, 300));
    expect((await events(clusterId)).filter((m) => m.includes('resumed'))).toEqual([]);

    // Another worker (another replica of the service) claims it and finishes it.
    second = new Worker(h.service.worker.o);
    second.start();
    expect(await h.client.waitRequest(requestId, 60_000)).toBe('COMPLETED');
    // Let the first worker wake from its pause and find the lease gone.
    await new Promise((res) => setTimeout(res, 2_500));

    const log = await events(clusterId);
    expect(log.filter((m) => m.includes('resumed after step'))).toHaveLength(1);
    expect(log.filter((m) => m === 'create completed')).toHaveLength(1);
    expect(log.filter((m) => m.includes('failed'))).toEqual([]);
    const show = (await h.client.get(`/v1/clusters/${clusterId}`)).body;
    expect(show.service_state).toBe('RUNNING');
    expect((await h.client.get(`/v1/requests/${requestId}`)).body.state).toBe('COMPLETED');
    // The engine the successor started still serves: nobody's clean-up took it away.
    const c = connectTo(show.instance_groups[0].instances[0].service_ip_address);
    try {
      await c.auth(PASSWORD);
      expect(await c.ping()).toBe('PONG');
    } finally {
      c.disconnect();
    }
  }, 90_000);
});
