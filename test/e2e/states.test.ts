// The states an operation shows through the API while it is in flight (README "Request states"
// and "Cluster states"), on real engines. One worker (CACHESTORE_WORKER_CONCURRENCY=1), so a
// request recorded while another runs waits REQUESTED; a pause after each workflow step
// (CACHESTORE_DEBUG_STEP_DELAY_MS) keeps each operation RUNNING long enough to look at it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { clusterStateWhile, instancesOf, primaryOf, waitRunning } from '../support/observe.js';

let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_WORKER_CONCURRENCY: '1', CACHESTORE_DEBUG_STEP_DELAY_MS: '300', CACHESTORE_HEAL_AFTER_MS: '0' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

async function created(body: Record<string, unknown>): Promise<string> {
  const r = await h.client.post('/v1/clusters', body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
  return r.body.resource.id;
}

async function submit(method: string, path: string, body?: unknown): Promise<string> {
  const r = await h.client.request(method, path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.request_id;
}

async function stateOf(id: string): Promise<string> {
  return (await h.client.get(`/v1/clusters/${id}`)).body.service_state;
}

describe('a standalone cluster through stop, start, restart and terminate', () => {
  let id: string;
  let other: string;

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type.startsWith('Redis'))!;
    id = await created(createBody(engine, { name: 'statesone' }));
    other = await created(createBody(engine, { name: 'statestwo' }));
  });

  it('shows CREATING while a create runs', async () => {
    const engine = engines.find((e) => e.product_image_type.startsWith('Valkey'))!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'statesnew' }));
    expect(r.status).toBe(202);
    expect(await clusterStateWhile(h.client, r.body.request_id, r.body.resource.id, 'RUNNING')).toBe('CREATING');
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    expect(await stateOf(r.body.resource.id)).toBe('RUNNING');
  });

  it('keeps a request REQUESTED while the only worker is busy, then runs it', async () => {
    const busy = await submit('POST', `/v1/clusters/${id}/restart`);
    await waitRunning(h.client, busy);
    const waiting = await submit('POST', `/v1/clusters/${other}/sync-state`);
    // Sync has no steps of its own: while it waits for the worker, the cluster already shows it.
    expect(await clusterStateWhile(h.client, waiting, other, 'REQUESTED')).toBe('SYNCHRONIZING');
    expect(await h.client.waitRequest(busy)).toBe('COMPLETED');
    expect(await h.client.waitRequest(waiting)).toBe('COMPLETED');
    expect(await stateOf(other)).toBe('RUNNING');
  });

  it('shows STOPPING during a stop and refuses another operation meanwhile, naming the state and the request', async () => {
    const stop = await submit('POST', `/v1/clusters/${id}/stop`);
    expect(await clusterStateWhile(h.client, stop, id, 'RUNNING')).toBe('STOPPING');
    const start = await h.client.post(`/v1/clusters/${id}/start`);
    const e = expectErrorShape(start, 400);
    expect(e.detail).toContain(`is STOPPING: request ${stop} is still in progress`);
    expect(await h.client.waitRequest(stop)).toBe('COMPLETED');
    expect(await stateOf(id)).toBe('STOPPED');
  });

  it('shows STARTING during a start', async () => {
    const start = await submit('POST', `/v1/clusters/${id}/start`);
    expect(await clusterStateWhile(h.client, start, id, 'RUNNING')).toBe('STARTING');
    expect(await h.client.waitRequest(start)).toBe('COMPLETED');
    expect(await stateOf(id)).toBe('RUNNING');
  });

  it('shows RESTARTING during a restart', async () => {
    const restart = await submit('POST', `/v1/clusters/${id}/restart`);
    expect(await clusterStateWhile(h.client, restart, id, 'RUNNING')).toBe('RESTARTING');
    expect(await h.client.waitRequest(restart)).toBe('COMPLETED');
    expect(await stateOf(id)).toBe('RUNNING');
  });

  it('shows TERMINATING during a terminate', async () => {
    const del = await submit('DELETE', `/v1/clusters/${id}`);
    expect(await clusterStateWhile(h.client, del, id, 'RUNNING')).toBe('TERMINATING');
    expect(await h.client.waitRequest(del)).toBe('COMPLETED');
    expect(await stateOf(id)).toBe('TERMINATED');
  });
});

describe('an HA cluster through a switchover', () => {
  it('shows EDITING during a switchover, then RUNNING with the replica as primary', async () => {
    const engine = engines.find((e) => e.product_image_type.startsWith('Valkey'))!;
    const id = await created(haBody(engine, 1, { name: 'statesha' }));
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    const replica = instancesOf(show).find((i) => i.role_type === 'REPLICA')!;
    const sw = await submit('POST', `/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
    expect(await clusterStateWhile(h.client, sw, id, 'RUNNING')).toBe('EDITING');
    expect(await h.client.waitRequest(sw)).toBe('COMPLETED');
    const after = (await h.client.get(`/v1/clusters/${id}`)).body;
    expect(after.service_state).toBe('RUNNING');
    expect(primaryOf(after)!.name).toBe(replica.name);
  });
});
