// Create Cluster input validation through the signed HTTP API: a bad value for every field of
// RedisClusterCreateRequest and its nested schemas answers a 4xx in the contract's error shape
// that names the field, never echoes the password, and leaves nothing behind (no cluster, no
// engine directory). Then the few cases that need the store: a duplicate name, and a chosen
// service_ip_address (used once, refused the second time).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intToIpv4, parseCidr } from '../../src/domain/network.js';
import { createBody, engineVersions, startHarness, type Harness, settle as settleCreate } from '../support/harness.js';
import { expectErrorShape } from '../support/errors.js';

type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

const PASSWORD = 'Secr3t!pass';

let h: Harness;
let redis: Engine;
let valkey: Engine;
let subnet: { base: number; bits: number };

beforeAll(async () => {
  h = await startHarness();
  const engines = await engineVersions(h.client);
  redis = engines.find((e) => e.product_image_type === 'Redis OSS Sentinel')!;
  valkey = engines.find((e) => e.product_image_type === 'Valkey Sentinel')!;
  expect(redis).toBeDefined();
  expect(valkey).toBeDefined();
  subnet = parseCidr(h.config.subnets.find((s) => s.id === 'local-subnet')!.cidr)!;
});
afterAll(async () => {
  await h?.stop();
});

function settle(requestId: string, clusterId: string, timeoutMs = 20_000): Promise<void> {
  return settleCreate(h.client, requestId, clusterId, timeoutMs);
}

// ---- helpers ---------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  text: string;
  body: any;
}

/** A signed request with the body exactly as given (a string, or nothing), and its raw text. */
async function send(method: string, path: string, body?: string, contentType: string | null = 'application/json'): Promise<RawResponse> {
  const url = h.baseUrl + path;
  const headers: Record<string, string> = h.client.headers(method, url);
  if (contentType) headers['Content-Type'] = contentType;
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed };
}

const createCluster = (body: unknown) => send('POST', '/v1/clusters', JSON.stringify(body));

/** The detail names `field` (dotted, e.g. body.instance_groups.0.role_type): in a loc, or in the text. */
function expectNamesField(detail: unknown, field: string) {
  if (Array.isArray(detail)) {
    const locs = detail.map((d: { loc: string[] }) => d.loc.join('.'));
    expect(
      locs.some((l) => l === field || l.startsWith(`${field}.`)),
      `expected a detail item at ${field}, got ${JSON.stringify(detail)}`,
    ).toBe(true);
  } else {
    expect(String(detail)).toContain(field.replace(/^body\./, ''));
  }
}

/**
 * No piece of the password (any 6 characters of it, raw or JSON-escaped) is in the response:
 * parsers like to quote a truncated excerpt of what they could not read.
 */
function expectNoSecret(text: string, ...secrets: Array<string | null | undefined>) {
  for (const s of [PASSWORD, ...secrets]) {
    if (typeof s !== 'string' || s.length < 6) continue;
    for (const form of [s, JSON.stringify(s).slice(1, -1)]) {
      for (let i = 0; i + 6 <= form.length; i++) expect(text, `response quotes the password: ${text}`).not.toContain(form.slice(i, i + 6));
    }
  }
}

function setPath(obj: any, path: string, value: unknown) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k];
  if (value === undefined) delete o[keys[keys.length - 1]];
  else o[keys[keys.length - 1]] = value;
}

function group(overrides: Record<string, unknown> = {}, engine: 'redis' | 'valkey' = 'redis') {
  return {
    role_type: 'MASTER',
    server_type_name: engine === 'redis' ? 'redis1v1m2' : 'css1v1m2',
    block_storage_groups: [
      { role_type: 'OS', size_gb: 104 },
      { role_type: 'DATA', size_gb: 56 },
    ],
    instances: [{ role_type: 'MASTER' }],
    ...overrides,
  };
}

const MAINTENANCE = { period_hour: '2', starting_day_of_week: 'SUN', starting_time: '0230' };

