// What the vendor's SDK and Terraform provider send: `null` for every option a user leaves out
// (src/contract/nullable-fields.ts lists where, and why). Each such field sent as null gives the
// cluster the same request would give without it: compared field by field with a twin created
// without them, on both engines, then a restore whose optional fields are all null.
import { Redis } from 'ioredis';
import { pingWith } from '../support/dataset.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completes, createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { expectErrorShape } from '../support/errors.js';
import { primaryOf } from '../support/observe.js';

const PASSWORD = 'Secr3t!pass';
let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_BACKUP_SCHEDULE_MS: '0' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

/** Every optional field of a Create Cluster body the SDK types Nullable…, set to null. */
function withNulls(body: any): any {
  const b = structuredClone(body);
  delete b.allowable_ip_addresses;
  Object.assign(b, { replica_count: b.ha_enabled ? body.replica_count : null, tags: null, maintenance_option: null });
  b.init_config_option = { database_user_password: PASSWORD, backup_option: null, database_port: null, sentinel_port: null };
  for (const g of b.instance_groups) g.instances = g.instances.map((i: any) => ({ ...i, public_ip_id: null, service_ip_address: null }));
  return b;
}

/** The same body with those fields left out. */
function without(body: any): any {
  const b = structuredClone(body);
  for (const k of ['tags', 'maintenance_option', 'allowable_ip_addresses']) delete b[k];
  if (!b.ha_enabled) delete b.replica_count;
  b.init_config_option = { database_user_password: PASSWORD };
  return b;
}

/** Show Cluster minus what differs between any two clusters (ids, names, times, addresses). */
function comparable(show: any): unknown {
  return JSON.parse(
    JSON.stringify(show, (k, v) =>
      ['id', 'name', 'created_at', 'modified_at', 'service_ip_address', 'instance_name_prefix', 'cluster_name'].includes(k) ? undefined : v,
    ),
  );
}

describe.each(['Redis', 'Valkey'])('%s: Create Cluster with every nullable field null', (kind) => {
  it('is created as if the fields were absent (defaults: ports 6378/26378, no backups, no maintenance window)', async () => {
    const engine = engines.find((e) => e.product_image_type.startsWith(kind))!;
    const prefix = kind === 'Redis' ? 'rn' : 'vn';
    const base = createBody(engine, { name: `${kind}nulls`, instance_name_prefix: `${prefix}a` });
    const nulls = await completes(h.client, 'POST', '/v1/clusters', withNulls(base));
    const twin = await completes(h.client, 'POST', '/v1/clusters', without({ ...base, name: `${kind}twin`, instance_name_prefix: `${prefix}b` }));

    const shown = (await h.client.get(`/v1/clusters/${nulls.id}`)).body;
    const twinShown = (await h.client.get(`/v1/clusters/${twin.id}`)).body;
    expect(comparable(shown)).toEqual(comparable(twinShown));
    expect(shown.service_state).toBe('RUNNING');
    expect(shown.init_config_option.database_port).toBe(6378);
    expect(shown.init_config_option.backup_option).toEqual({ retention_period_day: null, starting_time_hour: null });
    expect(await pingWith(primaryOf(shown)!.service_ip_address, 6378, PASSWORD)).toBe('PONG');
  });
});

it('HA: sentinel_port, database_port, backup and maintenance options null take the defaults', async () => {
  const engine = engines.find((e) => e.product_image_type.startsWith('Valkey'))!;
  const base = haBody(engine, 1, { name: 'hanulls', instance_name_prefix: 'han', init_config_option: { database_user_password: PASSWORD } });
  const created = await completes(h.client, 'POST', '/v1/clusters', withNulls(base));
  const shown = (await h.client.get(`/v1/clusters/${created.id}`)).body;
  expect(shown.ha_enabled).toBe(true);
  expect(shown.init_config_option.database_port).toBe(6378);
  expect(shown.init_config_option.sentinel_port).toBe(26378);
  expect(await pingWith(primaryOf(shown)!.service_ip_address, 6378, PASSWORD)).toBe('PONG');
  const sentinel = new Redis({ host: primaryOf(shown)!.service_ip_address, port: 26378, password: PASSWORD, lazyConnect: true, retryStrategy: () => null });
  sentinel.on('error', () => undefined);
  try {
    await sentinel.connect();
    expect(await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'hanulls')).toEqual([primaryOf(shown)!.service_ip_address, '6378']);
  } finally {
    sentinel.disconnect();
  }
});

it('Create Cluster: a tag value null is a tag without a value; a null password is still refused', async () => {
  const engine = engines.find((e) => e.product_image_type.startsWith('Redis'))!;
  const tagged = await h.client.post('/v1/clusters', createBody(engine, { name: 'tagnull', instance_name_prefix: 'tgn', tags: [{ key: 'env', value: null }] }));
  expect(tagged.status, JSON.stringify(tagged.body)).toBe(202);
  const noPassword = await h.client.post(
    '/v1/clusters',
    createBody(engine, { name: 'pwnull', instance_name_prefix: 'pwn', init_config_option: { database_user_password: null, backup_option: null } }),
  );
  const e = expectErrorShape(noPassword, 400, 'ValidationError');
  expect(JSON.stringify(e.detail)).toContain('database_user_password');
  await h.client.waitRequest(tagged.body.request_id, 30_000);
});

it('Create Restore Cluster with backup_recovery_time, block_storage_groups, maintenance_option and tags null restores the backup', async () => {
  const engine = engines.find((e) => e.product_image_type.startsWith('Redis'))!;
  const source = await completes(h.client, 'POST', '/v1/clusters', withNulls(createBody(engine, { name: 'restoresrc', instance_name_prefix: 'rsrc' })));
  const src = (await h.client.get(`/v1/clusters/${source.id}`)).body;
  const c = new Redis({ host: primaryOf(src)!.service_ip_address, port: 6378, password: PASSWORD, lazyConnect: true, retryStrategy: () => null });
  c.on('error', () => undefined);
  await c.connect();
  await c.set('kept', 'yes');
  c.disconnect();
  const backup = await completes(h.client, 'POST', `/v1/clusters/${source.id}/backup-histories`);

  const restored = await completes(h.client, 'POST', `/v1/clusters/${source.id}/restore`, {
    name: 'restorecopy',
    instance_name_prefix: 'rcpy',
    server_type_name: 'redis1v1m2',
    backup_history_number: backup.id,
    backup_recovery_time: null,
    block_storage_groups: null,
    maintenance_option: null,
    tags: null,
  });
  const copy = (await h.client.get(`/v1/clusters/${restored.id}`)).body;
  expect(copy.service_state).toBe('RUNNING');
  const r = new Redis({ host: primaryOf(copy)!.service_ip_address, port: 6378, password: PASSWORD, lazyConnect: true, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    expect(await r.get('kept')).toBe('yes');
  } finally {
    r.disconnect();
  }

  // backup_history_number null with a time: the other way round, also as if absent.
  const neither = await h.client.post(`/v1/clusters/${source.id}/restore`, {
    name: 'restorenone',
    instance_name_prefix: 'rnon',
    server_type_name: 'redis1v1m2',
    backup_history_number: null,
    backup_recovery_time: null,
  });
  const e = expectErrorShape(neither, 400, 'ValidationError');
  expect(JSON.stringify(e.detail)).toMatch(/exactly one of backup_history_number .* or backup_recovery_time/);
});
