// Commands against real engines, Redis OSS and Valkey, standalone and HA: the catalogue and the
// name each command answers to; renaming and disabling on every node (old name unknown, new
// one works), with the AOF replayed after a restart, replicas in step, no acknowledged write
// lost under write load, and the names kept across a failover and a healed node; bad requests
// refused with nothing changed; Synchronize Commands.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/engines/client.js';
import { MODIFIABLE_COMMANDS, SERVICE_OWNED_COMMANDS } from '../../src/domain/command-catalog.js';
import { clusterNodes } from '../../src/operations/nodes.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { missingKeys, startWriter, sentinelTargetOf, waitFor, type SentinelTarget } from '../support/writer.js';

const PASSWORD = 'Secr3t!pass';
let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_HEAL_AFTER_MS: '1500', CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

async function run202(method: string, path: string, body?: unknown, timeoutMs = 90_000): Promise<void> {
  const r = await h.client.request(method, path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const state = await h.client.waitRequest(r.body.request_id, timeoutMs);
  const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
  expect(state, JSON.stringify(details)).toBe('COMPLETED');
}

async function list(id: string): Promise<Map<string, any>> {
  const r = await h.client.get(`/v1/clusters/${id}/commands`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.total_count).toBe(r.body.contents.length);
  return new Map(r.body.contents.map((c: any) => [c.name, c]));
}

/** Runs `fn` on every data node, by instance name, as the tenant would (cluster password). */
async function onEveryNode<T>(id: string, fn: (c: Redis) => Promise<T>): Promise<Record<string, T>> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const out: Record<string, T> = {};
  for (const n of clusterNodes(detail, await h.service.store.clusterSecrets(id)).data) {
    const c = connect({ host: n.ip, port: n.port, password: PASSWORD });
    c.on('error', () => undefined);
    try {
      await c.connect();
      out[detail.instances.find((i) => i.id === n.instanceId)!.name] = await fn(c);
    } finally {
      c.disconnect();
    }
  }
  return out;
}

async function primaryClient(id: string): Promise<Redis> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const primary = clusterNodes(detail, await h.service.store.clusterSecrets(id)).primary!;
  const c = connect({ host: primary.ip, port: primary.port, password: PASSWORD });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

