// Backups as requests (README "Backups"): a running backup holds the cluster's one request slot,
// so Stop and Restart meanwhile get 400 naming it, while the cluster stays RUNNING; and retention
// is a request of its own by `cachestore-scheduler`, in the cluster's events. A pause after each
// workflow step (CACHESTORE_DEBUG_STEP_DELAY_MS) keeps the backup running long enough to try;
// the schedule runs on a hand-set clock.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEDULER_USER } from '../../src/domain/backup-service.js';
import { latestSlot } from '../../src/domain/backup-schedule.js';
import { fill } from '../support/dataset.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, ManualClock, startHarness, type Harness } from '../support/harness.js';
import { clusterStateWhile, instancesOf } from '../support/observe.js';

let h: Harness;
const clock = new ManualClock();

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_DEBUG_STEP_DELAY_MS: '500', CACHESTORE_BACKUP_SCHEDULE_MS: '0' }, { scheduleClock: clock });
});
afterAll(async () => {
  await h?.stop();
});

async function created(kind: string, name: string): Promise<{ id: string; ip: string }> {
  const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
  const r = await h.client.post('/v1/clusters', createBody(engine, { name, timezone: 'UTC' }));
  expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
  const id = r.body.resource.id;
  return { id, ip: instancesOf((await h.client.get(`/v1/clusters/${id}`)).body)[0].service_ip_address };
}

it('a running backup holds the request slot: Stop and Restart get 400 naming it, the cluster stays RUNNING', async () => {
  const c = await created('Valkey', 'slotholder');
  await fill(c.ip, 'k', 200);
  const b = await h.client.post(`/v1/clusters/${c.id}/backup-histories`);
  expect(b.status).toBe(202);
  const backupRequest = b.body.request_id;
  expect(await clusterStateWhile(h.client, backupRequest, c.id, 'RUNNING')).toBe('RUNNING');
  for (const op of ['stop', 'restart']) {
    const r = await h.client.post(`/v1/clusters/${c.id}/${op}`);
    expect(expectErrorShape(r, 400).detail, op).toContain(`request ${backupRequest} is still in progress`);
  }
  // The refusals came while the backup ran, and changed nothing.
  expect((await h.client.get(`/v1/requests/${backupRequest}`)).body.state).toBe('RUNNING');
  expect(await h.client.waitRequest(backupRequest, 60_000)).toBe('COMPLETED');
  expect((await h.client.get(`/v1/clusters/${c.id}`)).body.service_state).toBe('RUNNING');
  const stop = await h.client.post(`/v1/clusters/${c.id}/stop`);
  expect(stop.status).toBe(202);
  expect(await h.client.waitRequest(stop.body.request_id)).toBe('COMPLETED');
});

it('removes expired backups in a request by cachestore-scheduler, shown in the cluster events', async () => {
  const c = await created('Redis', 'retained');
  await fill(c.ip, 'k', 20);
  const old = await h.client.post(`/v1/clusters/${c.id}/backup-histories`);
  expect(await h.client.waitRequest(old.body.request_id, 60_000)).toBe('COMPLETED');
  const set = await h.client.post(`/v1/clusters/${c.id}/backups`, { retention_period_day: '7', starting_time_hour: '3' });
  expect(await h.client.waitRequest(set.body.request_id)).toBe('COMPLETED');

  // Nine days on: the daily backup is owed first; retention waits while it runs.
  clock.set(new Date(latestSlot(new Date(Date.now() + 9 * 86400_000), 'UTC', 3).getTime() + 60_000));
  const daily = await h.service.scheduler.tick();
  expect(daily).toHaveLength(1);
  expect(await h.client.waitRequest(daily[0], 60_000)).toBe('COMPLETED');
  const [retention] = await h.service.scheduler.tick();
  expect(retention).toMatch(/^req-/);
  expect(await h.client.waitRequest(retention)).toBe('COMPLETED');

  expect((await h.service.store.findRequest(null, retention))!.createdBy).toBe(SCHEDULER_USER);
  expect(SCHEDULER_USER).toBe('cachestore-scheduler');
  const events = (await h.client.get(`/v1/clusters/${c.id}/events`)).body.contents.filter((e: any) => e.request_id === retention).map((e: any) => e.message);
  expect(events).toContain(`removed 1 backup(s) (older than the retention period): ${old.body.resource.id}`);
  const left = (await h.client.get(`/v1/clusters/${c.id}/backup-histories`)).body.contents.map((x: any) => x.backup_history_number);
  expect(left).not.toContain(old.body.resource.id);
  expect(left).toHaveLength(1);
});
