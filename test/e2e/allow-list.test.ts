// README "Allow-lists": the kernel (nftables) decides which source addresses reach a cluster's
// data and Sentinel ports. Real clients bound to other loopback addresses of the test's own /24
// get PONG when allowed and no answer at all when not, on every data and Sentinel port of an HA
// cluster, before and after a rule change, a failover, and a restart of the service that finds
// the kernel's rules gone. The harness deletes the test's nftables table, also on failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftTableName, removeNftTable } from '../../src/drivers/local/nftables.js';
import { NO_ANSWER, openSession, probe } from '../support/probe.js';
import { sigkillEngine } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, settle, startHarness, type Harness } from '../support/harness.js';
import { eventMessages, instancesOf, primaryOf } from '../support/observe.js';
import { waitFor } from '../support/writer.js';
import { execFileSync } from 'node:child_process';

let h: Harness;
let versions: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  // Healing brings the killed primary back (as a replica) under the same rules.
  h = await startHarness({ CACHESTORE_HEAL_AFTER_MS: '300', CACHESTORE_RECONCILE_INTERVAL_MS: '300' });
  versions = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

/** Every data and Sentinel port of the cluster as Show Cluster names its instances. */
function endpointsOf(show: any): Array<{ ip: string; port: number }> {
  return instancesOf(show).flatMap((i) =>
    i.role_type === 'SENTINEL' ? [{ ip: i.service_ip_address, port: 26378 }] : [{ ip: i.service_ip_address, port: 6378 }, { ip: i.service_ip_address, port: 26378 }],
  );
}

/** What `source` gets from every endpoint, keyed "ip:port". */
async function reachFrom(source: string, show: any): Promise<Record<string, string>> {
  const eps = endpointsOf(show);
  const answers = await Promise.all(eps.map((e) => probe(source, e.ip, e.port)));
  return Object.fromEntries(eps.map((e, i) => [`${e.ip}:${e.port}`, answers[i]]));
}
function everywhere(show: any, answer: string): Record<string, string> {
  return Object.fromEntries(endpointsOf(show).map((e) => [`${e.ip}:${e.port}`, answer]));
}