const answer = (c: Redis, ...args: string[]) => c.call(args[0], ...args.slice(1)).then((r) => String(r), (e: Error) => e.message);

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s standalone', (product) => {
  let id: string;
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: `commands${word}`, instance_name_prefix: `cm${word[0].toLowerCase()}` }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    id = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
  });

  it('lists the catalogue: modifiable commands, the service-owned ones not modifiable, each under the name the engine answers to', async () => {
    const all = await list(id);
    const names = [...all.values()];
    expect(names.filter((c) => c.modifiable).map((c) => c.name).sort()).toEqual(MODIFIABLE_COMMANDS.map((c) => c.name).sort());
    expect(names.filter((c) => !c.modifiable).map((c) => c.name).sort()).toEqual(SERVICE_OWNED_COMMANDS.map((c) => c.name).sort());
    for (const n of ['CONFIG', 'SLAVEOF', 'REPLICAOF', 'DEBUG', 'SHUTDOWN', 'MODULE', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'SYNC', 'PSYNC', 'MIGRATE', 'FAILOVER', 'ACL']) {
      expect(all.get(n)?.modifiable, n).toBe(false);
    }
    for (const n of ['PING', 'INFO', 'AUTH', 'CLIENT', 'MULTI', 'EXEC']) expect(all.has(n), n).toBe(false);
    for (const c of names) expect(c.applied_value, c.name).toBe(c.name);
  });

  it('refuses service-owned commands, unknown ids, bad and taken names, changing nothing', async () => {
    const all = await list(id);
    const put = (commands: unknown[]) => h.client.request('PUT', `/v1/clusters/${id}/commands`, { commands });
    const item = (name: string, newValue: string) => ({ id: all.get(name).id, name, new_value: newValue });
    const cases: Array<[unknown[], string, RegExp]> = [
      [[item('CONFIG', 'MYCONFIG')], 'body.commands.0.id', /CONFIG is owned by the service/],
      [[{ id: 'f'.repeat(32), name: 'FLUSHALL', new_value: 'NOFLUSH' }], 'body.commands.0.id', /not a command of the catalogue/],
      [[{ ...item('FLUSHALL', 'NOFLUSH'), name: 'KEYS' }], 'body.commands.0.name', /is 'KEYS' but id .* is FLUSHALL/],
      [[item('FLUSHALL', 'NO FLUSH')], 'body.commands.0.new_value', /is not a command name/],
      [[item('FLUSHALL', 'GET')], 'body.commands.0.new_value', /'GET' is a command of the engine already/],
      [[item('FLUSHALL', 'KEYS')], 'body.commands.0.new_value', /the name of another command/],
      [[item('FLUSHALL', 'ZAPALL'), item('FLUSHDB', 'zapall')], 'body.commands.1.new_value', /ZAPALL would name both FLUSHALL and FLUSHDB/],
      [[item('KEYS', 'LISTKEYS'), item('KEYS', 'DISABLED')], 'body.commands.1.id', /KEYS is named twice/],
      [[], 'body.commands', /name at least one command/],
    ];
    for (const [body, loc, msg] of cases) {
      const e = expectErrorShape(await put(body), 400, 'ValidationError');
      expect(e.detail.map((d: any) => d.loc.join('.')), JSON.stringify(e.detail)).toEqual([loc]);
      expect(e.detail[0].msg).toMatch(msg);
    }
    expect(await h.service.store.activeRequest(id)).toBeUndefined();
    for (const c of (await list(id)).values()) expect(c.applied_value).toBe(c.name);
    expectErrorShape(await h.client.request('PUT', `/v1/clusters/${'0'.repeat(32)}/commands`, { commands: [item('KEYS', 'DISABLED')] }), 404, 'NotFound');
    expectErrorShape(await h.client.post(`/v1/clusters/${'0'.repeat(32)}/commands/sync`), 404, 'NotFound');
  });

  it('renames and disables: the old name is unknown, the new one works, and the AOF replays after a restart', async () => {
    const c0 = await primaryClient(id);
    try {
      await c0.set('before', '1');
    } finally {
      c0.disconnect();
    }
    const all = await list(id);
    await run202('PUT', `/v1/clusters/${id}/commands`, {
      commands: [{ id: all.get('FLUSHDB').id, name: 'FLUSHDB', new_value: 'cleardb' }, { id: all.get('KEYS').id, name: 'KEYS', new_value: 'DISABLED' }],
    });
    const after = await list(id);
    expect(after.get('FLUSHDB').applied_value).toBe('CLEARDB');
    expect(after.get('KEYS').applied_value).toBe('DISABLED');
    expect(after.get('FLUSHALL').applied_value).toBe('FLUSHALL');
    const c = await primaryClient(id);
    try {
      expect(await c.get('before')).toBe('1');
      expect(await answer(c, 'FLUSHDB')).toMatch(/unknown command/i);
      expect(await answer(c, 'KEYS', '*')).toMatch(/unknown command/i);
      expect(await answer(c, 'CLEARDB')).toBe('OK');
      expect(await c.dbsize()).toBe(0);
      await c.set('after', '2');
    } finally {
      c.disconnect();
    }
    // The AOF now holds CLEARDB: a restart replays it under the same map.
    await run202('POST', `/v1/clusters/${id}/restart`);
    const c2 = await primaryClient(id);
    try {
      expect(await c2.get('before')).toBeNull();
      expect(await c2.get('after')).toBe('2');
      expect(await answer(c2, 'FLUSHDB')).toMatch(/unknown command/i);
    } finally {
      c2.disconnect();
    }
    await run202('POST', `/v1/clusters/${id}/commands/sync`);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
    expect(events).toMatch(/commands: every data node answers to the service's names/);
  });

  it('a restore gets the source\'s command names', async () => {
    const b = await h.client.post(`/v1/clusters/${id}/backup-histories`);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    expect(await h.client.waitRequest(b.body.request_id, 60_000)).toBe('COMPLETED');
    const r = await h.client.post(`/v1/clusters/${id}/restore`, {
      name: `restoredcmd${word}`, instance_name_prefix: `rc${word[0].toLowerCase()}`, server_type_name: word === 'Redis' ? 'redis1v1m2' : 'css1v1m2', backup_history_number: b.body.resource.id,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    const restored = await list(r.body.resource.id);
    expect(restored.get('FLUSHDB').applied_value).toBe('CLEARDB');
    expect(restored.get('KEYS').applied_value).toBe('DISABLED');
    const c = await primaryClient(r.body.resource.id);
    try {
      expect(await c.get('after')).toBe('2');
      expect(await answer(c, 'FLUSHDB')).toMatch(/unknown command/i);
    } finally {
      c.disconnect();
    }
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s standalone, a node started with another map', (product) => {
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';

  it('Synchronize Commands records the difference and rolls the service\'s names out again', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: `drift${word}`, instance_name_prefix: `dr${word[0].toLowerCase()}` }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const id = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    const all = await list(id);
    await run202('PUT', `/v1/clusters/${id}/commands`, { commands: [{ id: all.get('KEYS').id, name: 'KEYS', new_value: 'DISABLED' }] });
    // Behind the service's back: the node restarted from a configuration without the map.
    const driver = h.service.driver;
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const [node] = clusterNodes(detail, await h.service.store.clusterSecrets(id)).data;
    await driver.stop(node, { save: true });
    await driver.configure({ ...node, commands: {} });
    await driver.launch(node);
    await driver.waitReady(node, 15_000);
    expect((await list(id)).get('KEYS').applied_value).toBe('KEYS');
    // The reconciler may have seen the node down meanwhile: the cluster's state first.
    await run202('POST', `/v1/clusters/${id}/sync-state`);
    await h.client.waitState(id, 'RUNNING');
    await run202('POST', `/v1/clusters/${id}/commands/sync`);
    expect((await list(id)).get('KEYS').applied_value).toBe('DISABLED');
    const c = await primaryClient(id);
    try {
      expect(await answer(c, 'KEYS', '*')).toMatch(/unknown command/i);
    } finally {
      c.disconnect();
    }
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
    expect(events).toMatch(/: KEYS answers as KEYS, the service holds DISABLED/);
    expect(events).toMatch(/restarted with the new command names/);
  });
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s HA', (product) => {
  let id: string;
  let body: any;
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';
  const name = `commandsha${word}`;
  const target = (): SentinelTarget => sentinelTargetOf(body, PASSWORD);

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name, instance_name_prefix: `ch${word[0].toLowerCase()}` }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    id = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    body = (await h.client.get(`/v1/clusters/${id}`)).body;
  });

  it('renames on every node under write load: no acknowledged write lost, replicas in step', async () => {
    const all = await list(id);
    const writer = startWriter(target(), `cmd-${word}`);
    // A tenant sends SWAPDB 0 0 (a harmless replicated write) to the primary all along: while
    // nodes run different maps it is denied.
    const tenant = await primaryClient(id);
    const swaps = new Set<string>();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        swaps.add((await answer(tenant, 'SWAPDB', '0', '0')).split(' ')[0]);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      await waitFor('writes', async () => writer.ackedCount() > 200);
      await run202('PUT', `/v1/clusters/${id}/commands`, {
        commands: [{ id: all.get('FLUSHDB').id, name: 'FLUSHDB', new_value: 'CLEARDB' }, { id: all.get('HGETALL').id, name: 'HGETALL', new_value: 'DISABLED' }],
      });
      const at = writer.ackedCount();
      await waitFor('writes after the rename', async () => writer.ackedCount() > at + 200);
    } finally {
      polling = false;
      await poll;
      tenant.disconnect();
      const result = await writer.stop();
      expect(await missingKeys(target(), result.acked)).toEqual([]);
    }
    expect(swaps.has('OK')).toBe(true);
    expect(swaps.has('NOPERM')).toBe(true);
    const after = await primaryClient(id);
    try {
      expect(await answer(after, 'SWAPDB', '0', '0')).toBe('OK');
    } finally {
      after.disconnect();
    }
    const answers = await onEveryNode(id, async (c) => [await answer(c, 'FLUSHDB'), await answer(c, 'HGETALL', 'x'), await answer(c, 'COMMAND', 'INFO', 'CLEARDB')]);
    expect(Object.keys(answers)).toHaveLength(3);
    for (const [node, [flushdb, hgetall, info]] of Object.entries(answers)) {
      expect(flushdb, node).toMatch(/unknown command/i);
      expect(hgetall, node).toMatch(/unknown command/i);
      // COMMAND INFO of the new name describes the command under its own name.
      expect(info, node).toMatch(/^flushdb,/);
    }
    // The new name replicates: every node ends with the same (empty) dataset.
    const c = await primaryClient(id);
    try {
      expect(await answer(c, 'CLEARDB')).toBe('OK');
      await c.set('marker', 'm');
    } finally {
      c.disconnect();
    }
    await waitFor('replicas in step', async () => Object.values(await onEveryNode(id, (n) => n.dbsize())).every((s) => s === 1), 10_000);
    expect((await list(id)).get('FLUSHDB').applied_value).toBe('CLEARDB');
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');
  });

  it('keeps the names across a failover, and the healed old primary runs them', async () => {
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const primary = detail.instances.find((i) => i.roleType === 'MASTER')!;
    for (const pid of await enginePids(primary.id)) process.kill(pid, 'SIGKILL');
    await waitFor('a new primary', async () => {
      const b = (await h.client.get(`/v1/clusters/${id}`)).body;
      const p = b.instance_groups.flatMap((g: any) => g.instances).find((i: any) => i.role_type === 'MASTER');
      return p && p.name !== primary.name;
    }, 30_000);
    const c = await primaryClient(id);
    try {
      expect(await answer(c, 'FLUSHDB')).toMatch(/unknown command/i);
    } finally {
      c.disconnect();
    }
    // Writes wait for the healed old primary: with one replica, the fence (README, Partitions and
    // fencing) refuses them while the new primary has no replica.
    await waitFor('the old primary healed', async () => (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups.flatMap((g: any) => g.instances).every((i: any) => i.service_state === 'RUNNING'), 30_000);
    const w = await primaryClient(id);
    try {
      await w.set('afterfailover', '1');
      expect(await answer(w, 'CLEARDB')).toBe('OK');
    } finally {
      w.disconnect();
    }
    const answers = await onEveryNode(id, async (n) => [await answer(n, 'FLUSHDB'), await answer(n, 'COMMAND', 'INFO', 'CLEARDB')]);
    for (const [node, [flushdb, info]] of Object.entries(answers)) {
      expect(flushdb, node).toMatch(/unknown command/i);
      expect(info, node).toMatch(/^flushdb,/);
    }
  });
});
