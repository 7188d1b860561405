// Set Server Type against real engines, Redis OSS and Valkey: a standalone group resized online
// (same process, new maxmemory) and with a restart (io-threads changes), an HA group resized by a
// rolling restart under write load with no acknowledged write lost, the new values surviving a
// restart and a failover with its heal, and every refusal (a type too small for the data in use,
// unknown, of the other engine, the same type, the SENTINEL group, an unknown group, a cluster
// that is not RUNNING) answered in the error shape with nothing changed.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxMemoryBytes, findServerType, ioThreads } from '../../src/domain/catalog.js';
import { endpointOf } from '../../src/drivers/driver.js';
import { configGet } from '../../src/engines/parameters.js';
import { clusterNodes } from '../../src/operations/nodes.js';
import { asTenant } from '../support/dataset.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, startHarness, type Harness, completes } from '../support/harness.js';
import { missingKeys, sentinelTargetOf, startWriter, waitFor, type SentinelTarget } from '../support/writer.js';

const PASSWORD = 'Secr3t!pass';
type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

let h: Harness;
let engines: Engine[];

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_HEAL_AFTER_MS: '1500', CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

const createCluster = async (body: unknown): Promise<string> => (await completes(h.client, 'POST', '/v1/clusters', body)).id;
/** Sends a mutation and waits for it; on failure the request's error tells why. */
const run202 = async (method: string, path: string, body?: unknown, timeoutMs = 90_000): Promise<string> => (await completes(h.client, method, path, body, timeoutMs)).requestId;

