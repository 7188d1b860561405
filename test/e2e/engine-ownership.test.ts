// The service owns its engines: with the cluster password a tenant runs data commands and
// discovers the primary through Sentinel, but cannot reconfigure, detach, stop or hide an engine
// or a Sentinel (NOPERM). And a process title changed behind the service's back (forced here
// through the service's own user) does not make the service lose or misjudge the engine.
import { asTenant } from '../support/dataset.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identify } from '../../src/drivers/local/processes.js';
import { SERVICE_USER } from '../../src/engines/acl.js';
import { withClient } from '../../src/engines/replication.js';
import { enginePidOf, enginePids } from '../support/engines.js';
import { createBody, engineVersions, haBody, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/writer.js';


let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness();
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});


/** The error the engine answers a command with ('' when it succeeded). */
async function refusal(ip: string, port: number, ...cmd: string[]): Promise<string> {
  return asTenant(ip, port, (c) => c.call(cmd[0], ...cmd.slice(1)).then(() => '', (err: Error) => err.message));
}

const REFUSED_ON_DATA_NODES: string[][] = [
  ['CONFIG', 'SET', 'proc-title-template', '{title} mine'], ['CONFIG', 'GET', 'port'], ['ACL', 'SETUSER', 'default', 'off'],
  ['REPLICAOF', 'NO', 'ONE'], ['SLAVEOF', 'NO', 'ONE'], ['SHUTDOWN', 'NOSAVE'], ['MODULE', 'LIST'], ['SAVE'], ['BGSAVE'],
  ['BGREWRITEAOF'], ['SYNC'], ['PSYNC', '?', '-1'], ['MIGRATE', '127.0.0.1', '1', 'k', '0', '10'], ['FAILOVER'],
];
const REFUSED_ON_SENTINELS: string[][] = [
  ['SENTINEL', 'SET', '<m>', 'down-after-milliseconds', '100'], ['SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames', 'yes'],
  ['SENTINEL', 'RESET', '<m>'], ['SENTINEL', 'REMOVE', '<m>'], ['SENTINEL', 'MONITOR', 'other', '127.0.0.1', '6379', '1'],
  ['SENTINEL', 'FAILOVER', '<m>'], ['SENTINEL', 'FLUSHCONFIG'], ['SENTINEL', 'SIMULATE-FAILURE', 'CRASH-AFTER-ELECTION'],
  ['SENTINEL', 'DEBUG'], ['SENTINEL', 'IS-MASTER-DOWN-BY-ADDR', '127.0.0.1', '6378', '0', '*'], ['ACL', 'WHOAMI'], ['SHUTDOWN'],
];

async function expectDataNodeOwned(h: Harness, clusterId: string, ip: string, primary = true): Promise<void> {
  if (primary) expect(await asTenant(ip, 6378, (c) => c.set('tenant-key', 'v'))).toBe('OK');
  else expect(await asTenant(ip, 6378, (c) => c.dbsize())).toBeGreaterThanOrEqual(0);
  if (primary) expect(await asTenant(ip, 6378, (c) => c.get('tenant-key'))).toBe('v');
  for (const cmd of REFUSED_ON_DATA_NODES) {
    expect(await refusal(ip, 6378, ...cmd), cmd.join(' ')).toMatch(/^NOPERM /);
  }
  // DEBUG: the engine refuses it before its ACL does (enable-debug-command no); the ACL refuses it too.
  expect(await refusal(ip, 6378, 'DEBUG', 'SLEEP', '0')).toMatch(/DEBUG command not allowed/);
  const svc = await serviceEndpoint(h, clusterId, ip);
  expect(await withClient(svc, (c) => c.call('ACL', 'DRYRUN', 'default', 'DEBUG', 'SLEEP', '0'))).toMatch(/no permissions to run the 'debug' command/);
}

async function instanceIds(clusterId: string): Promise<Array<{ id: string; name: string; ip: string; role: string }>> {
  const d = (await h.service.store.clusterDetail(null, clusterId))!;
  return d.instances.map((i) => ({ id: i.id, name: i.name, ip: i.serviceIpAddress, role: i.roleType }));
}

/** Changes an engine's title as a tenant could before, through the service's own user. */
async function forceTitle(clusterId: string, ip: string, port = 6378): Promise<void> {
  const svc = await serviceEndpoint(h, clusterId, ip, port);
  await withClient(svc, (c) => c.config('SET', 'proc-title-template', '{title} {listen-addr} mine'));
}