async function show(id: string): Promise<any> {
  const r = await h.client.get(`/v1/clusters/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

async function setRules(id: string, body: { add_ip_addresses?: string[]; del_ip_addresses?: string[] }): Promise<void> {
  const r = await h.client.post(`/v1/clusters/${id}/security-group-rules`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.resource.id).toBe(id);
  await settle(h.client, r.body.request_id, id);
}

function nftTableExists(): boolean {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(nftTableName(h.dataDir));
}
/** The kernel's rules of the test's service ('' when its table does not exist). */
function nftRules(): string {
  return nftTableExists() ? execFileSync('nft', ['list', 'table', 'inet', nftTableName(h.dataDir)], { encoding: 'utf8' }) : '';
}

describe.each(['Redis', 'Valkey'])('%s HA cluster with an allow-list', (kind) => {
  it('lets allowed sources in and drops the rest on every data and Sentinel port, through a rule change, a failover and a restart of the service', async () => {
    const engine = versions.find((e) => e.product_image_type.startsWith(kind))!;
    const subnet = h.config.subnets.find((s) => s.id === 'local-subnet')!;
    // Addresses of the test's own /24 that no instance gets.
    const prefix = subnet.cidr.split('.').slice(0, 3).join('.');
    const allowed = `${prefix}.200`;
    const denied = `${prefix}.201`;
    const later = `${prefix}.204`; // inside the /30 added below
    const name = `allow${kind.toLowerCase()}`;
    const body = haBody(engine, 1, { name, instance_name_prefix: name.slice(0, 8), allowable_ip_addresses: [allowed] });
    const created = await h.client.post('/v1/clusters', body);
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const id = created.body.resource.id;
    // The create completes only when the replica has copied the primary and the Sentinels
    // answer: replication and Sentinel traffic pass the rules.
    await settle(h.client, created.body.request_id, id, 30_000);
    let s = await show(id);
    expect(s.allowable_ip_addresses).toEqual([allowed]);
    expect(endpointsOf(s)).toHaveLength(5);

    expect(await reachFrom(allowed, s)).toEqual(everywhere(s, 'PONG'));
    expect(await reachFrom(denied, s)).toEqual(everywhere(s, NO_ANSWER));

    // A rule change: a CIDR in, the single address out. A connection the removed address had
    // open stalls as well.
    const session = await openSession(allowed, primaryOf(s)!.service_ip_address, 6378);
    try {
      expect(await session.ping()).toBe('PONG');
      await setRules(id, { add_ip_addresses: [`${prefix}.204/30`], del_ip_addresses: [allowed] });
      expect(await session.ping()).toBe(NO_ANSWER);
    } finally {
      session.close();
    }
    s = await show(id);
    expect(s.allowable_ip_addresses).toEqual([`${prefix}.204/30`]);
    expect(await eventMessages(h.client, id)).toContain(`allow-list now: ${prefix}.204/30`);
    expect(await reachFrom(later, s)).toEqual(everywhere(s, 'PONG'));
    expect(await reachFrom(allowed, s)).toEqual(everywhere(s, NO_ANSWER));
    expect(await reachFrom(denied, s)).toEqual(everywhere(s, NO_ANSWER));

    // A failover: the primary dies, a replica takes over, the old one comes back as a replica.
    const oldPrimary = primaryOf(s)!;
    const detail = await h.service.store.clusterDetail(null, id);
    await sigkillEngine(detail!.instances.find((i) => i.name === oldPrimary.name)!.id);
    s = await waitFor('another primary and every instance RUNNING', async () => {
      const now = await show(id);
      const p = primaryOf(now);
      return p && p.name !== oldPrimary.name && instancesOf(now).every((i) => i.service_state === 'RUNNING') ? now : null;
    }, 30_000, 200);
    expect(await reachFrom(later, s)).toEqual(everywhere(s, 'PONG'));
    expect(await reachFrom(denied, s)).toEqual(everywhere(s, NO_ANSWER));

    // A restart of the service that finds the kernel's rules gone (as after a reboot): the
    // table is built again from the store at start.
    await h.closeService();
    // Engines outlive the service, and so do their rules.
    expect(nftRules()).toContain(`cluster ${id}`);
    await removeNftTable(h.dataDir);
    expect(nftTableExists()).toBe(false);
    await h.restartService();
    expect(nftTableExists()).toBe(true);
    s = await show(id);
    expect(await reachFrom(later, s)).toEqual(everywhere(s, 'PONG'));
    expect(await reachFrom(denied, s)).toEqual(everywhere(s, NO_ANSWER));

    // Emptied, the list allows every address (as a cluster created without one).
    await setRules(id, { del_ip_addresses: [`${prefix}.204/30`] });
    s = await show(id);
    expect(s.allowable_ip_addresses).toEqual([]);
    expect(await reachFrom(denied, s)).toEqual(everywhere(s, 'PONG'));
    expect(await eventMessages(h.client, id)).toContain('allow-list now empty: every address may connect');

    const del = await h.client.delete(`/v1/clusters/${id}`);
    expect(del.status).toBe(202);
    await settle(h.client, del.body.request_id, id);
  }, 180_000);
});

describe('a standalone cluster', () => {
  it('without a list is open to every address; its rules go when it is terminated', async () => {
    const engine = versions.find((e) => e.product_image_type.startsWith('Redis'))!;
    const prefix = h.config.subnets.find((s) => s.id === 'local-subnet')!.cidr.split('.').slice(0, 3).join('.');
    const open = await h.client.post('/v1/clusters', createBody(engine, { name: 'openone', instance_name_prefix: 'opn' }));
    const shut = await h.client.post('/v1/clusters', createBody(engine, { name: 'shutone', instance_name_prefix: 'sht', allowable_ip_addresses: [`${prefix}.210`] }));
    await settle(h.client, open.body.request_id, open.body.resource.id);
    await settle(h.client, shut.body.request_id, shut.body.resource.id);
    const o = await show(open.body.resource.id);
    const t = await show(shut.body.resource.id);
    const ipOf = (c: any) => instancesOf(c)[0].service_ip_address;
    expect(await probe(`${prefix}.211`, ipOf(o), 6378)).toBe('PONG');
    expect(await probe(`${prefix}.211`, ipOf(t), 6378)).toBe(NO_ANSWER);
    expect(await probe(`${prefix}.210`, ipOf(t), 6378)).toBe('PONG');
    expect(nftRules()).toContain(`cluster ${t.id}`);
    expect(nftRules().includes(`cluster ${o.id}`)).toBe(false);

    for (const c of [o, t]) {
      const del = await h.client.delete(`/v1/clusters/${c.id}`);
      await settle(h.client, del.body.request_id, c.id);
    }
    // A terminated cluster has no rules left in the kernel.
    await waitFor('the terminated cluster\'s rules removed', async () => !nftRules().includes(`cluster ${t.id}`), 5000);
  }, 60_000);
});

describe('Set Security Group Rules refuses bad input', () => {
  let id: string;
  beforeAll(async () => {
    const engine = versions.find((e) => e.product_image_type.startsWith('Redis'))!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'rulesbad', instance_name_prefix: 'rbad', allowable_ip_addresses: ['10.0.0.1', '10.1.0.0/16'] }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    id = r.body.resource.id;
    await settle(h.client, r.body.request_id, id);
  });
  afterAll(async () => {
    if (!id) return;
    const del = await h.client.delete(`/v1/clusters/${id}`);
    if (del.status === 202) await settle(h.client, del.body.request_id, id);
  });

  const cases: Array<{ title: string; body: unknown; loc: string; msg: RegExp }> = [
    { title: 'not an address', body: { add_ip_addresses: ['10.0.0.9', 'ten.zero'] }, loc: 'body.add_ip_addresses.1', msg: /'ten\.zero' is not an IP address or a CIDR block/ },
    { title: 'a prefix too long', body: { add_ip_addresses: ['10.2.0.0/33'] }, loc: 'body.add_ip_addresses.0', msg: /'10\.2\.0\.0\/33' is not an IP address or a CIDR block/ },
    { title: 'adding what is allowed', body: { add_ip_addresses: ['10.0.0.9', '10.0.0.1/32'] }, loc: 'body.add_ip_addresses.1', msg: /'10\.0\.0\.1\/32' is already allowed \(as '10\.0\.0\.1'\)/ },
    { title: 'removing what is not there', body: { del_ip_addresses: ['10.1.0.0/16', '10.3.3.3'] }, loc: 'body.del_ip_addresses.1', msg: /'10\.3\.3\.3' is not in the allow-list \(10\.0\.0\.1, 10\.1\.0\.0\/16\)/ },
    { title: 'nothing to change', body: {}, loc: 'body', msg: /give at least one entry/ },
    { title: 'an entry that is not a string', body: { add_ip_addresses: [10] }, loc: 'body.add_ip_addresses.0', msg: /string/ },
  ];
  it.each(cases)('$title: 400 naming the entry, nothing changed', async ({ body, loc, msg }) => {
    const r = await h.client.post(`/v1/clusters/${id}/security-group-rules`, body);
    const e = expectErrorShape(r, 400);
    const d = (e.detail as Array<{ loc: string[]; msg: string }>).find((x) => x.loc.join('.') === loc);
    expect(d?.msg, JSON.stringify(e.detail)).toMatch(msg);
    expect((await show(id)).allowable_ip_addresses).toEqual(['10.0.0.1', '10.1.0.0/16']);
  });

  it('answers 404 for a cluster that is not there', async () => {
    const r = await h.client.post('/v1/clusters/0123456789abcdef0123456789abcdef/security-group-rules', { add_ip_addresses: ['10.0.0.1'] });
    expectErrorShape(r, 404);
  });
});