/** The HA topology of docs/CONTRACT.md with one replica (Redis server types). */
const HA = {
  ha_enabled: true,
  replica_count: 1,
  init_config_option: { database_user_password: PASSWORD, database_port: 6378, sentinel_port: 26378 },
  instance_groups: [
    group({ role_type: 'MASTER_REPLICA', instances: [{ role_type: 'MASTER' }, { role_type: 'REPLICA' }] }),
    group({ role_type: 'SENTINEL', instances: [{ role_type: 'SENTINEL' }], block_storage_groups: [{ role_type: 'OS', size_gb: 104 }] }),
  ],
};
const ha = (changes: Record<string, unknown>) => ({ ...structuredClone(HA), ...changes });

// ---- the table of bad requests ---------------------------------------------------------------

interface BadCase {
  title: string;
  /** Dotted path of the offending field, which the error detail must name. */
  field: string;
  /** Changes to a valid body: dotted path -> value (undefined removes the field). */
  set?: Record<string, unknown>;
  /** For changes that need the test context (the subnet) or a whole new value. */
  edit?: (b: any) => void;
  engine?: 'valkey';
  status?: number;
  /** A password the case sends, which must not come back either. */
  password?: string | null;
}

const pw = (title: string, password: string | null | undefined): BadCase => ({
  title: `database_user_password ${title}`,
  field: 'body.init_config_option.database_user_password',
  set: { 'init_config_option.database_user_password': password },
  password,
});