async function create(body: Record<string, unknown>): Promise<string> {
  const r = await h.client.post('/v1/clusters', body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id, 30_000)).toBe('COMPLETED');
  return r.body.resource.id;
}

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s', (product) => {
  const short = product.startsWith('Redis') ? 'redis' : 'valkey';

  it('standalone: the tenant runs data commands but none the service owns', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const id = await create(createBody(engine, { name: `ownsa${short}` }));
    const [node] = await instanceIds(id);
    await expectDataNodeOwned(h, id, node.ip);
    // The service's user name is no secret; its password is in no response.
    const show = await h.client.get(`/v1/clusters/${id}`);
    const { serviceSecret } = await h.service.store.clusterSecrets(id);
    expect(JSON.stringify(show.body)).not.toContain(serviceSecret);
    expect(JSON.stringify((await h.client.get(`/v1/clusters/${id}/events`)).body)).not.toContain(serviceSecret);
    await withClient(await serviceEndpoint(h, id, node.ip), async (c) => expect(await c.call('ACL', 'WHOAMI')).toBe(SERVICE_USER));
  });

  it('standalone: a title changed behind the service\'s back neither hides the engine nor keeps it alive after Terminate', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const id = await create(createBody(engine, { name: `owntitle${short}` }));
    const [node] = await instanceIds(id);
    const pid = (await enginePidOf(h.dataDir, node.id))!;
    expect(pid).toBeGreaterThan(0);
    await forceTitle(id, node.ip);
    // The title no longer carries the marker...
    expect(await enginePids(node.id)).toEqual([]);
    // ...yet the service still sees its engine.
    await h.service.reconciler.check();
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    expect(show.service_state).toBe('RUNNING');
    expect(show.instance_groups[0].instances[0].service_state).toBe('RUNNING');
    expect(await enginePidOf(h.dataDir, node.id)).toBe(pid);
    const del = await h.client.delete(`/v1/clusters/${id}`);
    expect(await h.client.waitRequest(del.body.request_id)).toBe('COMPLETED');
    // Gone (a zombie, if this machine's init does not reap daemons, has exited).
    expect(await identify(pid)).toBeNull();
    await expect(asTenant(node.ip, 6378, (c) => c.ping())).rejects.toThrow();
  });

  it('HA: every data node and Sentinel refuses the tenant what the service owns, and Sentinel still names the primary', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const name = `ownha${short}`;
    const id = await create(haBody(engine, 1, { name }));
    const nodes = await instanceIds(id);
    const primary = nodes.find((n) => n.role === 'MASTER')!;
    for (const n of nodes.filter((x) => x.role !== 'SENTINEL')) await expectDataNodeOwned(h, id, n.ip, n.role === 'MASTER');
    for (const n of nodes) {
      expect(await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))).toEqual([primary.ip, '6378']);
      expect(await asTenant(n.ip, 26378, (c) => c.ping())).toBe('PONG');
      expect(((await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'MASTERS'))) as string[][])[0]).toContain(name);
      expect(await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'REPLICAS', name))).toHaveLength(1);
      expect(await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'SENTINELS', name))).toHaveLength(2);
      expect(await asTenant(n.ip, 26378, (c) => c.info('sentinel'))).toContain(`name=${name},status=ok,address=${primary.ip}:6378`);
      expect(await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'MASTER', name))).toContain(primary.ip);
      expect(String(await asTenant(n.ip, 26378, (c) => c.call('SENTINEL', 'CKQUORUM', name)))).toMatch(/^OK /);
      expect(((await asTenant(n.ip, 26378, (c) => c.call('ROLE'))) as string[])[0]).toBe('sentinel');
      expect(await asTenant(n.ip, 26378, (c) => c.subscribe('+switch-master'))).toBe(1);
      for (const cmd of REFUSED_ON_SENTINELS) {
        const args = cmd.map((a) => (a === '<m>' ? name : a));
        expect(await refusal(n.ip, 26378, ...args), args.join(' ')).toMatch(/^NOPERM /);
      }
    }
  });

  it('HA: a primary whose title changed is neither failed over nor lost', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const id = await create(haBody(engine, 1, { name: `ownhatitle${short}` }));
    const nodes = await instanceIds(id);
    const primary = nodes.find((n) => n.role === 'MASTER')!;
    const replica = nodes.find((n) => n.role === 'REPLICA')!;
    await forceTitle(id, primary.ip);
    expect(await enginePids(primary.id)).toEqual([]);
    // The primary watch looks every 100 ms and Sentinel's down-after is 1.1 s: give both time to act wrongly.
    await new Promise((r) => setTimeout(r, 2500));
    await h.service.reconciler.check();
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    expect(show.service_state).toBe('RUNNING');
    const shown = show.instance_groups.flatMap((g: any) => g.instances);
    expect(shown.find((i: any) => i.name === primary.name).role_type).toBe('MASTER');
    expect(shown.every((i: any) => i.service_state === 'RUNNING')).toBe(true);
    expect(((await asTenant(primary.ip, 6378, (c) => c.call('ROLE'))) as string[])[0]).toBe('master');
    expect(((await asTenant(replica.ip, 6378, (c) => c.call('ROLE'))) as string[])[0]).toBe('slave');
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
    expect(events).not.toMatch(/fail over/);
    // And the service still drives it: a switchover to the replica completes.
    const sw = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
    expect(sw.status, JSON.stringify(sw.body)).toBe(202);
    expect(await h.client.waitRequest(sw.body.request_id, 30_000)).toBe('COMPLETED');
    await waitFor('the replica to be primary', async () => ((await asTenant(replica.ip, 6378, (c) => c.call('ROLE'))) as string[])[0] === 'master', 10_000);
  });
});
