// HA clusters on real engines and Sentinels: topology, a Sentinel-aware client, automatic
// failover with no acknowledged write lost, the dead primary rejoining as a replica, planned
// switchover and rolling restart under write load, sync-state, and bad switchover requests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginePids, onePid, sigkillEngine } from '../support/engines.js';
import { createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { missingKeys, sentinelClient, startWriter, sentinelTargetOf, waitFor, type SentinelTarget } from '../support/writer.js';

const run = promisify(execFile);
const PASSWORD = 'Secr3t!pass';

let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  // Reconcile often, and start a dead node again 1.5 s after its death is seen (the first
  // restart's backoff), so the tests see both within seconds.
  // Sentinel's down-after gets more margin than the default (1100 ms) on a machine that runs
  // other test files at the same time: a false "down" starts a needless failover (README).
  h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_HEAL_AFTER_MS: '1500', CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

type Inst = { name: string; role_type: string; service_ip_address: string; service_state: string };

async function show(id: string) {
  return (await h.client.get(`/v1/clusters/${id}`)).body;
}
function instances(body: any): Inst[] {
  return body.instance_groups.flatMap((g: any) => g.instances);
}
function primaryOf(body: any): Inst | undefined {
  return instances(body).find((i) => i.role_type === 'MASTER');
}
const target = (body: any): SentinelTarget => sentinelTargetOf(body, PASSWORD);
async function role(ip: string): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', ip, '-p', '6378', '-a', PASSWORD, '--no-auth-warning', 'ROLE']);
  return stdout.split('\n')[0].trim();
}
async function instanceIdByName(clusterId: string, name: string): Promise<string> {
  return (await h.service.store.clusterDetail(null, clusterId))!.instances.find((i) => i.name === name)!.id;
}
/** waitFor, and on timeout the cluster as the API shows it and its events, to tell why. */
async function waitCluster<T>(id: string, what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  try {
    return await waitFor(what, fn, timeoutMs);
  } catch (err) {
    const b = await show(id);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => `${e.at} ${e.message}`);
    throw new Error(`${(err as Error).message}; cluster ${b.service_state} ${JSON.stringify(instances(b).map((i) => [i.name, i.role_type, i.service_state]))}; events:\n${events.slice(-15).join('\n')}`);
  }
}