async function show(id: string): Promise<any> {
  const r = await h.client.get(`/v1/clusters/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

function group(body: any, role: string): any {
  return body.instance_groups.find((g: any) => g.role_type === role);
}

/** Each data node's maxmemory and io-threads, by instance name, read with the service's own endpoint. */
async function onEveryNode(id: string): Promise<Record<string, Record<string, string>>> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const nodes = clusterNodes(detail, await h.service.store.clusterSecrets(id));
  const out: Record<string, Record<string, string>> = {};
  for (const n of nodes.data) out[detail.instances.find((i) => i.id === n.instanceId)!.name] = await configGet(endpointOf(n), ['maxmemory', 'io-threads']);
  return out;
}

/** What every data node of a `type` runs. */
function limitsOf(type: string): Record<string, string> {
  const t = findServerType(type)!;
  return { maxmemory: String(maxMemoryBytes(t)), 'io-threads': String(ioThreads(t)) };
}

function expectEverywhere(all: Record<string, Record<string, string>>, want: Record<string, string>, count: number) {
  expect(Object.keys(all)).toHaveLength(count);
  for (const [node, v] of Object.entries(all)) expect(v, node).toEqual(want);
}

async function events(id: string): Promise<string> {
  return (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
}

async function dataPids(id: string): Promise<number[]> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const data = detail.instances.filter((i) => i.roleType !== 'SENTINEL');
  return (await Promise.all(data.map((i) => enginePids(i.id)))).flat().sort();
}

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s standalone', (product) => {
  let id: string;
  let groupId: string;
  const redis = product.startsWith('Redis');
  const t = (size: string) => `${redis ? 'redis' : 'css'}1v${size}`;
  const word = redis ? 'Redis' : 'Valkey';

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const body = createBody(engine, { name: `resize${word}`, instance_name_prefix: `rs${redis ? 'r' : 'v'}` });
    body.instance_groups[0].server_type_name = t('2m4');
    id = await createCluster(body);
    groupId = group(await show(id), 'MASTER').id;
  });

  /** The refusal answered, and the type and maxmemory are as before. */
  async function refused(path: string, serverType: string, status: number, message: RegExp) {
    const before = await onEveryNode(id);
    const r = await h.client.post(path, { server_type_name: serverType });
    const e = expectErrorShape(r, status);
    const text = typeof e.detail === 'string' ? e.detail : e.detail.map((d: any) => d.msg).join('; ');
    expect(text).toMatch(message);
    const b = await show(id);
    expect(group(b, 'MASTER').server_type_name).toBe(t('2m4'));
    expect(b.service_state).toBe('RUNNING');
    expect(await onEveryNode(id)).toEqual(before);
  }

  it('refuses a type too small for the data in use, naming both figures, and changes nothing', async () => {
    // A cluster of its own: 1.6 GB written would make every later start of this one replay it.
    const engine = engines.find((e) => e.product_image_type === product)!;
    const body = createBody(engine, { name: `resizebig${word}`, instance_name_prefix: `rb${redis ? 'r' : 'v'}` });
    body.instance_groups[0].server_type_name = t('2m4');
    const big = await createCluster(body);
    try {
      const g = group(await show(big), 'MASTER');
      // 4 x 400 MB: more than the 1.5 GB maxmemory of a 2 GB type, less than the 3 GB of this one.
      await asTenant(g.instances[0].service_ip_address, 6378, async (c) => {
        for (let i = 0; i < 4; i++) await c.setrange(`big:${i}`, 400 * 1024 * 1024, 'x');
      });
      const before = await onEveryNode(big);
      const small = String(maxMemoryBytes(findServerType(t('1m2'))!));
      const r = await h.client.post(`/v1/instance-groups/${g.id}/resize`, { server_type_name: t('1m2') });
      const e = expectErrorShape(r, 400);
      expect(e.detail.map((d: any) => d.msg).join('; ')).toMatch(
        new RegExp(`${t('1m2')} cannot hold the data in use: the primary uses 1\\.\\d\\d GB \\(\\d+ bytes\\) and ${t('1m2')} gives maxmemory 1\\.50 GB \\(${small} bytes\\)`),
      );
      expect(group(await show(big), 'MASTER').server_type_name).toBe(t('2m4'));
      expect(await onEveryNode(big)).toEqual(before);
      expect(before).toEqual({ [g.instances[0].name]: limitsOf(t('2m4')) });
    } finally {
      await run202('DELETE', `/v1/clusters/${big}`);
    }
  });

  it('refuses an unknown type, one of the other engine, the same type and an unknown group', async () => {
    const path = `/v1/instance-groups/${groupId}/resize`;
    await refused(path, `${t('9m9')}`, 400, new RegExp(`'${t('9m9')}' is not a server type`));
    const other = redis ? 'css1v2m8' : 'redis1v2m8';
    await refused(path, other, 400, new RegExp(`'${other}' is a ${redis ? 'Valkey' : 'Redis OSS'} Sentinel server type, and cluster 'resize${word}' runs ${product}`));
    await refused(path, t('2m4'), 400, new RegExp(`already has server type ${t('2m4')}`));
    await refused('/v1/instance-groups/no-such-group/resize', t('2m8'), 404, /Instance group 'no-such-group' was not found/);
    await refused(path, '', 400, /'' is not a server type/);
  });

  it('resizes online when only maxmemory changes: the same process runs the new maxmemory', async () => {
    const pids = await dataPids(id);
    expect(pids).toHaveLength(1);
    await run202('POST', `/v1/instance-groups/${groupId}/resize`, { server_type_name: t('2m8') });
    expect(group(await show(id), 'MASTER').server_type_name).toBe(t('2m8'));
    expectEverywhere(await onEveryNode(id), limitsOf(t('2m8')), 1);
    expect(await dataPids(id)).toEqual(pids);
    expect(await events(id)).toMatch(/applying maxmemory online \(CONFIG SET\), no restart/);
  });

  it('restarts the engine when io-threads changes, and the values survive a restart', async () => {
    const pids = await dataPids(id);
    await run202('POST', `/v1/instance-groups/${groupId}/resize`, { server_type_name: t('4m16') });
    expect(group(await show(id), 'MASTER').server_type_name).toBe(t('4m16'));
    expectEverywhere(await onEveryNode(id), limitsOf(t('4m16')), 1);
    expect(limitsOf(t('4m16'))['io-threads']).toBe('2');
    expect(await dataPids(id)).not.toEqual(pids);
    expect(await events(id)).toMatch(/io-threads changes, applying by a rolling restart/);

    await run202('POST', `/v1/clusters/${id}/restart`);
    expectEverywhere(await onEveryNode(id), limitsOf(t('4m16')), 1);
  });

  it('a resize whose restart fails (the engine cannot save) keeps the old type, maxmemory and process', async () => {
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const dump = join(h.dataDir, 'engines', detail.instances[0].id, 'data', 'dump.rdb');
    await rm(dump, { recursive: true, force: true });
    await mkdir(join(dump, 'in-the-way'), { recursive: true });
    try {
      const pids = await dataPids(id);
      expect(pids).toHaveLength(1);
      const r = await h.client.post(`/v1/instance-groups/${groupId}/resize`, { server_type_name: t('2m8') });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await h.client.waitRequest(r.body.request_id, 90_000)).toBe('FAILED');
      const d = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
      expect(d.error).toMatch(new RegExp(`changing the server type to ${t('2m8')} failed \\(.*refused to shut down.*\\); the server type is ${t('4m16')} again`));
      const b = await show(id);
      expect(group(b, 'MASTER').server_type_name).toBe(t('4m16'));
      expect(b.service_state).toBe('RUNNING');
      expectEverywhere(await onEveryNode(id), limitsOf(t('4m16')), 1);
      expect(await dataPids(id)).toEqual(pids);
    } finally {
      await rm(dump, { recursive: true, force: true });
    }
  });

  it('refuses a cluster that is not RUNNING, naming its state', async () => {
    await run202('POST', `/v1/clusters/${id}/stop`);
    const r = await h.client.post(`/v1/instance-groups/${groupId}/resize`, { server_type_name: t('2m8') });
    const e = expectErrorShape(r, 400);
    expect(e.detail).toMatch(/is STOPPED; set-server-type is allowed only when it is RUNNING/);
    expect(group(await show(id), 'MASTER').server_type_name).toBe(t('4m16'));
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s HA', (product) => {
  let id: string;
  let body: any;
  const redis = product.startsWith('Redis');
  const t = (size: string) => `${redis ? 'redis' : 'css'}1v${size}`;
  const word = redis ? 'Redis' : 'Valkey';
  const target = (): SentinelTarget => sentinelTargetOf(body, PASSWORD);

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    id = await createCluster(haBody(engine, 1, { name: `resizeha${word}`, instance_name_prefix: `rh${redis ? 'r' : 'v'}` }));
    body = await show(id);
  });

  it('refuses the SENTINEL group: it holds no data', async () => {
    const r = await h.client.post(`/v1/instance-groups/${group(body, 'SENTINEL').id}/resize`, { server_type_name: t('2m8') });
    const e = expectErrorShape(r, 400);
    expect(e.detail).toMatch(/is the SENTINEL group of cluster 'resizeha\w+': its Sentinel holds no data/);
    const b = await show(id);
    expect(group(b, 'SENTINEL').server_type_name).toBe(t('1m2'));
    expectEverywhere(await onEveryNode(id), limitsOf(t('1m2')), 2);
  });

  it('resizes by a rolling restart under write load when io-threads changes: no acknowledged write lost', async () => {
    const primaryBefore = group(body, 'MASTER_REPLICA').instances.find((i: any) => i.role_type === 'MASTER').name;
    const writer = startWriter(target(), `resize-${word}`);
    try {
      await waitFor('writes', async () => writer.ackedCount() > 200);
      await run202('POST', `/v1/instance-groups/${group(body, 'MASTER_REPLICA').id}/resize`, { server_type_name: t('4m16') });
      const at = writer.ackedCount();
      await waitFor('writes after the resize', async () => writer.ackedCount() > at + 200);
    } finally {
      const result = await writer.stop();
      expect(await missingKeys(target(), result.acked)).toEqual([]);
      console.log(`[${product}] Set Server Type (HA): ${result.acked.length} writes acknowledged, longest gap ${result.longestGapMs} ms`);
    }
    const b = await show(id);
    expect(group(b, 'MASTER_REPLICA').server_type_name).toBe(t('4m16'));
    expect(group(b, 'SENTINEL').server_type_name).toBe(t('1m2'));
    expect(b.service_state).toBe('RUNNING');
    // The switchover moved the primary to the replica resized first.
    expect(group(b, 'MASTER_REPLICA').instances.find((i: any) => i.role_type === 'MASTER').name).not.toBe(primaryBefore);
    expectEverywhere(await onEveryNode(id), limitsOf(t('4m16')), 2);
  });

  it('resizes online when only maxmemory changes, and the value survives a failover and the heal', async () => {
    const pids = await dataPids(id);
    await run202('POST', `/v1/instance-groups/${group(body, 'MASTER_REPLICA').id}/resize`, { server_type_name: t('4m32') });
    expectEverywhere(await onEveryNode(id), limitsOf(t('4m32')), 2);
    expect(await dataPids(id)).toEqual(pids);

    const detail = (await h.service.store.clusterDetail(null, id))!;
    const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
    for (const pid of await enginePids(primary.id)) process.kill(pid, 'SIGKILL');
    await waitFor('a new primary', async () => {
      const p = group(await show(id), 'MASTER_REPLICA').instances.find((i: any) => i.role_type === 'MASTER');
      return p && p.name !== primary.name ? p : undefined;
    }, 30_000);
    await waitFor('the old primary healed', async () => (await enginePids(primary.id)).length > 0 && group(await show(id), 'MASTER_REPLICA').instances.every((i: any) => i.service_state === 'RUNNING'), 30_000);
    expectEverywhere(await onEveryNode(id), limitsOf(t('4m32')), 2);
    expect(group(await show(id), 'MASTER_REPLICA').server_type_name).toBe(t('4m32'));
  });
});
