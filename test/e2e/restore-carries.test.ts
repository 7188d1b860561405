// README "Restore": the new cluster has the source's engine version, topology (HA and replicas),
// subnet, ports, time zone, password and backup setting; its name, instance prefix, server type
// (data nodes), block storage, allow-list, tags and maintenance window come from the request.
// Every source setting here differs from the defaults, and every request field from the source's,
// so each field shows where it came from.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { engineVersions, haBody, startHarness, testSubnet, type Harness } from '../support/harness.js';
import { instancesOf, primaryOf } from '../support/observe.js';
import { NO_ANSWER, probe } from '../support/probe.js';

const PASSWORD = 'An0ther!Secret';
let h: Harness;
const otherSubnet = testSubnet();

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_SUBNETS: `local-subnet=${testSubnet()},other-subnet=${otherSubnet}`, CACHESTORE_BACKUP_SCHEDULE_MS: '0' });
});
afterAll(async () => {
  await h?.stop();
});

function client(ip: string, port: number): Redis {
  const c = new Redis({ host: ip, port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  c.on('error', () => undefined);
  return c;
}

it('carries engine, topology, subnet, ports, time zone, password and backup setting over; takes the rest from the request', async () => {
  const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith('Valkey'))!;
  const source = haBody(engine, 1, {
    name: 'carrysource',
    instance_name_prefix: 'src',
    subnet_id: 'other-subnet',
    timezone: 'Europe/Berlin',
    allowable_ip_addresses: ['10.1.0.0/16'],
    tags: [{ key: 'team', value: 'source' }],
    maintenance_option: { period_hour: '2', starting_day_of_week: 'SUN', starting_time: '0230' },
    init_config_option: { database_user_password: PASSWORD, database_port: 7001, sentinel_port: 27001, backup_option: { retention_period_day: '10', starting_time_hour: '4' } },
  });
  const r = await h.client.post('/v1/clusters', source);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
  const srcId = r.body.resource.id;
  const src = (await h.client.get(`/v1/clusters/${srcId}`)).body;
  const p = client(primaryOf(src)!.service_ip_address, 7001);
  await p.connect();
  await p.set('carried', 'over');
  p.disconnect();
  const b = await h.client.post(`/v1/clusters/${srcId}/backup-histories`);
  expect(await h.client.waitRequest(b.body.request_id, 60_000)).toBe('COMPLETED');

  const request = {
    name: 'carriedcopy',
    instance_name_prefix: 'cpy',
    server_type_name: 'css1v2m4',
    backup_history_number: b.body.resource.id,
    block_storage_groups: [{ role_type: 'OS', size_gb: 120 }, { role_type: 'DATA', size_gb: 64 }],
    allowable_ip_addresses: ['192.168.10.0/24'],
    tags: [{ key: 'env', value: 'copy' }],
    maintenance_option: { period_hour: '3', starting_day_of_week: 'MON', starting_time: '0400' },
  };
  const restore = await h.client.post(`/v1/clusters/${srcId}/restore`, request);
  expect(restore.status, JSON.stringify(restore.body)).toBe(202);
  expect(await h.client.waitRequest(restore.body.request_id, 60_000)).toBe('COMPLETED');
  const copyId = restore.body.resource.id;
  const copy = (await h.client.get(`/v1/clusters/${copyId}`)).body;
  expect(copy.service_state).toBe('RUNNING');

  // From the source.
  expect(copy.product_image_type).toBe(src.product_image_type);
  expect(copy.software_version).toBe(src.software_version);
  expect(copy.dbaas_engine_version_name).toBe(src.dbaas_engine_version_name);
  expect(copy.ha_enabled).toBe(true);
  expect(copy.instance_count).toBe(3);
  const shape = (s: any) => s.instance_groups.map((g: any) => [g.role_type, g.instances.map((i: any) => i.role_type).sort()]);
  expect(shape(copy)).toEqual(shape(src));
  expect(copy.subnet_id).toBe('other-subnet');
  const prefix = otherSubnet.split('.').slice(0, 3).join('.') + '.';
  for (const i of instancesOf(copy)) expect(i.service_ip_address.startsWith(prefix), i.service_ip_address).toBe(true);
  expect(copy.init_config_option).toEqual({ database_port: 7001, sentinel_port: 27001, backup_option: { retention_period_day: '10', starting_time_hour: '4' } });
  expect(copy.timezone).toBe('Europe/Berlin');
  const c = client(primaryOf(copy)!.service_ip_address, 7001);
  await c.connect();
  expect(await c.get('carried')).toBe('over');
  c.disconnect();
  const s = client(instancesOf(copy).find((i) => i.role_type === 'SENTINEL')!.service_ip_address, 27001);
  await s.connect();
  expect(await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'carriedcopy')).toEqual([primaryOf(copy)!.service_ip_address, '7001']);
  s.disconnect();

  // From the request.
  expect(copy.name).toBe('carriedcopy');
  for (const i of instancesOf(copy)) expect(i.name).toMatch(/^cpy-/);
  const group = (s: any, role: string) => s.instance_groups.find((g: any) => g.role_type === role);
  expect(group(copy, 'MASTER_REPLICA').server_type_name).toBe('css1v2m4');
  // The SENTINEL instance holds no data: it keeps the source's type and storage.
  expect(group(copy, 'SENTINEL').server_type_name).toBe(group(src, 'SENTINEL').server_type_name);
  const sizes = (g: any) => g.block_storage_groups.map((x: any) => [x.role_type, x.size_gb]);
  expect(sizes(group(copy, 'MASTER_REPLICA'))).toEqual([['OS', 120], ['DATA', 64]]);
  expect(sizes(group(copy, 'SENTINEL'))).toEqual(sizes(group(src, 'SENTINEL')));
  expect(copy.allowable_ip_addresses).toEqual(['192.168.10.0/24']);
  // ...and enforced (README "Allow-lists"): an address outside it gets no answer.
  expect(await probe(`${prefix}200`, primaryOf(copy)!.service_ip_address, 7001)).toBe(NO_ANSWER);
  expect(copy.maintenance_option).toEqual({ period_hour: '3', starting_day_of_week: 'MON', starting_time: '0400', use_maintenance_option: true });
  // Show Cluster has no tags in the contract: the recorded cluster holds the request's.
  expect((await h.service.store.findCluster(null, copyId))!.tags).toEqual([{ key: 'env', value: 'copy' }]);

  // The source is as it was.
  const after = (await h.client.get(`/v1/clusters/${srcId}`)).body;
  expect(after.allowable_ip_addresses).toEqual(['10.1.0.0/16']);
  expect(after.maintenance_option).toEqual({ period_hour: '2', starting_day_of_week: 'SUN', starting_time: '0230', use_maintenance_option: true });
  expect(group(after, 'MASTER_REPLICA').server_type_name).toBe('css1v1m2');
  expect((await h.service.store.findCluster(null, srcId))!.tags).toEqual([{ key: 'team', value: 'source' }]);
});
