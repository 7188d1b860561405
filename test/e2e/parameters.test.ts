// Parameters against real engines, Redis OSS and Valkey, standalone and HA: groups and their
// pages, the catalogue checked against what a fresh engine runs, runtime values on every node
// that survive a restart, a failover, a healed node and a restore, a restart-only value through
// the rolling restart under write load with no acknowledged write lost, Synchronize Parameter
// Values putting back what was changed behind the service's back, and bad requests refused
// with nothing changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOf } from '../../src/drivers/driver.js';
import { configGet, configSet } from '../../src/engines/parameters.js';
import { clusterNodes } from '../../src/operations/nodes.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, startHarness, type Harness, completes } from '../support/harness.js';
import { missingKeys, startWriter, sentinelTargetOf, waitFor, type SentinelTarget } from '../support/writer.js';

const PASSWORD = 'Secr3t!pass';
type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

let h: Harness;
let engines: Engine[];

beforeAll(async () => {
  // Reconcile often and heal a dead node after 1.5 s; Sentinel's down-after gets more margin
  // on a machine shared with other test files (see ha.test.ts).
  h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_HEAL_AFTER_MS: '1500', CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

const createCluster = async (body: unknown): Promise<string> => (await completes(h.client, 'POST', '/v1/clusters', body)).id;
/** Sends a mutation and waits for it; on failure the request's error tells why. */
const run202 = async (method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<string> => (await completes(h.client, method, path, body, timeoutMs)).requestId;

async function values(id: string): Promise<Map<string, any>> {
  const r = await h.client.get(`/v1/clusters/${id}/parameters`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.count).toBe(r.body.contents.length);
  return new Map(r.body.contents.map((p: any) => [p.name, p]));
}

/** Each data node's values of `names`, by instance name, read with the service's own endpoint. */
async function onEveryNode(id: string, names: string[]): Promise<Record<string, Record<string, string>>> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const nodes = clusterNodes(detail, await h.service.store.clusterSecrets(id));
  const out: Record<string, Record<string, string>> = {};
  for (const n of nodes.data) out[detail.instances.find((i) => i.id === n.instanceId)!.name] = await configGet(endpointOf(n), names);
  return out;
}

/** The same values on every data node. */
function expectEverywhere(all: Record<string, Record<string, string>>, want: Record<string, string>) {
  for (const [node, v] of Object.entries(all)) expect(v, node).toEqual(want);
}

function change(v: Map<string, any>, name: string, newValue: string) {
  return { id: v.get(name).id, old_value: v.get(name).applied_value, new_value: newValue };
}

async function events(id: string): Promise<string[]> {
  return (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
}

describe('parameter groups and parameters', () => {
  it('one group per engine and major version, filtered and sorted', async () => {
    const all = await h.client.get('/v1/parameter-groups');
    expect(all.status).toBe(200);
    expect(all.body.sort).toEqual(['name:asc']);
    const names = all.body.contents.map((g: any) => g.name);
    expect(names).toEqual([...names].sort());
    for (const e of engines) {
      const major = e.software_version.split('.').slice(0, 2).join('.');
      const r = await h.client.get(`/v1/parameter-groups?product_image_type=${encodeURIComponent(e.product_image_type)}&major_version=${major}`);
      expect(r.body.contents).toHaveLength(1);
      expect(r.body.contents[0]).toMatchObject({ major_version: major, product_image_type: e.product_image_type });
      // The major number alone matches too.
      const alone = await h.client.get(`/v1/parameter-groups?product_image_type=${encodeURIComponent(e.product_image_type)}&major_version=${major.split('.')[0]}`);
      expect(alone.body.contents.map((g: any) => g.id)).toEqual([r.body.contents[0].id]);
    }
    const none = await h.client.get('/v1/parameter-groups?major_version=99');
    expect(none.body.contents).toEqual([]);
    const desc = await h.client.get('/v1/parameter-groups?sort=name:desc');
    expect(desc.body.contents.map((g: any) => g.name)).toEqual([...names].reverse());
    expectErrorShape(await h.client.get('/v1/parameter-groups?sort=bogus'), 400, 'ValidationError');
  });

  it('pages a group\'s parameters, and refuses an unknown group', async () => {
    const groups = (await h.client.get('/v1/parameter-groups')).body.contents;
    const g = groups.find((x: any) => x.product_image_type === 'Valkey Sentinel') ?? groups[0];
    const first = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=10&page=0`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ page: 0, size: 10, sort: ['name:asc'] });
    expect(first.body.contents).toHaveLength(10);
    const total = first.body.count;
    const all = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=1000`);
    expect(all.body.contents).toHaveLength(total);
    const names = all.body.contents.map((p: any) => p.name);
    expect(names).toEqual([...names].sort());
    expect(first.body.contents.map((p: any) => p.name)).toEqual(names.slice(0, 10));
    const second = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=10&page=1`);
    expect(second.body.contents.map((p: any) => p.name)).toEqual(names.slice(10, 20));
    const desc = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=3&sort=name:desc`);
    expect(desc.body.contents.map((p: any) => p.name)).toEqual([...names].reverse().slice(0, 3));
    const zero = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=0`);
    expect(zero.body).toMatchObject({ count: total, size: 0, contents: [] });
    for (const p of all.body.contents) expect(p.dbaas_parameter_group_id).toBe(g.id);
    const e = expectErrorShape(await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${'0'.repeat(32)}`), 400, 'ValidationError');
    expect(e.detail[0].loc).toEqual(['query', 'dbaas_parameter_group_id']);
    expectErrorShape(await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=1001`), 400, 'ValidationError');
  });

  it('Valkey has set-max-listpack-* and Redis 7.0 has not; maxmemory-samples allows 1..64 on Valkey only', async () => {
    const groups = (await h.client.get('/v1/parameter-groups')).body.contents;
    const names = async (product: string) => {
      const g = groups.find((x: any) => x.product_image_type === product);
      const r = await h.client.get(`/v1/parameters?dbaas_parameter_group_id=${g.id}&size=1000`);
      return r.body.contents.map((p: any) => p.name) as string[];
    };
    expect(await names('Valkey Sentinel')).toContain('set-max-listpack-entries');
    expect(await names('Redis OSS Sentinel')).not.toContain('set-max-listpack-entries');
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s standalone', (product) => {
  let id: string;
  const tag = product.startsWith('Redis') ? 'r' : 'v';
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    id = await createCluster(createBody(engine, { name: `params${word}`, instance_name_prefix: `ps${tag}` }));
  });

  it('lists what the engine runs: every fixed default of the catalogue is what a new cluster runs', async () => {
    const v = await values(id);
    expect(v.size).toBeGreaterThan(90);
    for (const p of v.values()) {
      expect(p.applied_value, p.name).toBe(p.default_value);
      expect(p.software_type).toBe(product.startsWith('Redis') ? 'Redis OSS' : 'Valkey');
    }
    expect(v.get('maxmemory-policy')).toMatchObject({ applied_value: 'volatile-lru', is_modifiable: true, apply_type: 'dynamic', data_type: 'enum' });
    expect(v.get('maxmemory')).toMatchObject({ applied_value: String(Math.floor(2 * 0.75 * 1024 ** 3)), is_modifiable: false });
    expect(v.get('tcp-backlog')).toMatchObject({ apply_type: 'static', is_modifiable: true, applied_value: '511' });
    expect(v.get('maxmemory-samples').allows_value).toBe(product.startsWith('Redis') ? '1..2147483647' : '1..64');
    for (const n of ['appendonly', 'save', 'port', 'bind', 'proc-title-template', 'replica-priority']) expect(v.get(n).is_modifiable, n).toBe(false);
    expect(v.has('requirepass')).toBe(false);
    expect(JSON.stringify([...v.values()])).not.toContain(PASSWORD);
  });

  it('refuses bad values, a stale old_value, unknown ids and service-owned parameters, changing nothing', async () => {
    const v = await values(id);
    const before = await onEveryNode(id, ['hz', 'maxmemory-policy', 'maxmemory']);
    const put = (parameters: unknown[]) => h.client.request('PUT', `/v1/clusters/${id}/parameters`, { parameters });
    const cases: Array<[unknown[], string, RegExp]> = [
      [[change(v, 'hz', '1000000000000')], 'body.parameters.0.new_value', /hz: "1000000000000" is not allowed; allowed: 0\.\.2147483647/],
      [[change(v, 'maxmemory-policy', 'lru')], 'body.parameters.0.new_value', /maxmemory-policy: "lru" is not allowed; allowed: volatile-lru,/],
      [[{ ...change(v, 'hz', '20'), old_value: '11' }], 'body.parameters.0.old_value', /hz: old_value "11" is not what the engines run now \("10"\)/],
      [[{ id: 'f'.repeat(32), old_value: '1', new_value: '2' }], 'body.parameters.0.id', /is not a parameter of cluster/],
      [[change(v, 'maxmemory', '1000')], 'body.parameters.0.id', /maxmemory is owned by the service/],
      [[change(v, 'hz', '20'), change(v, 'hz', '30')], 'body.parameters.1.id', /named twice/],
      [[change(v, 'hz', '20'), change(v, 'timeout', 'abc')], 'body.parameters.1.new_value', /timeout: "abc" is not allowed/],
      [[], 'body.parameters', /name at least one parameter/],
    ];
    for (const [body, loc, msg] of cases) {
      const e = expectErrorShape(await put(body), 400, 'ValidationError');
      expect(e.detail.map((d: any) => d.loc.join('.')), JSON.stringify(e.detail)).toEqual([loc]);
      expect(e.detail[0].msg).toMatch(msg);
    }
    expect(await onEveryNode(id, ['hz', 'maxmemory-policy', 'maxmemory'])).toEqual(before);
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
    expect(await h.service.store.activeRequest(id)).toBeUndefined();
    // Unknown cluster: 404.
    expectErrorShape(await h.client.request('PUT', `/v1/clusters/${'0'.repeat(32)}/parameters`, { parameters: [change(v, 'hz', '20')] }), 404, 'NotFound');
    expectErrorShape(await h.client.get(`/v1/clusters/${'0'.repeat(32)}/parameters`), 404, 'NotFound');
    expectErrorShape(await h.client.post(`/v1/clusters/${'0'.repeat(32)}/parameters/sync`), 404, 'NotFound');
  });

  it('sets runtime parameters at once, in the engine\'s own form, and keeps them across a restart', async () => {
    const v = await values(id);
    await run202('PUT', `/v1/clusters/${id}/parameters`, {
      parameters: [change(v, 'maxmemory-policy', 'allkeys-lfu'), change(v, 'hz', '25'), change(v, 'notify-keyspace-events', 'Ex'), change(v, 'active-defrag-ignore-bytes', '200mb')],
    });
    const want = { 'maxmemory-policy': 'allkeys-lfu', hz: '25', 'notify-keyspace-events': 'xE', 'active-defrag-ignore-bytes': String(200 * 1024 * 1024) };
    expectEverywhere(await onEveryNode(id, Object.keys(want)), want);
    const after = await values(id);
    for (const [k, val] of Object.entries(want)) expect(after.get(k).applied_value, k).toBe(val);
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
    await run202('POST', `/v1/clusters/${id}/restart`);
    expectEverywhere(await onEveryNode(id, Object.keys(want)), want);
  });

  it('applies a restart-only parameter by restarting the node', async () => {
    const v = await values(id);
    await run202('PUT', `/v1/clusters/${id}/parameters`, { parameters: [change(v, 'tcp-backlog', '2048')] });
    expectEverywhere(await onEveryNode(id, ['tcp-backlog', 'hz']), { 'tcp-backlog': '2048', hz: '25' });
    expect((await values(id)).get('tcp-backlog').applied_value).toBe('2048');
  });

  it('Synchronize Parameter Values records what changed behind the service\'s back and sets it back', async () => {
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const [node] = clusterNodes(detail, await h.service.store.clusterSecrets(id)).data;
    await configSet(endpointOf(node), { hz: '50', 'maxmemory-policy': 'noeviction', 'slowlog-max-len': '7' });
    await run202('POST', `/v1/clusters/${id}/parameters/sync`);
    expect(await configGet(endpointOf(node), ['hz', 'maxmemory-policy', 'slowlog-max-len'])).toEqual({ hz: '25', 'maxmemory-policy': 'allkeys-lfu', 'slowlog-max-len': '128' });
    const ev = (await events(id)).join('\n');
    expect(ev).toMatch(/hz was "50", the service holds "25"; set back/);
    expect(ev).toMatch(/maxmemory-policy was "noeviction", the service holds "allkeys-lfu"; set back/);
    expect(ev).toMatch(/slowlog-max-len was "7", the service holds "128"; set back/);
    expect(ev).toMatch(/parameters: 3 difference\(s\) found/);
  });

  it('a restore keeps the source\'s parameter values', async () => {
    const b = await h.client.post(`/v1/clusters/${id}/backup-histories`);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    expect(await h.client.waitRequest(b.body.request_id, 60_000)).toBe('COMPLETED');
    const r = await h.client.post(`/v1/clusters/${id}/restore`, {
      name: `restored${word}`, instance_name_prefix: `rs${tag}`, server_type_name: product.startsWith('Redis') ? 'redis1v1m2' : 'css1v1m2', backup_history_number: b.body.resource.id,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    expectEverywhere(await onEveryNode(r.body.resource.id, ['maxmemory-policy', 'hz']), { 'maxmemory-policy': 'allkeys-lfu', hz: '25' });
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s HA', (product) => {
  let id: string;
  let body: any;
  const tag = product.startsWith('Redis') ? 'r' : 'v';
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';
  const name = `paramsha${word}`;
  const target = (): SentinelTarget => sentinelTargetOf(body, PASSWORD);

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    id = await createCluster(haBody(engine, 1, { name, instance_name_prefix: `ph${tag}` }));
    body = (await h.client.get(`/v1/clusters/${id}`)).body;
  });

  it('sets a runtime parameter on every data node; it survives a failover and the healed old primary runs it', async () => {
    const v = await values(id);
    await run202('PUT', `/v1/clusters/${id}/parameters`, { parameters: [change(v, 'maxmemory-policy', 'allkeys-lru'), change(v, 'timeout', '300')] });
    const want = { 'maxmemory-policy': 'allkeys-lru', timeout: '300' };
    const all = await onEveryNode(id, Object.keys(want));
    expect(Object.keys(all)).toHaveLength(2);
    expectEverywhere(all, want);

    const detail = (await h.service.store.clusterDetail(null, id))!;
    const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
    for (const pid of await enginePids(primary.id)) process.kill(pid, 'SIGKILL');
    const moved = await waitFor('a new primary', async () => {
      const b = (await h.client.get(`/v1/clusters/${id}`)).body;
      const p = b.instance_groups.flatMap((g: any) => g.instances).find((i: any) => i.role_type === 'MASTER');
      return p && p.name !== primary.name ? p : undefined;
    }, 30_000);
    expect(moved.name).not.toBe(primary.name);
    const after = await values(id);
    expect(after.get('maxmemory-policy').applied_value).toBe('allkeys-lru');
    // The dead node is healed (restarted as a replica) from its configuration file.
    await waitFor('the old primary healed', async () => (await enginePids(primary.id)).length > 0 && (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups.flatMap((g: any) => g.instances).every((i: any) => i.service_state === 'RUNNING'), 30_000);
    expectEverywhere(await onEveryNode(id, Object.keys(want)), want);
  });

  it('applies a restart-only parameter by a rolling restart under write load: no acknowledged write lost', async () => {
    body = (await h.client.get(`/v1/clusters/${id}`)).body;
    const v = await values(id);
    const writer = startWriter(target(), `params-${tag}`);
    try {
      await waitFor('writes', async () => writer.ackedCount() > 200);
      await run202('PUT', `/v1/clusters/${id}/parameters`, { parameters: [change(v, 'tcp-backlog', '1024'), change(v, 'slowlog-max-len', '256')] });
      const at = writer.ackedCount();
      await waitFor('writes after the change', async () => writer.ackedCount() > at + 200);
    } finally {
      const result = await writer.stop();
      expect(await missingKeys(target(), result.acked)).toEqual([]);
      console.log(`[${product}] restart-only change: ${result.acked.length} writes acknowledged, longest gap ${result.longestGapMs} ms`);
    }
    expectEverywhere(await onEveryNode(id, ['tcp-backlog', 'slowlog-max-len', 'maxmemory-policy']), { 'tcp-backlog': '1024', 'slowlog-max-len': '256', 'maxmemory-policy': 'allkeys-lru' });
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
    expect((await events(id)).join('\n')).toMatch(/restart-only parameters tcp-backlog="1024": applying by a rolling restart/);
  });

  it('Synchronize Parameter Values finds every data node running the service\'s values after all that', async () => {
    await run202('POST', `/v1/clusters/${id}/parameters/sync`);
    const last = (await events(id)).filter((m) => m.startsWith('parameters:')).pop();
    expect(last).toBe('parameters: every data node runs the service\'s values');
  });

  it('a node that does not take a value leaves every node as before and the request names it', async () => {
    const v = await values(id);
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const replica = detail.instances.find((x) => x.roleType === 'REPLICA')!;
    const before = await onEveryNode(id, ['hz', 'slowlog-max-len']);
    // The replica's process is alive but does not answer (SIGSTOP): the primary, set first,
    // must be set back.
    const pids = await enginePids(replica.id);
    expect(pids).toHaveLength(1);
    process.kill(pids[0], 'SIGSTOP');
    let state: string;
    let r!: { status: number; body: any };
    try {
      r = await h.client.request('PUT', `/v1/clusters/${id}/parameters`, { parameters: [change(v, 'hz', '33'), change(v, 'slowlog-max-len', '99')] });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      state = await h.client.waitRequest(r.body.request_id, 30_000);
    } finally {
      process.kill(pids[0], 'SIGCONT');
    }
    const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
    expect(state, JSON.stringify(details)).toBe('FAILED');
    expect(details.error).toMatch(new RegExp(`^${replica.name} refused hz="33", slowlog-max-len="99": .*; .+ set back to the values before; nothing was kept$`));
    expect(await onEveryNode(id, ['hz', 'slowlog-max-len'])).toEqual(before);
    const after = await values(id);
    expect(after.get('hz').applied_value).toBe(v.get('hz').applied_value);
    expect((await h.service.store.findCluster(null, id))!.parameters.hz).toBeUndefined();
    await h.client.waitState(id, 'RUNNING');
  });
});