const BAD: BadCase[] = [
  // name
  { title: 'name too short', field: 'body.name', set: { name: 'ab' } },
  { title: 'name too long', field: 'body.name', set: { name: 'a'.repeat(21) } },
  { title: 'name with digits', field: 'body.name', set: { name: 'cluster1' } },
  { title: 'name with a hyphen', field: 'body.name', set: { name: 'my-cluster' } },
  { title: 'name empty', field: 'body.name', set: { name: '' } },
  { title: 'name missing', field: 'body.name', set: { name: undefined } },
  { title: 'name not a string', field: 'body.name', set: { name: 42 } },
  // instance_name_prefix
  { title: 'instance_name_prefix starting with a capital', field: 'body.instance_name_prefix', set: { instance_name_prefix: 'Abc' } },
  { title: 'instance_name_prefix starting with a digit', field: 'body.instance_name_prefix', set: { instance_name_prefix: '1abc' } },
  { title: 'instance_name_prefix with an underscore', field: 'body.instance_name_prefix', set: { instance_name_prefix: 'ab_c' } },
  { title: 'instance_name_prefix too short', field: 'body.instance_name_prefix', set: { instance_name_prefix: 'ab' } },
  { title: 'instance_name_prefix too long', field: 'body.instance_name_prefix', set: { instance_name_prefix: 'a'.repeat(14) } },
  { title: 'instance_name_prefix missing', field: 'body.instance_name_prefix', set: { instance_name_prefix: undefined } },
  // engine, subnet, timezone
  { title: 'dbaas_engine_version_id unknown', field: 'body.dbaas_engine_version_id', set: { dbaas_engine_version_id: '0'.repeat(32) } },
  { title: 'dbaas_engine_version_id missing', field: 'body.dbaas_engine_version_id', set: { dbaas_engine_version_id: undefined } },
  { title: 'subnet_id unknown', field: 'body.subnet_id', set: { subnet_id: 'no-such-subnet' } },
  { title: 'subnet_id missing', field: 'body.subnet_id', set: { subnet_id: undefined } },
  { title: 'timezone invalid', field: 'body.timezone', set: { timezone: 'Mars/Olympus_Mons' } },
  { title: 'timezone empty', field: 'body.timezone', set: { timezone: '' } },
  { title: 'timezone missing', field: 'body.timezone', set: { timezone: undefined } },
  // replicas, HA, NAT
  { title: 'replica_count 3', field: 'body.replica_count', set: { replica_count: 3 } },
  { title: 'replica_count -1', field: 'body.replica_count', set: { replica_count: -1 } },
  { title: 'replica_count 1 for a standalone cluster', field: 'body.replica_count', set: { replica_count: 1 } },
  { title: 'replica_count not an integer', field: 'body.replica_count', set: { replica_count: 0.5 } },
  { title: 'ha_enabled of the wrong type', field: 'body.ha_enabled', set: { ha_enabled: 'yes' } },
  { title: 'HA with replica_count 0', field: 'body.replica_count', edit: (b) => Object.assign(b, ha({ replica_count: 0 })) },
  { title: 'HA with replica_count missing', field: 'body.replica_count', edit: (b) => Object.assign(b, ha({ replica_count: null })) },
  { title: 'HA with the standalone topology', field: 'body.instance_groups', edit: (b) => Object.assign(b, ha({ instance_groups: [group()] })) },
  { title: 'HA without the SENTINEL group', field: 'body.instance_groups', edit: (b) => Object.assign(b, ha({ instance_groups: [HA.instance_groups[0]] })) },
  {
    title: 'HA with fewer REPLICA instances than replica_count',
    field: 'body.instance_groups.0.instances',
    edit: (b) => Object.assign(b, ha({ replica_count: 2 })),
  },
  {
    title: 'HA with a Valkey server type in the SENTINEL group of a Redis cluster',
    field: 'body.instance_groups.1.server_type_name',
    edit: (b) => Object.assign(b, ha({ instance_groups: [HA.instance_groups[0], { ...HA.instance_groups[1], server_type_name: 'css1v1m2' }] })),
  },
  {
    title: 'HA with sentinel_port equal to database_port',
    field: 'body.init_config_option.sentinel_port',
    edit: (b) => Object.assign(b, ha({ init_config_option: { database_user_password: PASSWORD, database_port: 7000, sentinel_port: 7000 } })),
  },
  { title: 'nat_enabled true', field: 'body.nat_enabled', set: { nat_enabled: true } },
  { title: 'nat_enabled of the wrong type', field: 'body.nat_enabled', set: { nat_enabled: 1 } },
  // allow-list
  { title: 'allowable_ip_addresses not an IP', field: 'body.allowable_ip_addresses.0', set: { allowable_ip_addresses: ['not-an-ip'] } },
  { title: 'allowable_ip_addresses bad octet', field: 'body.allowable_ip_addresses.1', set: { allowable_ip_addresses: ['10.0.0.1', '10.0.0.256'] } },
  { title: 'allowable_ip_addresses prefix too long', field: 'body.allowable_ip_addresses.0', set: { allowable_ip_addresses: ['10.0.0.0/33'] } },
  { title: 'allowable_ip_addresses empty prefix', field: 'body.allowable_ip_addresses.0', set: { allowable_ip_addresses: ['10.0.0.0/'] } },
  { title: 'allowable_ip_addresses a number', field: 'body.allowable_ip_addresses.0', set: { allowable_ip_addresses: [10] } },
  { title: 'allowable_ip_addresses null', field: 'body.allowable_ip_addresses', set: { allowable_ip_addresses: null } },
  // tags
  { title: 'tags with an empty key', field: 'body.tags.0.key', set: { tags: [{ key: '', value: 'v' }] } },
  { title: 'tags without a key', field: 'body.tags.0.key', set: { tags: [{ value: 'v' }] } },
  { title: 'tags with a key too long', field: 'body.tags.0.key', set: { tags: [{ key: 'k'.repeat(129), value: 'v' }] } },
  { title: 'tags with a duplicate key', field: 'body.tags.1.key', set: { tags: [{ key: 'env', value: 'a' }, { key: 'env', value: 'b' }] } },
  { title: 'tags with a non-string key', field: 'body.tags.0.key', set: { tags: [{ key: 7, value: 'v' }] } },
  { title: 'tags with a non-string value', field: 'body.tags.0.value', set: { tags: [{ key: 'k', value: 7 }] } },
  { title: 'tags with an unknown field', field: 'body.tags.0.colour', set: { tags: [{ key: 'k', value: 'v', colour: 'red' }] } },
  { title: 'tags not an array', field: 'body.tags', set: { tags: { key: 'k' } } },
  { title: 'tags with a null item', field: 'body.tags.0', set: { tags: [null] } },
  {
    title: 'tags more than 50',
    field: 'body.tags',
    set: { tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' })) },
  },
  // init_config_option and the password rule
  { title: 'init_config_option missing', field: 'body.init_config_option', set: { init_config_option: undefined } },
  { title: 'init_config_option null', field: 'body.init_config_option', set: { init_config_option: null } },
  { title: 'init_config_option a string', field: 'body.init_config_option', set: { init_config_option: PASSWORD } },
  pw('too short', 'Zq9!xyz'),
  pw('too long', `Zq9!${'x'.repeat(27)}`),
  pw('without a digit', 'Zqxwvu!!ab'),
  pw('without a letter', '1234567!!'),
  pw('without a special character', 'Zq9xwvu12'),
  pw('with a double quote', 'Zq9!"wvu12'),
  pw("with a single quote", "Zq9!'wvu12"),
  pw('with a dollar sign', 'Zq9!$wvu12'),
  pw('with a newline', 'Zq9!wvu\n12'),
  pw('null', null),
  pw('missing', undefined),
  pw('empty', ''),
  {
    title: 'database_user_password not a string',
    field: 'body.init_config_option.database_user_password',
    set: { 'init_config_option.database_user_password': 12345678 },
  },
  // ports
  { title: 'database_port 1023', field: 'body.init_config_option.database_port', set: { 'init_config_option.database_port': 1023 } },
  { title: 'database_port 65536', field: 'body.init_config_option.database_port', set: { 'init_config_option.database_port': 65536 } },
  { title: 'database_port a string', field: 'body.init_config_option.database_port', set: { 'init_config_option.database_port': '6378' } },
  { title: 'sentinel_port 80', field: 'body.init_config_option.sentinel_port', set: { 'init_config_option.sentinel_port': 80 } },
  { title: 'sentinel_port 70000', field: 'body.init_config_option.sentinel_port', set: { 'init_config_option.sentinel_port': 70000 } },
  {
    title: 'sentinel_port equal to database_port',
    field: 'body.init_config_option.sentinel_port',
    set: { 'init_config_option.database_port': 7000, 'init_config_option.sentinel_port': 7000 },
  },
  {
    title: 'database_port equal to the default sentinel_port',
    field: 'body.init_config_option.sentinel_port',
    set: { 'init_config_option.database_port': 26378 },
  },
  { title: 'init_config_option with an unknown field', field: 'body.init_config_option.password', set: { 'init_config_option.password': 'x' } },
  // backup_option
  {
    title: 'backup retention 6 days',
    field: 'body.init_config_option.backup_option.retention_period_day',
    set: { 'init_config_option.backup_option': { retention_period_day: '6', starting_time_hour: '3' } },
  },
  {
    title: 'backup retention 36 days',
    field: 'body.init_config_option.backup_option.retention_period_day',
    set: { 'init_config_option.backup_option': { retention_period_day: '36', starting_time_hour: '3' } },
  },
  {
    title: 'backup retention "x"',
    field: 'body.init_config_option.backup_option.retention_period_day',
    set: { 'init_config_option.backup_option': { retention_period_day: 'x', starting_time_hour: '3' } },
  },
  {
    title: 'backup retention a number',
    field: 'body.init_config_option.backup_option.retention_period_day',
    set: { 'init_config_option.backup_option': { retention_period_day: 7, starting_time_hour: '3' } },
  },
  {
    title: 'backup retention missing with an hour',
    field: 'body.init_config_option.backup_option.retention_period_day',
    set: { 'init_config_option.backup_option': { starting_time_hour: '3' } },
  },
  {
    title: 'backup hour 24',
    field: 'body.init_config_option.backup_option.starting_time_hour',
    set: { 'init_config_option.backup_option': { retention_period_day: '7', starting_time_hour: '24' } },
  },
  {
    title: 'backup hour missing with a retention',
    field: 'body.init_config_option.backup_option.starting_time_hour',
    set: { 'init_config_option.backup_option': { retention_period_day: '7' } },
  },
  {
    title: 'backup_option with an unknown field',
    field: 'body.init_config_option.backup_option.enabled',
    set: { 'init_config_option.backup_option': { retention_period_day: '7', starting_time_hour: '3', enabled: true } },
  },
  // backup_option: null is "not given" (the SDK sends it; test/e2e/nullable-fields.test.ts)
  { title: 'backup_option a string', field: 'body.init_config_option.backup_option', set: { 'init_config_option.backup_option': '7' } },
  // maintenance_option
  // maintenance_option: null is "not given" (the SDK sends it; test/e2e/nullable-fields.test.ts)
  { title: 'maintenance_option an array', field: 'body.maintenance_option', set: { maintenance_option: [] } },
  { title: 'maintenance period_hour 25', field: 'body.maintenance_option.period_hour', set: { maintenance_option: { ...MAINTENANCE, period_hour: '25' } } },
  { title: 'maintenance period_hour 0.7', field: 'body.maintenance_option.period_hour', set: { maintenance_option: { ...MAINTENANCE, period_hour: '0.7' } } },
  { title: 'maintenance period_hour 0', field: 'body.maintenance_option.period_hour', set: { maintenance_option: { ...MAINTENANCE, period_hour: '0' } } },
  {
    title: 'maintenance starting_day_of_week bad',
    field: 'body.maintenance_option.starting_day_of_week',
    set: { maintenance_option: { ...MAINTENANCE, starting_day_of_week: 'FUNDAY' } },
  },
  {
    title: 'maintenance starting_time 2460',
    field: 'body.maintenance_option.starting_time',
    set: { maintenance_option: { ...MAINTENANCE, starting_time: '2460' } },
  },
  {
    title: 'maintenance starting_time 9am',
    field: 'body.maintenance_option.starting_time',
    set: { maintenance_option: { ...MAINTENANCE, starting_time: '9am' } },
  },
  {
    title: 'maintenance without a day',
    field: 'body.maintenance_option.starting_day_of_week',
    set: { maintenance_option: { period_hour: '2', starting_time: '0230' } },
  },
  {
    title: 'maintenance without a period',
    field: 'body.maintenance_option.period_hour',
    set: { maintenance_option: { starting_day_of_week: 'SUN', starting_time: '0230' } },
  },
  // instance groups
  { title: 'instance_groups empty', field: 'body.instance_groups', set: { instance_groups: [] } },
  { title: 'instance_groups missing', field: 'body.instance_groups', set: { instance_groups: undefined } },
  { title: 'instance_groups with a null item', field: 'body.instance_groups.0', set: { instance_groups: [null] } },
  { title: 'instance_groups not an array', field: 'body.instance_groups', set: { instance_groups: {} } },
  { title: 'instance_groups with two groups', field: 'body.instance_groups', set: { instance_groups: [group(), group()] } },
  { title: 'instance group role SENTINEL', field: 'body.instance_groups', set: { instance_groups: [group({ role_type: 'SENTINEL' })] } },
  { title: 'instance group role unknown', field: 'body.instance_groups.0.role_type', set: { instance_groups: [group({ role_type: 'LEADER' })] } },
  { title: 'instance group with zero instances', field: 'body.instance_groups.0.instances', set: { instance_groups: [group({ instances: [] })] } },
  { title: 'instance group with instances null', field: 'body.instance_groups.0.instances', set: { instance_groups: [group({ instances: null })] } },
  {
    title: 'instance group with two instances',
    field: 'body.instance_groups.0.instances',
    set: { instance_groups: [group({ instances: [{ role_type: 'MASTER' }, { role_type: 'MASTER' }] })] },
  },
  {
    title: 'instance group with a null instance',
    field: 'body.instance_groups.0.instances.0',
    set: { instance_groups: [group({ instances: [null] })] },
  },
  {
    title: 'instance group without block_storage_groups',
    field: 'body.instance_groups.0.block_storage_groups',
    set: { instance_groups: [group({ block_storage_groups: undefined })] },
  },
  {
    title: 'instance group with a null block storage group',
    field: 'body.instance_groups.0.block_storage_groups.0',
    set: { instance_groups: [group({ block_storage_groups: [null] })] },
  },
  {
    title: 'instance role REPLICA',
    field: 'body.instance_groups.0.instances',
    set: { instance_groups: [group({ instances: [{ role_type: 'REPLICA' }] })] },
  },
  {
    title: 'instance role unknown',
    field: 'body.instance_groups.0.instances.0.role_type',
    set: { instance_groups: [group({ instances: [{ role_type: 'BOSS' }] })] },
  },
  {
    title: 'instance without a role',
    field: 'body.instance_groups.0.instances.0.role_type',
    set: { instance_groups: [group({ instances: [{}] })] },
  },
  {
    title: 'server_type_name unknown',
    field: 'body.instance_groups.0.server_type_name',
    set: { instance_groups: [group({ server_type_name: 'nope1v1m1' })] },
  },
  {
    title: 'server_type_name missing',
    field: 'body.instance_groups.0.server_type_name',
    set: { instance_groups: [group({ server_type_name: undefined })] },
  },
  {
    title: 'server_type_name of Redis for a Valkey cluster',
    field: 'body.instance_groups.0.server_type_name',
    engine: 'valkey',
    set: { instance_groups: [group({ server_type_name: 'redis1v2m4' }, 'valkey')] },
  },
  {
    title: 'server_type_name of Valkey for a Redis cluster',
    field: 'body.instance_groups.0.server_type_name',
    set: { instance_groups: [group({ server_type_name: 'css1v2m4' })] },
  },
  {
    title: 'instance group with an unknown field',
    field: 'body.instance_groups.0.zone',
    set: { instance_groups: [group({ zone: 'a' })] },
  },
  // block storage
  ...[
    ['size 48', { role_type: 'DATA', size_gb: 48 }, 'size_gb'],
    ['size 57', { role_type: 'DATA', size_gb: 57 }, 'size_gb'],
    ['size 5128', { role_type: 'DATA', size_gb: 5128 }, 'size_gb'],
    ['size a string', { role_type: 'DATA', size_gb: '64' }, 'size_gb'],
    ['size missing', { role_type: 'DATA' }, 'size_gb'],
    ['role ARCHIVE', { role_type: 'ARCHIVE', size_gb: 64 }, 'role_type'],
    ['role unknown', { role_type: 'SWAP', size_gb: 64 }, 'role_type'],
    ['role duplicate', { role_type: 'OS', size_gb: 64 }, 'role_type'],
    ['volume_type bad', { role_type: 'DATA', size_gb: 64, volume_type: 'NVME' }, 'volume_type'],
    ['with an unknown field', { role_type: 'DATA', size_gb: 64, iops: 3000 }, 'iops'],
  ].map(
    ([title, bs, key]): BadCase => ({
      title: `block_storage_groups ${title as string}`,
      field: `body.instance_groups.0.block_storage_groups.1.${key as string}`,
      set: { instance_groups: [group({ block_storage_groups: [{ role_type: 'OS', size_gb: 104 }, bs] })] },
    }),
  ),
  // instances: addresses and public IPs
  {
    title: 'service_ip_address outside the subnet',
    field: 'body.instance_groups.0.instances.0.service_ip_address',
    set: { instance_groups: [group({ instances: [{ role_type: 'MASTER', service_ip_address: '10.1.2.3' }] })] },
  },
  {
    title: 'service_ip_address the network address of the subnet',
    field: 'body.instance_groups.0.instances.0.service_ip_address',
    edit: (b) => (b.instance_groups[0].instances[0].service_ip_address = intToIpv4(subnet.base)),
  },
  {
    title: 'service_ip_address the broadcast address of the subnet',
    field: 'body.instance_groups.0.instances.0.service_ip_address',
    edit: (b) => (b.instance_groups[0].instances[0].service_ip_address = intToIpv4(subnet.base + 2 ** (32 - subnet.bits) - 1)),
  },
  {
    title: 'service_ip_address not an address',
    field: 'body.instance_groups.0.instances.0.service_ip_address',
    set: { instance_groups: [group({ instances: [{ role_type: 'MASTER', service_ip_address: 'localhost' }] })] },
  },
  {
    title: 'public_ip_id set',
    field: 'body.instance_groups.0.instances.0.public_ip_id',
    set: { instance_groups: [group({ instances: [{ role_type: 'MASTER', public_ip_id: 'pip-123' }] })] },
  },
  {
    title: 'instance with an unknown field',
    field: 'body.instance_groups.0.instances.0.hostname',
    set: { instance_groups: [group({ instances: [{ role_type: 'MASTER', hostname: 'x' }] })] },
  },
  // the body itself
  { title: 'an unknown top-level field', field: 'body.colour', set: { colour: 'blue' } },
];

const engineOf = (c: { engine?: 'valkey' }) => (c.engine === 'valkey' ? valkey : redis);

describe('Create Cluster refuses bad input with a 4xx that names the field', () => {
  it.each(BAD)('$title', async (c) => {
    const body: any = createBody(engineOf(c), { name: 'badcluster' });
    for (const [path, value] of Object.entries(c.set ?? {})) setPath(body, path, value);
    c.edit?.(body);
    const r = await createCluster(body);
    const e = expectErrorShape(r, c.status ?? 400, 'ValidationError');
    expectNamesField(e.detail, c.field);
    expectNoSecret(r.text, c.password);
  });

  interface RawCase {
    title: string;
    /** The body as sent; a function when it needs the engines (known only after beforeAll). */
    body?: string | (() => string);
    contentType?: string | null;
    status: number;
    code: string;
    /** What the detail must say. */
    says: RegExp;
  }
  const valid = () => createBody(redis, { name: 'rawcluster' });
  const RAW: RawCase[] = [
    // V8's JSON.parse quotes the text it could not parse: the password must not come back.
    {
      title: 'body not JSON (unquoted password)',
      body: () => JSON.stringify(valid()).replace(`"${PASSWORD}"`, PASSWORD),
      status: 400,
      code: 'ValidationError',
      says: /not valid JSON/,
    },
    { title: 'body not JSON (cut short)', body: () => JSON.stringify(valid()).slice(0, -5), status: 400, code: 'ValidationError', says: /not valid JSON/ },
    { title: 'body not JSON (trailing comma)', body: () => JSON.stringify(valid()).replace(/}$/, ',}'), status: 400, code: 'ValidationError', says: /not valid JSON/ },
    { title: 'body of plain text', body: `name=x&password=${PASSWORD}`, status: 400, code: 'ValidationError', says: /not valid JSON/ },
    { title: 'empty body', body: '', status: 400, code: 'ValidationError', says: /body/ },
    { title: 'whitespace body', body: '  \n', status: 400, code: 'ValidationError', says: /body/ },
    { title: 'no body and no content type', body: undefined, contentType: null, status: 400, code: 'ValidationError', says: /body/ },
    { title: 'body JSON null', body: 'null', status: 400, code: 'ValidationError', says: /"loc":\["body"\],"msg":"must be of type object"/ },
    { title: 'body a JSON array', body: '[]', status: 400, code: 'ValidationError', says: /"loc":\["body"\],"msg":"must be of type object"/ },
    { title: 'body a JSON string', body: JSON.stringify(PASSWORD), status: 400, code: 'ValidationError', says: /"loc":\["body"\],"msg":"must be of type object"/ },
    { title: 'body a JSON number', body: '42', status: 400, code: 'ValidationError', says: /"loc":\["body"\],"msg":"must be of type object"/ },
    {
      title: 'body with a __proto__ field',
      body: () => JSON.stringify(valid()).replace(/^{/, '{"__proto__":{"admin":true},'),
      status: 400,
      code: 'ValidationError',
      says: /__proto__/,
    },
    {
      title: 'wrong content type (text/plain)',
      body: () => JSON.stringify(valid()),
      contentType: 'text/plain',
      status: 415,
      code: 'UnsupportedMediaType',
      says: /application\/json/,
    },
    {
      title: 'wrong content type (form)',
      body: `name=x&password=${PASSWORD}`,
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'UnsupportedMediaType',
      says: /application\/json/,
    },
    {
      title: 'body over 1 MiB',
      body: () => JSON.stringify({ ...valid(), tags: [{ key: 'big', value: 'x'.repeat(1024 * 1024) }] }),
      status: 413,
      code: 'PayloadTooLarge',
      says: /too large/,
    },
  ];

  it.each(RAW)('$title', async (c) => {
    const body = typeof c.body === 'function' ? c.body() : c.body;
    const r = await send('POST', '/v1/clusters', body, c.contentType === undefined ? 'application/json' : c.contentType);
    const e = expectErrorShape(r, c.status, c.code);
    expect(Array.isArray(e.detail) ? JSON.stringify(e.detail) : e.detail).toMatch(c.says);
    expectNoSecret(r.text);
  });

  it('left nothing behind: no cluster in any state, no engine directory', async () => {
    for (const q of ['', '?service_state=CREATING', '?service_state=FAILED', '?service_state=ERROR', '?service_state=TERMINATED']) {
      const list = await h.client.get(`/v1/clusters${q}`);
      expect(list.status).toBe(200);
      expect(list.body.count, q).toBe(0);
      expect(list.body.contents).toEqual([]);
    }
    const engines = join(h.dataDir, 'engines');
    expect(existsSync(engines) ? readdirSync(engines) : []).toEqual([]);
  });
});

describe('Create Cluster checks that need the store', () => {
  it('HA (ha_enabled: true) with the documented topology is accepted (it answered 501 until HA landed)', async () => {
    const r = await createCluster(createBody(redis, { name: 'hacluster', instance_name_prefix: 'hac', ...HA }));
    expectNoSecret(r.text);
    expect(r.status, r.text).toBe(202);
    expect(r.body.resource.id).toMatch(/^[0-9a-f]{32}$/);
    await settle(r.body.request_id, r.body.resource.id, 30_000);
    const shown = await h.client.get(`/v1/clusters/${r.body.resource.id}`);
    expect(shown.body.service_state).toBe('RUNNING');
    expect(shown.body.ha_enabled).toBe(true);
    const roles = shown.body.instance_groups.flatMap((g: any) => g.instances.map((i: any) => `${i.role_type}:${i.service_state}`));
    expect(roles.sort()).toEqual(['MASTER:RUNNING', 'REPLICA:RUNNING', 'SENTINEL:RUNNING']);
  });

  it('refuses a second cluster with the same name in the account', async () => {
    const first = await createCluster(createBody(redis, { name: 'dupname', instance_name_prefix: 'dupa' }));
    expect(first.status, first.text).toBe(202);
    await settle(first.body.request_id, first.body.resource.id);
    const dirs = readdirSync(join(h.dataDir, 'engines')).sort();
    const second = await createCluster(createBody(valkey, { name: 'dupname', instance_name_prefix: 'dupb' }));
    const e = expectErrorShape(second, 400, 'ValidationError');
    expectNamesField(e.detail, 'body.name');
    expect(JSON.stringify(e.detail)).toContain('dupname');
    expectNoSecret(second.text);
    const list = await h.client.get('/v1/clusters?name=dupname');
    expect(list.body.count).toBe(1);
    expect(list.body.contents[0].id).toBe(first.body.resource.id);
    // Nothing of the refused cluster is left.
    expect(readdirSync(join(h.dataDir, 'engines')).sort()).toEqual(dirs);
  });

});

describe('a chosen service_ip_address', () => {
  // Its own service with a pause after each create step, so the first cluster is still CREATING
  // (and holds its address) when the second request arrives, whatever its engine does later.
  let slow: Harness;
  beforeAll(async () => {
    slow = await startHarness({ CACHESTORE_DEBUG_STEP_DELAY_MS: '400' });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it('is used when free and inside the subnet, and refused to the next cluster', async () => {
    const cidr = parseCidr(slow.config.subnets.find((s) => s.id === 'local-subnet')!.cidr)!;
    const ip = intToIpv4(cidr.base + 200);
    const post = async (name: string): Promise<RawResponse> => {
      const url = `${slow.baseUrl}/v1/clusters`;
      const body = createBody(redis, { name, instance_groups: [group({ instances: [{ role_type: 'MASTER', service_ip_address: ip }] })] });
      const res = await fetch(url, { method: 'POST', headers: { ...slow.client.headers('POST', url), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text) };
    };
    const show = async (id: string) => {
      const r = await slow.client.get(`/v1/clusters/${id}`);
      expect(r.status).toBe(200);
      return { state: r.body.service_state as string, ips: r.body.instance_groups.flatMap((g: any) => g.instances.map((i: any) => i.service_ip_address)) };
    };
    const expectRefused = async (name: string) => {
      const again = await post(name);
      const e = expectErrorShape(again, 400, 'ValidationError');
      expectNamesField(e.detail, 'body.instance_groups.0.instances.0.service_ip_address');
      expect(JSON.stringify(e.detail)).toContain(ip);
      expectNoSecret(again.text);
      expect((await slow.client.get(`/v1/clusters?name=${name}`)).body.count).toBe(0);
    };

    const r = await post('fixedip');
    expect(r.status, r.text).toBe(202);
    const id = r.body.resource.id;
    expect(await show(id)).toEqual({ state: 'CREATING', ips: [ip] });
    await expectRefused('fixedipwhilecreating');

    await settleCreate(slow.client, r.body.request_id, id);
    const after = await show(id);
    expect(after).toEqual({ state: 'RUNNING', ips: [ip] });
    await expectRefused('fixedipwhilerunning');
  });
});
