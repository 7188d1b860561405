// Both engines, through the signed HTTP API, against real engine processes: create, reach with
// redis-cli, stop (data persisted), start (data back), restart, terminate (process and files gone).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBody, engineVersions, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { withClient } from '../../src/engines/replication.js';
import { enginePids, onePid } from '../support/engines.js';

const run = promisify(execFile);

async function cli(ip: string, port: number, password: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', ip, '-p', String(port), '-a', password, '--no-auth-warning', ...args]);
  return stdout.trim();
}

let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness();
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

describe('catalogue', () => {
  it('offers Redis OSS and Valkey with the versions of the installed binaries', async () => {
    const { stdout: redis } = await run('redis-server', ['--version']);
    const { stdout: valkey } = await run('valkey-server', ['--version']);
    const byType = Object.fromEntries(engines.map((e) => [e.product_image_type, e.software_version]));
    expect(byType['Redis OSS Sentinel']).toBe(/v=(\S+)/.exec(redis)![1]);
    expect(byType['Valkey Sentinel']).toBe(/v=(\S+)/.exec(valkey)![1]);
  });

  it('lists server types per engine and filters them', async () => {
    const all = await h.client.get('/v1/server-types');
    expect(all.body.contents.map((t: any) => t.name)).toEqual(expect.arrayContaining(['redis1v2m4', 'css1v2m4']));
    const valkey = await h.client.get('/v1/server-types?product_image_type=Valkey%20Sentinel');
    expect(valkey.body.contents.length).toBeGreaterThan(0);
    expect(valkey.body.contents.every((t: any) => t.name.startsWith('css'))).toBe(true);
    const one = await h.client.get('/v1/server-types?name=redis1v2m4');
    expect(one.body.contents).toEqual([expect.objectContaining({ name: 'redis1v2m4', cpu_core: 2, memory_gb: 4 })]);
  });

  it('shows engine version properties, and 400 for an unknown version', async () => {
    const ok = await h.client.get(`/v1/engine-versions/${engines[0].id}/properties`);
    expect(ok.status).toBe(200);
    expect(ok.body.contents).toContainEqual({ name: 'software_version', value: engines[0].software_version });
    const bad = await h.client.get('/v1/engine-versions/00000000000000000000000000000000/properties');
    expect(bad.status).toBe(400);
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s standalone lifecycle', (product) => {
  let clusterId: string;
  let ip: string;
  const password = 'Secr3t!pass';
  const name = product.startsWith('Redis') ? 'lifecycleredis' : 'lifecyclevalkey';

  it('creates a cluster that reaches RUNNING and answers PING on the reported address', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name }));
    expect(r.status).toBe(202);
    expect(r.body.request_id).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(r.body.resource.id).toMatch(/^[0-9a-f]{32}$/);
    clusterId = r.body.resource.id;
    const outcome = await h.client.waitRequest(r.body.request_id);
    const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
    expect(outcome, JSON.stringify(details)).toBe('COMPLETED');
    const show = await h.client.get(`/v1/clusters/${clusterId}`);
    expect(show.body).toMatchObject({ name, service_state: 'RUNNING', product_image_type: product, software_version: engine.software_version });
    const inst = show.body.instance_groups[0].instances[0];
    expect(inst).toMatchObject({ role_type: 'MASTER', service_state: 'RUNNING' });
    ip = inst.service_ip_address;
    expect(ip).toMatch(/^127\./);
    expect(await cli(ip, 6378, password, 'PING')).toBe('PONG');
    // maxmemory follows the server type (1v1m2: 2 GB, 75% for data). CONFIG is the service's.
    const svc = await serviceEndpoint(h, clusterId, ip);
    expect(await withClient(svc, (c) => c.config('GET', 'maxmemory'))).toEqual(['maxmemory', String(Math.floor(2 * 0.75 * 1024 ** 3))]);
  });

  it('refuses a client without the password', async () => {
    const out = await run('redis-cli', ['-h', ip, '-p', '6378', 'GET', 'x']).then((r) => r.stdout);
    expect(out).toMatch(/NOAUTH/);
  });

  it('keeps data across stop and start', async () => {
    expect(await cli(ip, 6378, password, 'SET', 'survivor', 'still-here')).toBe('OK');
    const stop = await h.client.post(`/v1/clusters/${clusterId}/stop`);
    expect(stop.status).toBe(202);
    expect(await h.client.waitRequest(stop.body.request_id)).toBe('COMPLETED');
    const stopped = await h.client.get(`/v1/clusters/${clusterId}`);
    expect(stopped.body.service_state).toBe('STOPPED');
    expect(stopped.body.instance_groups[0].instances[0].service_state).toBe('STOPPED');
    await expect(cli(ip, 6378, password, 'PING')).rejects.toThrow();

    const start = await h.client.post(`/v1/clusters/${clusterId}/start`);
    expect(await h.client.waitRequest(start.body.request_id)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${clusterId}`)).body.service_state).toBe('RUNNING');
    expect(await cli(ip, 6378, password, 'GET', 'survivor')).toBe('still-here');
  });

  it('restarts the engine (a new process) with its data', async () => {
    const instanceId = (await h.service.store.clusterDetail(null, clusterId))!.instances[0].id;
    const before = await onePid(instanceId);
    const r = await h.client.post(`/v1/clusters/${clusterId}/restart`);
    expect(r.status).toBe(202);
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const after = await onePid(instanceId);
    expect(after).not.toBe(before);
    expect(await cli(ip, 6378, password, 'GET', 'survivor')).toBe('still-here');
  });

  it('terminates: process and files gone, the cluster shows TERMINATED and leaves the list', async () => {
    const instanceId = (await h.service.store.clusterDetail(null, clusterId))!.instances[0].id;
    const r = await h.client.delete(`/v1/clusters/${clusterId}`);
    expect(r.status).toBe(202);
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${clusterId}`)).body.service_state).toBe('TERMINATED');
    expect(await enginePids(instanceId)).toEqual([]);
    expect(existsSync(join(h.dataDir, 'engines', instanceId))).toBe(false);
    const list = await h.client.get('/v1/clusters');
    expect(list.body.contents.map((c: any) => c.id)).not.toContain(clusterId);
    const terminated = await h.client.get('/v1/clusters?service_state=TERMINATED');
    expect(terminated.body.contents.map((c: any) => c.id)).toContain(clusterId);
    // A terminated cluster takes no more operations.
    expect((await h.client.post(`/v1/clusters/${clusterId}/start`)).status).toBe(400);
  });
});