async function run202(method: string, path: string, body?: unknown): Promise<void> {
  const r = await h.client.request(method, path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const state = await h.client.waitRequest(r.body.request_id, 40_000).catch(async (err) => {
    const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
    const events = (await h.client.get(`/v1/clusters/${r.body.resource.id}/events`)).body.contents.map((e: any) => `${e.at} ${e.message}`);
    const b = await show(r.body.resource.id);
    const roles = await Promise.all(instances(b).filter((i) => i.role_type !== 'SENTINEL').map(async (i) => `${i.name} ${i.service_ip_address} ${await role(i.service_ip_address).catch(() => 'dead')} ${await run('redis-cli', ['-h', i.service_ip_address, '-p', '6378', '-a', PASSWORD, '--no-auth-warning', 'INFO', 'replication']).then((o) => o.stdout.replace(/\r?\n/g, ' ').slice(0, 200)).catch(() => '')}`));
    throw new Error(`${(err as Error).message}; ${JSON.stringify(details)}; ${roles.join(' || ')}; events:\n${events.slice(-20).join('\n')}`);
  });
  const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
  expect(state, JSON.stringify(details)).toBe('COMPLETED');
}

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s HA cluster', (product) => {
  let id: string;
  let body: any;
  const name = product.startsWith('Redis') ? 'haredis' : 'havalkey';

  it('creates a primary, two replicas and Sentinels, all RUNNING', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    id = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    body = await show(id);
    expect(body).toMatchObject({ ha_enabled: true, service_state: 'RUNNING', instance_count: 4, init_config_option: { sentinel_port: 26378, database_port: 6378 } });
    const groups = Object.fromEntries(body.instance_groups.map((g: any) => [g.role_type, g.instances.map((i: Inst) => i.role_type).sort()]));
    expect(groups).toEqual({ MASTER_REPLICA: ['MASTER', 'REPLICA', 'REPLICA'], SENTINEL: ['SENTINEL'] });
    expect(instances(body).every((i) => i.service_state === 'RUNNING')).toBe(true);
    for (const i of instances(body).filter((x) => x.role_type === 'REPLICA')) expect(await role(i.service_ip_address)).toBe('slave');
    expect(await role(primaryOf(body)!.service_ip_address)).toBe('master');
  });

  it('serves a Sentinel-aware client that names the cluster as its master', async () => {
    const c = sentinelClient(target(body));
    try {
      expect(await c.set('hello', 'world')).toBe('OK');
      expect(await c.get('hello')).toBe('world');
      // Every Sentinel answers with the cluster password and names the same primary.
      for (const s of target(body).sentinels) {
        const { stdout } = await run('redis-cli', ['-h', s.host, '-p', '26378', '-a', PASSWORD, '--no-auth-warning', 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
        expect(stdout.split('\n')[0].trim()).toBe(primaryOf(body)!.service_ip_address);
      }
    } finally {
      c.disconnect();
    }
  });

  it('refuses bad switchover requests with a clear 400', async () => {
    const primary = primaryOf(body)!;
    const bad = [
      [{ switch_host_name: 'nosuchhost' }, /not a replica/],
      [{ switch_host_name: primary.name }, /primary already/],
      [{ switch_host_name: body.instance_groups.find((g: any) => g.role_type === 'SENTINEL').instances[0].name }, /not a replica/],
      [{}, /switch_host_name/],
    ] as const;
    for (const [req, msg] of bad) {
      const r = await h.client.post(`/v1/clusters/${id}/switchover`, req);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body.errors[0].detail)).toMatch(msg);
    }
  });

  it('switches over under write load: zero acknowledged writes lost; the pause on the primary ends before its 5 s safety limit', async () => {
    const before = primaryOf(await show(id))!;
    const replica = instances(await show(id)).find((i) => i.role_type === 'REPLICA')!;
    const writer = startWriter(target(body), `sw-${name}`);
    await waitFor('writes', async () => writer.ackedCount() > 200);
    await run202('POST', `/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
    const ackedAtSwitch = writer.ackedCount();
    await waitFor('writes after the switchover', async () => writer.ackedCount() > ackedAtSwitch + 200);
    const result = await writer.stop();
    body = await show(id);
    expect(primaryOf(body)!.name).toBe(replica.name);
    expect(instances(body).find((i) => i.name === before.name)!.role_type).toBe('REPLICA');
    expect(await role(replica.service_ip_address)).toBe('master');
    expect(await role(before.service_ip_address)).toBe('slave');
    expect(await missingKeys(target(body), result.acked)).toEqual([]);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
    // The switchover ends the pause itself (CLIENT UNPAUSE), well before the 5 s after which
    // the engine would end it on its own; the writer never waited as long as that either.
    const paused = events.join('\n').match(/writes paused (\d+) ms/);
    expect(paused, events.join('\n')).not.toBeNull();
    expect(Number(paused![1])).toBeLessThan(5000);
    expect(result.longestGapMs).toBeLessThan(5000);
  });

  it('fails over automatically when the primary is SIGKILLed, losing no acknowledged write', async () => {
    const old = primaryOf(await show(id))!;
    const writer = startWriter(target(body), `fo-${name}`);
    await waitFor('writes', async () => writer.ackedCount() > 200);
    await sigkillEngine(await instanceIdByName(id, old.name));
    // The API learns the new primary from Sentinel within seconds.
    const after = await waitCluster(id, 'a new primary in Show Cluster', async () => {
      const b = await show(id);
      const p = primaryOf(b);
      return p && p.name !== old.name && p.service_state === 'RUNNING' ? b : undefined;
    });
    expect(after.service_state).toBe('RUNNING');
    const ackedAtFailover = writer.ackedCount();
    await waitCluster(id, 'writes on the new primary', async () => writer.ackedCount() > ackedAtFailover + 200);
    const result = await writer.stop();
    expect(await missingKeys(target(after), result.acked)).toEqual([]);

    // The dead node comes back (healed) and rejoins as a replica of the new primary.
    const rejoined = await waitCluster(id, 'the old primary to rejoin as a replica', async () => {
      const b = await show(id);
      const i = instances(b).find((x) => x.name === old.name)!;
      return i.role_type === 'REPLICA' && i.service_state === 'RUNNING' ? b : undefined;
    });
    expect(await role(old.service_ip_address)).toBe('slave');
    body = rejoined;
  });

  it('reports a killed replica on sync-state: the instance ERROR, the cluster still RUNNING', async () => {
    const replica = instances(await show(id)).find((i) => i.role_type === 'REPLICA')!;
    await sigkillEngine(await instanceIdByName(id, replica.name));
    await run202('POST', `/v1/clusters/${id}/sync-state`);
    const b = await show(id);
    expect(b.service_state).toBe('RUNNING');
    expect(instances(b).find((i) => i.name === replica.name)!.service_state).toBe('ERROR');
    // Healing brings it back as a replica.
    await waitCluster(id, 'the replica to come back', async () => {
      const i = instances(await show(id)).find((x) => x.name === replica.name)!;
      return i.service_state === 'RUNNING' && i.role_type === 'REPLICA';
    });
  });

  it('restarts rolling under write load: replicas first, then the old primary after a switchover (the only time Sentinels restart); writes go on; none lost', async () => {
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const data = detail.instances.filter((i) => i.roleType !== 'SENTINEL');
    const oldPrimary = data.find((i) => i.roleType === 'MASTER')!;
    const sentinelIds = [...detail.instances.filter((i) => i.roleType === 'SENTINEL').map((i) => i.id), ...data.map((i) => `${i.id}-sentinel`)];
    const pidsBefore = await Promise.all(data.map((i) => onePid(i.id)));
    const sentinelPidsBefore = await Promise.all(sentinelIds.map((n) => onePid(n)));
    const writer = startWriter(target(body), `rr-${name}`);
    await waitFor('writes', async () => writer.ackedCount() > 200);

    // When each data node's new process appeared, and every Sentinel process seen, by polling
    // while the restart runs.
    const restartedAt = new Map<string, number>();
    const sentinelPidsSeen = sentinelIds.map((_, i) => new Set([sentinelPidsBefore[i]]));
    let sentinelsRestartedAt = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const [i, n] of data.entries()) {
          if (restartedAt.has(n.id)) continue;
          const pids = await enginePids(n.id);
          if (pids.length === 1 && pids[0] !== pidsBefore[i]) restartedAt.set(n.id, Date.now());
        }
        for (const [i, n] of sentinelIds.entries()) {
          for (const pid of await enginePids(n)) {
            if (!sentinelPidsSeen[i].has(pid)) sentinelsRestartedAt ||= Date.now();
            sentinelPidsSeen[i].add(pid);
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await run202('POST', `/v1/clusters/${id}/restart`);
    } finally {
      polling = false;
      await poll;
    }
    const finishedAt = Date.now();
    const ackedAfter = writer.ackedCount();
    await waitFor('writes after the restart', async () => writer.ackedCount() > ackedAfter + 100);
    const result = await writer.stop();

    // Every data node is a new process; the replicas went first, the old primary last.
    expect([...restartedAt.keys()].sort()).toEqual(data.map((i) => i.id).sort());
    const order = [...restartedAt.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n);
    expect(order[order.length - 1]).toBe(oldPrimary.id);
    // The Sentinels are not restarted with the data nodes: each restarts once, in the
    // switchover (as every switchover restarts them), after the replicas and before the old primary.
    const sentinelPidsAfter = await Promise.all(sentinelIds.map((n) => onePid(n)));
    sentinelIds.forEach((_, i) => expect([...sentinelPidsSeen[i]]).toEqual([sentinelPidsBefore[i], sentinelPidsAfter[i]]));
    expect(sentinelsRestartedAt).toBeGreaterThan(Math.max(...data.filter((i) => i.id !== oldPrimary.id).map((i) => restartedAt.get(i.id)!)));
    expect(sentinelsRestartedAt).toBeLessThan(restartedAt.get(oldPrimary.id)!);
    // Writes were acknowledged while each node was down and between restarts.
    const times = [...restartedAt.values()].sort((a, b) => a - b);
    const windows = times.map((t, i) => [t, times[i + 1] ?? finishedAt] as const);
    for (const [from, to] of windows) {
      expect(result.ackedAt.some((a) => a > from && a <= to), `no write acknowledged between ${from} and ${to}`).toBe(true);
    }

    body = await show(id);
    expect(body.service_state).toBe('RUNNING');
    // The switchover made a restarted replica the primary; the old primary came back as a replica.
    expect(instances(body).filter((i) => i.role_type === 'MASTER')).toHaveLength(1);
    expect(primaryOf(body)!.name).not.toBe(oldPrimary.name);
    expect(instances(body).find((i) => i.name === oldPrimary.name)!.role_type).toBe('REPLICA');
    const missing = await missingKeys(target(body), result.acked);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => `${e.at} ${e.message}`);
    const roles = await Promise.all(instances(body).filter((i) => i.role_type !== 'SENTINEL').map(async (i) => `${i.name} ${i.service_ip_address} ${await role(i.service_ip_address)}`));
    expect(missing.length, `${missing.length} of ${result.acked.length} lost (first ${missing[0]}); ${roles.join('; ')}; events:\n${events.slice(-25).join('\n')}`).toBe(0);
  });

  it('stops every process, starts them again with the data, and terminates them all', async () => {
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const nodeIds = [...detail.instances.map((i) => i.id), ...detail.instances.filter((i) => i.roleType !== 'SENTINEL').map((i) => `${i.id}-sentinel`)];
    const c = sentinelClient(target(body));
    await c.set('across-stop', 'yes');
    c.disconnect();
    await run202('POST', `/v1/clusters/${id}/stop`);
    expect((await show(id)).service_state).toBe('STOPPED');
    for (const n of nodeIds) expect(await enginePids(n)).toEqual([]);
    await run202('POST', `/v1/clusters/${id}/start`);
    body = await show(id);
    expect(body.service_state).toBe('RUNNING');
    for (const n of nodeIds) expect(await enginePids(n)).toHaveLength(1);
    const c2 = sentinelClient(target(body));
    expect(await c2.get('across-stop')).toBe('yes');
    c2.disconnect();
    await run202('DELETE', `/v1/clusters/${id}`);
    for (const n of nodeIds) expect(await enginePids(n)).toEqual([]);
  });
});

describe('HA requests that do not fit', () => {
  it('answers 400 naming the expected shape when groups, instances and replica_count disagree', async () => {
    const engine = engines[0];
    const two = haBody(engine, 2, { name: 'shapeone' }) as any;
    const cases: Array<[string, any, RegExp]> = [
      ['replica_count 0', { ...two, replica_count: 0 }, /must be 1 or 2/],
      ['replica_count 1 with two replicas', { ...two, replica_count: 1 }, /one MASTER instance and 1 REPLICA/],
      ['no SENTINEL group', { ...two, instance_groups: [two.instance_groups[0]] }, /SENTINEL with one SENTINEL instance/],
      ['a MASTER group instead', { ...two, instance_groups: [{ ...two.instance_groups[0], role_type: 'MASTER' }, two.instance_groups[1]] }, /MASTER_REPLICA/],
      ['two SENTINEL instances', { ...two, instance_groups: [two.instance_groups[0], { ...two.instance_groups[1], instances: [{ role_type: 'SENTINEL' }, { role_type: 'SENTINEL' }] }] }, /one SENTINEL instance/],
      ['equal ports', { ...two, init_config_option: { database_user_password: PASSWORD, database_port: 7000, sentinel_port: 7000 } }, /differ/],
    ];
    for (const [what, req, msg] of cases) {
      const r = await h.client.post('/v1/clusters', req);
      expect(r.status, what).toBe(400);
      expect(JSON.stringify(r.body.errors[0].detail), what).toMatch(msg);
    }
    expect((await h.client.get('/v1/clusters?name=shapeone')).body.count).toBe(0);
  });

  it('refuses a switchover on a standalone cluster and on a stopped HA cluster', async () => {
    const engine = engines[0];
    const s = await h.client.post('/v1/clusters', createBody(engine, { name: 'soloswitch' }));
    expect(await h.client.waitRequest(s.body.request_id)).toBe('COMPLETED');
    const r1 = await h.client.post(`/v1/clusters/${s.body.resource.id}/switchover`, { switch_host_name: 'tst-01' });
    expect(r1.status).toBe(400);
    expect(r1.body.errors[0].detail).toMatch(/standalone/);

    const ha = await h.client.post('/v1/clusters', haBody(engine, 1, { name: 'stoppedswitch' }));
    expect(await h.client.waitRequest(ha.body.request_id, 60_000)).toBe('COMPLETED');
    await run202('POST', `/v1/clusters/${ha.body.resource.id}/stop`);
    const r2 = await h.client.post(`/v1/clusters/${ha.body.resource.id}/switchover`, { switch_host_name: 'tst-02' });
    expect(r2.status).toBe(400);
    expect(r2.body.errors[0].detail).toContain('STOPPED');
  });
});

describe('failover by Sentinel alone (the service does not see the death)', () => {
  it('promotes a replica when the primary watch is off, and the API learns it from Sentinel', async () => {
    const own = await startHarness({ CACHESTORE_PRIMARY_WATCH_MS: '0', CACHESTORE_RECONCILE_INTERVAL_MS: '0', CACHESTORE_HEAL_AFTER_MS: '0' });
    try {
      const engine = (await engineVersions(own.client))[0];
      // Two replicas: the new primary keeps one, so its fence (README, Partitions and fencing)
      // lets the write below through while healing is off and the old primary stays dead.
      const r = await own.client.post('/v1/clusters', haBody(engine, 2, { name: 'sentinelonly' }));
      expect(await own.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
      const id = r.body.resource.id;
      const detail = (await own.service.store.clusterDetail(null, id))!;
      const old = detail.instances.find((i) => i.roleType === 'MASTER')!;
      await sigkillEngine(old.id);
      // No periodic reconcile: only the Sentinel event subscription can tell the API.
      const b = await waitFor('Sentinel to promote the replica', async () => {
        const s = (await own.client.get(`/v1/clusters/${id}`)).body;
        const p = instances(s).find((i) => i.role_type === 'MASTER');
        return p && p.name !== old.name && s.service_state === 'RUNNING' ? s : undefined;
      }, 30_000);
      const events = (await own.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
      expect(events).not.toMatch(/asked Sentinel to fail over/);
      const c = sentinelClient(target(b));
      expect(await c.set('after', 'failover')).toBe('OK');
      c.disconnect();
    } finally {
      await own.stop();
    }
  });
});
