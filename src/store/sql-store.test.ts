// The Store as users see it through the service, on both dialects: every test runs on SQLite
// and on PostgreSQL (describe.each over eachSupportedId()), each file on fresh databases.
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, eachSupportedId, type TestDatabase } from '../../test/support/databases.js';
import { newId, newRequestId } from '../domain/ids.js';
import type { BackupHistory, Cluster, ClusterDetail, Instance, InstanceGroup, OperationKind, OperationRequest, ServiceState } from '../domain/model.js';
import { UniqueViolation, type ClusterQuery, type NewCluster } from '../domain/ports.js';
import { openDatabase } from './db.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';

/** A connection to a test database without migrating it (to stage an earlier schema). */
async function openRawForMigration(t: TestDatabase): Promise<Kysely<any>> {
  const { Kysely: K, PostgresDialect, SqliteDialect } = await import('kysely');
  if (t.config.kind === 'sqlite') {
    const { default: SQLite } = await import('better-sqlite3');
    return new K<any>({ dialect: new SqliteDialect({ database: new SQLite(t.config.file) }) });
  }
  const { default: pg } = await import('pg');
  return new K<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: t.config.url, max: 2 }) }) });
}

const ACCOUNT = 'a'.repeat(32);
const OTHER_ACCOUNT = 'b'.repeat(32);
const SUBNET = 'subnet-1';

/** ISO time `sec` seconds after a fixed origin: sortable, like the service's timestamps. */
function at(sec: number): string {
  return new Date(Date.UTC(2026, 0, 1) + sec * 1000).toISOString();
}

let addressCounter = 0;
function nextAddress(): string {
  addressCounter++;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}

interface ClusterOpts {
  id?: string;
  accountId?: string;
  name?: string;
  createdAt?: string;
  serviceState?: ServiceState;
  subnetId?: string;
  /** One address per instance; defaults to fresh ones. */
  addresses?: string[];
  instances?: number;
  full?: boolean;
}

function newCluster(o: ClusterOpts = {}): NewCluster {
  const id = o.id ?? newId();
  const createdAt = o.createdAt ?? at(0);
  const full = o.full ?? true;
  const cluster: Cluster = {
    id,
    accountId: o.accountId ?? ACCOUNT,
    name: o.name ?? `c-${id.slice(0, 8)}`,
    engineVersionId: 'f'.repeat(32),
    parameters: {},
    commands: {},
    engine: 'valkey',
    productImageType: 'Valkey Sentinel',
    softwareVersion: '8.0.2',
    haEnabled: full,
    replicaCount: full ? 1 : 0,
    serviceState: o.serviceState ?? 'CREATING',
    subnetId: o.subnetId ?? SUBNET,
    timezone: 'Asia/Seoul',
    databasePort: 6379,
    sentinelPort: 26379,
    natEnabled: !full,
    allowableIpAddresses: full ? ['192.168.0.0/24', '10.1.2.3/32'] : [],
    tags: full ? [{ key: 'team', value: 'cache' }, { key: 'empty', value: null }] : [],
    backupOption: full ? { retentionPeriodDay: '7', startingTimeHour: '3' } : null,
    maintenanceOption: full ? { periodHour: '1', startingDayOfWeek: 'MON', startingTime: null } : null,
    instanceNamePrefix: 'cache',
    createdAt,
    createdBy: 'user-1',
    modifiedAt: createdAt,
    modifiedBy: 'user-1',
  };
  // Ids chosen so that neither id order nor role order is the order given.
  const groups: InstanceGroup[] = [
    {
      id: `f${id.slice(1)}`,
      clusterId: id,
      roleType: 'ACTIVE',
      serverTypeName: 'redis1v2m4',
      blockStorageGroups: [{ id: newId(), name: 'data', roleType: 'DATA', sizeGb: 16, volumeType: 'SSD' }],
    },
    {
      id: `0${id.slice(1)}`,
      clusterId: id,
      roleType: 'SENTINEL',
      serverTypeName: 'css1v2m4',
      blockStorageGroups: [],
    },
  ];
  const n = o.addresses?.length ?? o.instances ?? 3;
  const roles = ['REPLICA', 'MASTER', 'SENTINEL'] as const;
  const instances: Instance[] = Array.from({ length: n }, (_, i) => ({
    id: `${(n - i).toString(16).padStart(2, '0')}${id.slice(2)}`,
    clusterId: id,
    groupId: roles[i % 3] === 'SENTINEL' ? groups[1].id : groups[0].id,
    name: `cache-${i}`,
    roleType: roles[i % 3],
    serviceIpAddress: o.addresses?.[i] ?? nextAddress(),
    port: roles[i % 3] === 'SENTINEL' ? 26379 : 6379,
    serviceState: o.serviceState ?? 'CREATING',
  }));
  return { cluster, password: `pw-${id}`, serviceSecret: `secret-${id}`, groups, instances };
}

function request(clusterId: string, operation: OperationKind, createdAt = at(1), accountId = ACCOUNT): OperationRequest {
  return {
    id: newRequestId(),
    accountId,
    clusterId,
    operation,
    state: 'REQUESTED',
    step: null,
    error: null,
    payload: null,
    createdBy: 'user-2',
    createdAt,
    updatedAt: createdAt,
    finishedAt: null,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function expectUnique(p: Promise<unknown>, what: UniqueViolation['what']): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(UniqueViolation);
  expect((err as UniqueViolation).what).toBe(what);
}

describe.each(eachSupportedId())('SqlStore on %s', (dialect) => {
  let database: TestDatabase;
  let db: Kysely<Database>;
  let store: SqlStore;
  const extraStores: SqlStore[] = [];

  /** Another store on the same database, as another service replica (or a restart) has. */
  async function openAnother(): Promise<SqlStore> {
    const s = new SqlStore(await openDatabase(database.config));
    extraStores.push(s);
    return s;
  }

  /** Creates a cluster with its create request finished and the given state. */
  async function liveCluster(o: ClusterOpts = {}, state: ServiceState = 'RUNNING'): Promise<NewCluster> {
    const n = newCluster(o);
    const req = request(n.cluster.id, 'create', n.cluster.createdAt, n.cluster.accountId);
    await store.createCluster(n, req);
    await store.finishRequest(req.id, 'COMPLETED', null, n.cluster.createdAt);
    await store.setClusterState(n.cluster.id, state, n.cluster.createdAt);
    for (const i of n.instances) await store.setInstanceState(i.id, state);
    return n;
  }

  // A database that cannot be had (PostgreSQL not running) fails every test with the reason,
  // rather than leaving them skipped.
  let unavailable: unknown;

  beforeAll(async () => {
    try {
      database = await createTestDatabase(dialect);
      db = await openDatabase(database.config);
      store = new SqlStore(db);
    } catch (err) {
      unavailable = err;
    }
  });

  afterAll(async () => {
    await store?.close();
    await database?.cleanup();
  });

  beforeEach(async () => {
    if (unavailable) throw unavailable;
    for (const table of ['leadership', 'used_signatures', 'auto_restart_holds', 'backup_histories', 'events', 'requests', 'instances', 'instance_groups', 'clusters', 'credentials'] as const) {
      await db.deleteFrom(table).execute();
    }
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(extraStores.splice(0).map((s) => s.close()));
  });

  describe('migrations', () => {
    it('opening the same database again keeps its data and applies nothing twice', async () => {
      const n = await liveCluster();
      const again = await openAnother();
      expect((await again.clusterDetail(ACCOUNT, n.cluster.id))?.cluster).toEqual({ ...n.cluster, serviceState: 'RUNNING' });
      const third = await openAnother();
      expect(await third.findCluster(null, n.cluster.id)).toBeDefined();
      // Each migration recorded once, however often the database was opened.
      const applied: { name: string }[] = await (db as Kysely<any>).selectFrom('kysely_migration').select('name').orderBy('name').execute();
      const known = Object.keys(await migrationProvider.getMigrations()).sort();
      expect(applied.map((r) => r.name)).toEqual(known);
    });

    it('gives every cluster recorded before the service had its own user a secret of its own', async () => {
      const old = await createTestDatabase(dialect);
      try {
        const { Migrator } = await import('kysely');
        const raw = await openRawForMigration(old);
        try {
          const r = await new Migrator({ db: raw, provider: migrationProvider }).migrateTo('2026-11-27-003-backup-histories');
          expect(r.error).toBeUndefined();
          for (const id of ['c1', 'c2']) {
            await raw.insertInto('clusters').values({
              id, account_id: ACCOUNT, name: id, engine_version_id: 'e', engine: 'redis', product_image_type: 'Redis OSS Sentinel', software_version: '7.0.15',
              ha_enabled: 0, replica_count: 0, service_state: 'RUNNING', subnet_id: SUBNET, timezone: 'UTC', database_port: 6378, sentinel_port: 26378,
              nat_enabled: 0, allowable_ip_addresses: '[]', tags: '[]', instance_name_prefix: 'p', password: `pw-${id}`, live: 1,
              created_at: at(0), created_by: 'u', modified_at: at(0), modified_by: 'u',
            }).execute();
          }
        } finally {
          await raw.destroy();
        }
        const upgraded = new SqlStore(await openDatabase(old.config));
        try {
          const [a, b] = [await upgraded.clusterSecrets('c1'), await upgraded.clusterSecrets('c2')];
          expect(a.password).toBe('pw-c1');
          expect(a.serviceSecret).toMatch(/^[0-9a-f]{64}$/);
          expect(b.serviceSecret).toMatch(/^[0-9a-f]{64}$/);
          expect(a.serviceSecret).not.toBe(b.serviceSecret);
        } finally {
          await upgraded.close();
        }
      } finally {
        await old.cleanup();
      }
    });
  });

  describe('credentials', () => {
    it('saves, finds and replaces a credential by access key', async () => {
      expect(await store.findCredential('ak-1')).toBeUndefined();
      await store.saveCredential({ accessKey: 'ak-1', secretKey: 's1', accountId: ACCOUNT, userId: 'u1' });
      expect(await store.findCredential('ak-1')).toEqual({ accessKey: 'ak-1', secretKey: 's1', accountId: ACCOUNT, userId: 'u1', revokedAt: null });
      await store.saveCredential({ accessKey: 'ak-1', secretKey: 's2', accountId: OTHER_ACCOUNT, userId: 'u2' });
      expect(await store.findCredential('ak-1')).toEqual({ accessKey: 'ak-1', secretKey: 's2', accountId: OTHER_ACCOUNT, userId: 'u2', revokedAt: null });
      expect(await store.findCredential('AK-1')).toBeUndefined();
    });
  });

  describe('used signatures', () => {
    it('accepts a signature once per access key, also through another replica', async () => {
      const other = await openAnother();
      expect(await store.useSignature('ak-1', 'sig-a', 2_000, 1_000)).toBe(true);
      expect(await other.useSignature('ak-1', 'sig-a', 2_000, 1_000)).toBe(false);
      expect(await store.useSignature('ak-1', 'sig-a', 2_000, 1_000)).toBe(false);
      expect(await other.useSignature('ak-2', 'sig-a', 2_000, 1_000)).toBe(true);
      expect(await other.useSignature('ak-1', 'sig-b', 2_000, 1_000)).toBe(true);
    });

    it('forgets signatures whose window has ended, so the table stays bounded', async () => {
      for (let i = 0; i < 300; i++) await store.useSignature('ak-1', `old-${i}`, 5_000, 1_000);
      // Later uses, after the old window ended, purge what can no longer be replayed anyway.
      for (let i = 0; i < 300; i++) await store.useSignature('ak-1', `new-${i}`, 20_000, 10_000);
      const rows = await db.selectFrom('used_signatures').select(['signature', 'expires_at_ms']).execute();
      expect(rows.some((r) => r.signature.startsWith('old-'))).toBe(false);
      expect(rows.filter((r) => r.signature.startsWith('new-')).length).toBe(300);
    });
  });

  describe('createCluster and clusterDetail', () => {
    it('round-trips every field, JSON and boolean alike, with groups and instances in the given order', async () => {
      for (const full of [true, false]) {
        const n = newCluster({ full });
        const req = request(n.cluster.id, 'create');
        await store.createCluster(n, req);
        const detail = await store.clusterDetail(ACCOUNT, n.cluster.id);
        expect(detail).toEqual({ cluster: n.cluster, groups: n.groups, instances: n.instances });
        expect(typeof detail!.cluster.haEnabled).toBe('boolean');
        expect(typeof detail!.cluster.databasePort).toBe('number');
        expect(detail!.groups.map((g) => g.roleType)).toEqual(['ACTIVE', 'SENTINEL']);
        expect(detail!.instances.map((i) => i.name)).toEqual(['cache-0', 'cache-1', 'cache-2']);
        expect(await store.findCluster(ACCOUNT, n.cluster.id)).toEqual(n.cluster);
        expect(await store.findCluster(null, n.cluster.id)).toEqual(n.cluster);
        expect(await store.clusterPassword(n.cluster.id)).toBe(n.password);
        expect(await store.clusterSecrets(n.cluster.id)).toEqual({ password: n.password, serviceSecret: n.serviceSecret });
        expect(JSON.stringify(detail)).not.toContain(n.password);
        expect(JSON.stringify(detail)).not.toContain(n.serviceSecret);
        expect(await store.findRequest(ACCOUNT, req.id)).toEqual(req);
        expect(await store.activeRequest(n.cluster.id)).toEqual(req);
      }
    });

    it('records nothing of a cluster whose create fails', async () => {
      const first = await liveCluster();
      const clash = newCluster({ name: 'clash', addresses: [nextAddress(), first.instances[1].serviceIpAddress] });
      const req = request(clash.cluster.id, 'create');
      await expectUnique(store.createCluster(clash, req), 'address');
      expect(await store.clusterDetail(null, clash.cluster.id)).toBeUndefined();
      expect(await store.findRequest(null, req.id)).toBeUndefined();
      expect((await store.listClusters(ACCOUNT, listQuery({ name: 'clash' }))).total).toBe(0);
      // Nothing half-written holds the name or the free address.
      const retry = newCluster({ name: 'clash', addresses: [clash.instances[0].serviceIpAddress] });
      await store.createCluster(retry, request(retry.cluster.id, 'create'));
    });

    it('answers undefined for a cluster that does not exist', async () => {
      expect(await store.findCluster(null, newId())).toBeUndefined();
      expect(await store.clusterDetail(null, newId())).toBeUndefined();
      expect(await store.findRequest(null, newRequestId())).toBeUndefined();
    });
  });

  describe('unique rules', () => {
    it('refuses a second live cluster with the same name in the same account', async () => {
      await liveCluster({ name: 'orders' });
      const dup = newCluster({ name: 'orders' });
      await expectUnique(store.createCluster(dup, request(dup.cluster.id, 'create')), 'cluster_name');
      expect(await store.findCluster(null, dup.cluster.id)).toBeUndefined();
    });

    it('allows the same name in another account', async () => {
      await liveCluster({ name: 'orders' });
      const other = newCluster({ name: 'orders', accountId: OTHER_ACCOUNT });
      await store.createCluster(other, request(other.cluster.id, 'create', at(1), OTHER_ACCOUNT));
      expect((await store.findCluster(OTHER_ACCOUNT, other.cluster.id))?.name).toBe('orders');
    });

    it('allows the name again once the cluster holding it is TERMINATED', async () => {
      const first = await liveCluster({ name: 'orders' });
      await store.setClusterState(first.cluster.id, 'TERMINATED', at(5), 'user-3');
      const terminated = await store.findCluster(null, first.cluster.id);
      expect(terminated).toMatchObject({ serviceState: 'TERMINATED', modifiedAt: at(5), modifiedBy: 'user-3' });
      const second = newCluster({ name: 'orders' });
      await store.createCluster(second, request(second.cluster.id, 'create'));
      // ...but only once: the new one is live.
      const third = newCluster({ name: 'orders' });
      await expectUnique(store.createCluster(third, request(third.cluster.id, 'create')), 'cluster_name');
    });

    it('refuses two live instances with the same address in a subnet', async () => {
      const first = await liveCluster();
      const taken = first.instances[0].serviceIpAddress;
      const dup = newCluster({ addresses: [taken] });
      await expectUnique(store.createCluster(dup, request(dup.cluster.id, 'create')), 'address');
      // The same address in another subnet is another address.
      const elsewhere = newCluster({ addresses: [taken], subnetId: 'subnet-2' });
      await store.createCluster(elsewhere, request(elsewhere.cluster.id, 'create'));
      expect(await store.takenAddresses('subnet-2')).toEqual(new Set([taken]));
    });

    it.each(['TERMINATED', 'FAILED'] as const)('frees an address once its instance is %s', async (state) => {
      const first = await liveCluster();
      const [a, b, c] = first.instances.map((i) => i.serviceIpAddress);
      expect(await store.takenAddresses(SUBNET)).toEqual(new Set([a, b, c]));
      await store.setInstanceState(first.instances[0].id, 'STOPPED');
      expect(await store.takenAddresses(SUBNET)).toEqual(new Set([a, b, c]));
      await store.setInstanceState(first.instances[0].id, state);
      expect(await store.takenAddresses(SUBNET)).toEqual(new Set([b, c]));
      const detail = await store.clusterDetail(null, first.cluster.id);
      expect(detail!.instances[0].serviceState).toBe(state);
      const reuse = newCluster({ addresses: [a] });
      await store.createCluster(reuse, request(reuse.cluster.id, 'create'));
      expect(await store.takenAddresses(SUBNET)).toEqual(new Set([a, b, c]));
      // The old instance, still listed, never takes it back: a released address stays released.
      await store.setInstanceState(first.instances[0].id, 'ERROR');
      expect(await store.takenAddresses(SUBNET)).toEqual(new Set([a, b, c]));
      expect((await store.clusterDetail(null, first.cluster.id))!.instances[0].serviceState).toBe('ERROR');
    });
  });

  describe("clusterView (Show Cluster's answer, shared between callers until the store changes)", () => {
    it('answers as clusterDetail does, frozen, and only to the cluster\'s account', async () => {
      const n = await liveCluster();
      const view = await store.clusterView(ACCOUNT, n.cluster.id);
      expect(view).toEqual(await store.clusterDetail(ACCOUNT, n.cluster.id));
      // Shared: a caller that tried to change it would change every later answer.
      expect(() => {
        (view as { cluster: { name: string } }).cluster.name = 'changed';
      }).toThrow(TypeError);
      expect(() => (view!.instances as unknown as unknown[]).push({})).toThrow(TypeError);
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.cluster.name).toBe(n.cluster.name);
      expect(await store.clusterView(OTHER_ACCOUNT, n.cluster.id)).toBeUndefined();
      expect(await store.clusterView(ACCOUNT, newId())).toBeUndefined();
    });

    it("shows each of this process's writes at once", async () => {
      const n = await liveCluster();
      const [g] = n.groups;
      const storage = g.blockStorageGroups[0];
      const writes: Array<[string, () => Promise<unknown>, (v: Readonly<ClusterDetail>) => unknown, unknown]> = [
        ['cluster state', () => store.setClusterState(n.cluster.id, 'STOPPED', at(1)), (v) => v.cluster.serviceState, 'STOPPED'],
        ['cluster state, compared', () => store.compareAndSetClusterState(n.cluster.id, 'STOPPED', 'STARTING', at(2)), (v) => v.cluster.serviceState, 'STARTING'],
        ['instance state', () => store.setInstanceState(n.instances[1].id, 'ERROR'), (v) => v.instances[1].serviceState, 'ERROR'],
        ['instance role', () => store.setInstanceRole(n.instances[1].id, 'REPLICA'), (v) => v.instances[1].roleType, 'REPLICA'],
        ['backup option', () => store.setBackupOption(n.cluster.id, null, at(3), 'u'), (v) => v.cluster.backupOption, null],
        ['maintenance', () => store.setMaintenanceOption(n.cluster.id, null, at(4), 'u'), (v) => v.cluster.maintenanceOption, null],
        ['server type', () => store.setGroupServerType(g.id, 'redis2v4m8', at(5), 'u'), (v) => v.groups[0].serverTypeName, 'redis2v4m8'],
        ['disk size', () => store.setBlockStorageSize(g.id, storage.id, 64, at(6), 'u'), (v) => v.groups[0].blockStorageGroups[0].sizeGb, 64],
        ['allow-list', () => store.setAllowableIpAddresses(n.cluster.id, ['10.9.9.9/32'], at(7), 'u'), (v) => v.cluster.allowableIpAddresses, ['10.9.9.9/32']],
        ['engine version', () => store.setClusterEngineVersion(n.cluster.id, 'v2', '8.0.9', at(8), 'u'), (v) => v.cluster.softwareVersion, '8.0.9'],
      ];
      for (const [what, write, read, expected] of writes) {
        // Read first, so that an answer is kept, then write: the next answer has the write.
        expect(read((await store.clusterView(ACCOUNT, n.cluster.id))!), what).not.toEqual(expected);
        await write();
        expect(read((await store.clusterView(ACCOUNT, n.cluster.id))!), what).toEqual(expected);
      }
    });

    it("shows another process's commit at once", async () => {
      const n = await liveCluster();
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.cluster.serviceState).toBe('RUNNING');
      const other = await openAnother();
      await other.setClusterState(n.cluster.id, 'STOPPED', at(1));
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.cluster.serviceState).toBe('STOPPED');
      // And a plain statement from outside the service (an operator's sqlite3 or psql).
      await sql`update instances set service_state = 'ERROR' where id = ${n.instances[0].id}`.execute((other as unknown as { db: Kysely<Database> }).db);
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.instances[0].serviceState).toBe('ERROR');
    });

    it("lists each process's writes at once, from a page kept between them", async () => {
      const first = await liveCluster({ name: 'first' });
      const names = async (q: Partial<ClusterQuery> = {}) => (await store.listClusters(ACCOUNT, listQuery(q))).clusters.map((c) => c.name);
      expect(await names()).toEqual(['first']);
      const page = await store.listClusters(ACCOUNT, listQuery());
      expect(() => (page.clusters as unknown[]).push({})).toThrow(TypeError);
      await liveCluster({ name: 'second', createdAt: at(5) });
      expect(await names()).toEqual(['second', 'first']);
      expect(await names({ serviceState: 'STOPPED' })).toEqual([]);
      await store.setClusterState(first.cluster.id, 'STOPPED', at(6));
      expect(await names({ serviceState: 'STOPPED' })).toEqual(['first']);
      const other = await openAnother();
      await other.setClusterState(first.cluster.id, 'RUNNING', at(7));
      expect(await names({ serviceState: 'STOPPED' })).toEqual([]);
      expect((await store.listClusters(ACCOUNT, listQuery())).total).toBe(2);
    });

    it('never shows what an open transaction wrote: it answers after the commit', async () => {
      const n = await liveCluster();
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.cluster.serviceState).toBe('RUNNING');
      let during: Promise<Readonly<ClusterDetail> | undefined> | undefined;
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('clusters').set({ service_state: 'STOPPING' }).where('id', '=', n.cluster.id).execute();
        during = store.clusterView(ACCOUNT, n.cluster.id);
        // PostgreSQL: another connection, which reads the last commit at once.
        if (dialect !== 'sqlite') expect((await during)!.cluster.serviceState).toBe('RUNNING');
        await trx.updateTable('clusters').set({ service_state: 'STOPPED' }).where('id', '=', n.cluster.id).execute();
      });
      // SQLite: the one connection was the transaction's; the read waited for its end.
      if (dialect === 'sqlite') expect((await during!)!.cluster.serviceState).toBe('STOPPED');
      expect((await store.clusterView(ACCOUNT, n.cluster.id))!.cluster.serviceState).toBe('STOPPED');
    });
  });

  describe('account scoping', () => {
    it('hides clusters and requests of another account', async () => {
      const n = newCluster();
      const req = request(n.cluster.id, 'create');
      await store.createCluster(n, req);
      expect(await store.findCluster(OTHER_ACCOUNT, n.cluster.id)).toBeUndefined();
      expect(await store.clusterDetail(OTHER_ACCOUNT, n.cluster.id)).toBeUndefined();
      expect(await store.findRequest(OTHER_ACCOUNT, req.id)).toBeUndefined();
      expect((await store.listClusters(OTHER_ACCOUNT, listQuery())).total).toBe(0);
      expect(await store.findCluster(ACCOUNT, n.cluster.id)).toBeDefined();
      expect(await store.findRequest(null, req.id)).toBeDefined();
    });
  });

  describe('instance groups', () => {
    it('finds a group\'s cluster within the account only, and records a new server type with the modification', async () => {
      const n = await liveCluster();
      const other = await liveCluster();
      const g = n.groups[0];
      expect(await store.clusterOfGroup(ACCOUNT, g.id)).toBe(n.cluster.id);
      expect(await store.clusterOfGroup(null, g.id)).toBe(n.cluster.id);
      expect(await store.clusterOfGroup(OTHER_ACCOUNT, g.id)).toBeUndefined();
      expect(await store.clusterOfGroup(ACCOUNT, 'no-such-group')).toBeUndefined();
      await store.setGroupServerType(g.id, 'redis1v4m16', at(9), 'user-9');
      const d = (await store.clusterDetail(null, n.cluster.id))!;
      expect(d.groups.map((x) => x.serverTypeName)).toEqual(['redis1v4m16', 'css1v2m4']);
      expect([d.cluster.modifiedAt, d.cluster.modifiedBy]).toEqual([at(9), 'user-9']);
      // Nothing else changes.
      expect((await store.clusterDetail(null, other.cluster.id))!.groups.map((x) => x.serverTypeName)).toEqual(['redis1v2m4', 'css1v2m4']);
    });

    it('finds a block storage group\'s cluster and group within the account only, and records its new size', async () => {
      const n = await liveCluster();
      const other = await liveCluster();
      const b = n.groups[0].blockStorageGroups[0];
      expect(await store.findBlockStorageGroup(ACCOUNT, b.id)).toEqual({ clusterId: n.cluster.id, groupId: n.groups[0].id });
      expect(await store.findBlockStorageGroup(null, b.id)).toEqual({ clusterId: n.cluster.id, groupId: n.groups[0].id });
      expect(await store.findBlockStorageGroup(OTHER_ACCOUNT, b.id)).toBeUndefined();
      // Part of an id, or text that only appears elsewhere in the JSON, is no id.
      expect(await store.findBlockStorageGroup(ACCOUNT, b.id.slice(0, 8))).toBeUndefined();
      expect(await store.findBlockStorageGroup(ACCOUNT, 'DATA')).toBeUndefined();
      expect(await store.findBlockStorageGroup(ACCOUNT, "x' or 1=1 --")).toBeUndefined();
      await store.setBlockStorageSize(n.groups[0].id, b.id, 64, at(9), 'user-9');
      const d = (await store.clusterDetail(null, n.cluster.id))!;
      expect(d.groups[0].blockStorageGroups).toEqual([{ ...b, sizeGb: 64 }]);
      expect([d.cluster.modifiedAt, d.cluster.modifiedBy]).toEqual([at(9), 'user-9']);
      expect((await store.clusterDetail(null, other.cluster.id))!.groups[0].blockStorageGroups[0].sizeGb).toBe(16);
    });
  });

  function listQuery(q: Partial<ClusterQuery> = {}): ClusterQuery {
    return { page: 0, size: 20, sortField: 'created_at', sortDir: 'desc', ...q };
  }

  describe('listClusters', () => {
    // name, created_at offset, state, instances
    const fleet: [string, number, ServiceState, number][] = [
      ['delta', 3, 'RUNNING', 3],
      ['alpha', 5, 'STOPPED', 1],
      ['echo', 1, 'RUNNING', 2],
      ['charlie', 4, 'ERROR', 3],
      ['bravo', 2, 'STOPPED', 1],
    ];

    async function createFleet(): Promise<Map<string, NewCluster>> {
      const byName = new Map<string, NewCluster>();
      for (const [name, sec, state, instances] of fleet) {
        byName.set(name, await liveCluster({ name, createdAt: at(sec), instances }, state));
      }
      return byName;
    }

    const names = (r: { clusters: { name: string }[] }) => r.clusters.map((c) => c.name);

    it('pages and counts', async () => {
      await createFleet();
      const pages = [];
      for (let page = 0; page < 4; page++) {
        const r = await store.listClusters(ACCOUNT, listQuery({ page, size: 2, sortField: 'name', sortDir: 'asc' }));
        expect(r.total).toBe(5);
        pages.push(names(r));
      }
      expect(pages).toEqual([['alpha', 'bravo'], ['charlie', 'delta'], ['echo'], []]);
    });

    it.each([
      ['name', 'asc', ['alpha', 'bravo', 'charlie', 'delta', 'echo']],
      ['name', 'desc', ['echo', 'delta', 'charlie', 'bravo', 'alpha']],
      ['created_at', 'asc', ['echo', 'bravo', 'delta', 'charlie', 'alpha']],
      ['created_at', 'desc', ['alpha', 'charlie', 'delta', 'bravo', 'echo']],
    ] as const)('sorts by %s %s', async (sortField, sortDir, expected) => {
      await createFleet();
      const r = await store.listClusters(ACCOUNT, listQuery({ sortField, sortDir }));
      expect(names(r)).toEqual(expected);
    });

    it.each(['asc', 'desc'] as const)('sorts names in the same order on every database (%s)', async (sortDir) => {
      const mixed = ['cacheB', 'cachea', 'cache-c', 'cache_d', 'cacheZ1'];
      for (const [i, name] of mixed.entries()) await liveCluster({ name, createdAt: at(i) });
      const expected = ['cache-c', 'cacheB', 'cacheZ1', 'cache_d', 'cachea']; // code-point order
      const r = await store.listClusters(ACCOUNT, listQuery({ sortField: 'name', sortDir }));
      expect(names(r)).toEqual(sortDir === 'asc' ? expected : [...expected].reverse());
    });

    it.each(['asc', 'desc'] as const)('sorts by service_state %s, ties in a stable order across pages', async (sortDir) => {
      const byName = await createFleet();
      const all = await store.listClusters(ACCOUNT, listQuery({ sortField: 'service_state', sortDir }));
      const states = all.clusters.map((c) => c.serviceState);
      const sorted = [...states].sort();
      expect(states).toEqual(sortDir === 'asc' ? sorted : sorted.reverse());
      // Ties come in one fixed order, so that pages neither repeat nor skip a cluster.
      const paged = [];
      for (let page = 0; page < 5; page++) {
        paged.push(...names(await store.listClusters(ACCOUNT, listQuery({ page, size: 1, sortField: 'service_state', sortDir }))));
      }
      expect(paged).toEqual(names(all));
      expect(new Set(paged)).toEqual(new Set(byName.keys()));
    });

    it('counts instances and returns summaries without the password', async () => {
      const byName = await createFleet();
      const r = await store.listClusters(ACCOUNT, listQuery({ sortField: 'name', sortDir: 'asc' }));
      expect(r.clusters.map((c) => c.instanceCount)).toEqual([1, 1, 3, 3, 2]);
      expect(typeof r.total).toBe('number');
      expect(typeof r.clusters[0].instanceCount).toBe('number');
      const alpha = byName.get('alpha')!;
      const c = alpha.cluster;
      expect(r.clusters[0]).toEqual({
        id: c.id, accountId: c.accountId, name: c.name, haEnabled: c.haEnabled, serviceState: 'STOPPED',
        createdAt: c.createdAt, createdBy: c.createdBy, modifiedAt: c.modifiedAt, modifiedBy: c.modifiedBy, instanceCount: 1,
      });
      expect(JSON.stringify(r)).not.toContain('pw-');
    });

    it('filters by name: case-insensitive substring', async () => {
      await liveCluster({ name: 'orders-Cache', createdAt: at(1) });
      await liveCluster({ name: 'sessions', createdAt: at(2) });
      await liveCluster({ name: 'cacheOrders', createdAt: at(3) });
      const q = (name: string) => store.listClusters(ACCOUNT, listQuery({ name, sortField: 'created_at', sortDir: 'asc' }));
      expect(names(await q('CACHE'))).toEqual(['orders-Cache', 'cacheOrders']);
      expect(names(await q('orders'))).toEqual(['orders-Cache', 'cacheOrders']);
      expect(names(await q('s-c'))).toEqual(['orders-Cache']);
      expect((await q('ORDERS')).total).toBe(2);
      expect(names(await q('nothing'))).toEqual([]);
    });

    it('takes % and _ (and \\) in a name filter literally', async () => {
      for (const [i, name] of ['sale_1', 'salex1', 'off%50', 'off50', 'back\\slash', 'backslash'].entries()) {
        await liveCluster({ name, createdAt: at(i) });
      }
      const q = async (name: string) =>
        names(await store.listClusters(ACCOUNT, listQuery({ name, sortField: 'created_at', sortDir: 'asc' })));
      expect(await q('_')).toEqual(['sale_1']);
      expect(await q('e_1')).toEqual(['sale_1']);
      expect(await q('%')).toEqual(['off%50']);
      expect(await q('F%5')).toEqual(['off%50']);
      expect(await q('\\')).toEqual(['back\\slash']);
      expect(await q('k\\s')).toEqual(['back\\slash']);
      expect(await q('off')).toEqual(['off%50', 'off50']);
    });

    it('leaves TERMINATED clusters out unless asked for by service_state', async () => {
      const byName = await createFleet();
      await store.setClusterState(byName.get('charlie')!.cluster.id, 'TERMINATED', at(9));
      const live = await store.listClusters(ACCOUNT, listQuery({ sortField: 'name', sortDir: 'asc' }));
      expect(names(live)).toEqual(['alpha', 'bravo', 'delta', 'echo']);
      expect(live.total).toBe(4);
      const gone = await store.listClusters(ACCOUNT, listQuery({ serviceState: 'TERMINATED' }));
      expect(names(gone)).toEqual(['charlie']);
      expect(gone.total).toBe(1);
      const stopped = await store.listClusters(ACCOUNT, listQuery({ serviceState: 'STOPPED', sortField: 'name', sortDir: 'asc' }));
      expect(names(stopped)).toEqual(['alpha', 'bravo']);
      expect(names(await store.listClusters(ACCOUNT, listQuery({ serviceState: 'STOPPED', name: 'BRA' })))).toEqual(['bravo']);
    });

    it('lists only the account’s clusters', async () => {
      await createFleet();
      await liveCluster({ name: 'foreign', accountId: OTHER_ACCOUNT });
      expect((await store.listClusters(ACCOUNT, listQuery())).total).toBe(5);
      expect(names(await store.listClusters(OTHER_ACCOUNT, listQuery()))).toEqual(['foreign']);
    });
  });

  describe('cluster state', () => {
    it('compareAndSetClusterState moves the state only from the expected one', async () => {
      const n = await liveCluster({}, 'STOPPING');
      expect(await store.compareAndSetClusterState(n.cluster.id, 'RUNNING', 'STOPPED', at(7))).toBe(false);
      expect((await store.findCluster(null, n.cluster.id))!.serviceState).toBe('STOPPING');
      expect(await store.compareAndSetClusterState(n.cluster.id, 'STOPPING', 'STOPPED', at(8))).toBe(true);
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ serviceState: 'STOPPED', modifiedAt: at(8) });
      expect(await store.compareAndSetClusterState(n.cluster.id, 'STOPPING', 'STOPPED', at(9))).toBe(false);
      expect(await store.compareAndSetClusterState(newId(), 'STOPPING', 'STOPPED', at(9))).toBe(false);
    });

    it('holds automatic restarts with a reason, replaces the reason, and releases the hold', async () => {
      const a = await liveCluster({}, 'ERROR');
      const b = await liveCluster({}, 'RUNNING');
      expect(await store.autoRestartHold(a.cluster.id)).toBeNull();
      await store.holdAutoRestart(a.cluster.id, 'crash loop', at(1));
      await store.holdAutoRestart(a.cluster.id, 'start failed', at(2));
      expect(await store.autoRestartHold(a.cluster.id)).toBe('start failed');
      expect(await store.autoRestartHold(b.cluster.id)).toBeNull();
      await store.releaseAutoRestart(a.cluster.id);
      await store.releaseAutoRestart(a.cluster.id);
      expect(await store.autoRestartHold(a.cluster.id)).toBeNull();
    });

    it('replaces the allow-list, and an empty one stays empty', async () => {
      const n = await liveCluster({}, 'RUNNING');
      await store.setAllowableIpAddresses(n.cluster.id, ['10.0.0.0/8', '192.168.1.7'], at(3), 'user-9');
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ allowableIpAddresses: ['10.0.0.0/8', '192.168.1.7'], modifiedAt: at(3), modifiedBy: 'user-9' });
      await store.setAllowableIpAddresses(n.cluster.id, [], at(4), 'user-9');
      expect((await store.findCluster(null, n.cluster.id))?.allowableIpAddresses).toEqual([]);
    });

    it('clustersInStates finds clusters of every account', async () => {
      const a = await liveCluster({}, 'RUNNING');
      const b = await liveCluster({ accountId: OTHER_ACCOUNT }, 'STOPPING');
      await liveCluster({}, 'STOPPED');
      const found = await store.clustersInStates(['RUNNING', 'STOPPING']);
      expect(found.map((c) => c.id).sort()).toEqual([a.cluster.id, b.cluster.id].sort());
      expect(found.find((c) => c.id === a.cluster.id)).toEqual({ ...a.cluster, serviceState: 'RUNNING' });
      expect(await store.clustersInStates([])).toEqual([]);
    });
  });

  describe('beginOperation', () => {
    it('keeps the payload an operation needs, and sets instance roles', async () => {
      const n = await liveCluster({}, 'RUNNING');
      const sw = { ...request(n.cluster.id, 'switchover', at(10)), payload: { target: n.instances[1].id } };
      expect(await store.beginOperation(sw, ['RUNNING'], 'EDITING')).toBe(true);
      expect((await store.findRequest(null, sw.id))!.payload).toEqual({ target: n.instances[1].id });
      await store.setInstanceRole(n.instances[1].id, 'MASTER');
      await store.setInstanceRole(n.instances[0].id, 'REPLICA');
      const roles = (await store.clusterDetail(null, n.cluster.id))!.instances.map((i) => i.roleType);
      expect(roles.slice(0, 2)).toEqual(['REPLICA', 'MASTER']);
    });

    it('moves the state and records the request when the state is one of `from`', async () => {
      const n = await liveCluster({}, 'RUNNING');
      const stop = request(n.cluster.id, 'stop', at(10));
      expect(await store.beginOperation(stop, ['RUNNING', 'ERROR'], 'STOPPING')).toBe(true);
      expect(await store.findCluster(ACCOUNT, n.cluster.id)).toMatchObject({
        serviceState: 'STOPPING',
        modifiedAt: at(10),
        modifiedBy: 'user-2',
      });
      expect(await store.findRequest(ACCOUNT, stop.id)).toEqual(stop);
      expect(await store.activeRequest(n.cluster.id)).toEqual(stop);
    });

    it('does nothing and says false when the state is not one of `from`', async () => {
      const n = await liveCluster({}, 'STOPPED');
      const stop = request(n.cluster.id, 'stop', at(10));
      expect(await store.beginOperation(stop, ['RUNNING'], 'STOPPING')).toBe(false);
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ serviceState: 'STOPPED', modifiedAt: at(0) });
      expect(await store.findRequest(null, stop.id)).toBeUndefined();
      expect(await store.activeRequest(n.cluster.id)).toBeUndefined();
      expect(await store.beginOperation(request(newId(), 'stop'), ['RUNNING'], 'STOPPING')).toBe(false);
    });

    it('refuses a second active request of the cluster, leaving the cluster as it was', async () => {
      const n = newCluster();
      const create = request(n.cluster.id, 'create', at(0));
      await store.createCluster(n, create);
      await store.setClusterState(n.cluster.id, 'RUNNING', at(1));
      const stop = request(n.cluster.id, 'stop', at(2));
      await expectUnique(store.beginOperation(stop, ['RUNNING'], 'STOPPING'), 'active_request');
      expect((await store.findCluster(null, n.cluster.id))!.serviceState).toBe('RUNNING');
      expect(await store.findRequest(null, stop.id)).toBeUndefined();
      expect(await store.activeRequest(n.cluster.id)).toEqual(create);

      // Once the create request is finished the cluster is free for the next one.
      await store.finishRequest(create.id, 'COMPLETED', null, at(3));
      expect(await store.activeRequest(n.cluster.id)).toBeUndefined();
      expect(await store.findRequest(ACCOUNT, create.id)).toMatchObject({ state: 'COMPLETED', error: null, finishedAt: at(3), updatedAt: at(3) });
      expect(await store.beginOperation(stop, ['RUNNING'], 'STOPPING')).toBe(true);
      await store.finishRequest(stop.id, 'FAILED', 'engine did not stop', at(4));
      expect(await store.findRequest(ACCOUNT, stop.id)).toMatchObject({ state: 'FAILED', error: 'engine did not stop', finishedAt: at(4) });
      await store.setClusterState(n.cluster.id, 'RUNNING', at(5));
      expect(await store.beginOperation(request(n.cluster.id, 'restart', at(6)), ['RUNNING'], 'RESTARTING')).toBe(true);
    });

    it('lets exactly one of several simultaneous operations on a cluster begin', async () => {
      const n = await liveCluster({}, 'RUNNING');
      // PostgreSQL: several service replicas. SQLite: one process owns the file (the data dir
      // lock), so its callers share one connection.
      const stores = dialect === 'postgres' ? [store, await openAnother(), await openAnother()] : [store];
      const reqs = Array.from({ length: 6 }, (_, i) => request(n.cluster.id, i % 2 ? 'stop' : 'restart', at(10 + i)));
      const results = await Promise.allSettled(
        reqs.map((r, i) => stores[i % stores.length].beginOperation(r, ['RUNNING'], r.operation === 'stop' ? 'STOPPING' : 'RESTARTING')),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' && r.value ? [reqs[i]] : []));
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UniqueViolation);
      }
      expect(await store.activeRequest(n.cluster.id)).toEqual(won[0]);
      expect((await store.findCluster(null, n.cluster.id))!.serviceState).toBe(won[0].operation === 'stop' ? 'STOPPING' : 'RESTARTING');
    });
  });

  describe('claimRequest and leases', () => {
    const NOW = 1_800_000_000_000; // beyond 2^32, as real epoch milliseconds are
    const LEASE = 30_000;

    async function requested(createdAt: string): Promise<OperationRequest> {
      const n = newCluster({ createdAt });
      const req = request(n.cluster.id, 'create', createdAt);
      await store.createCluster(n, req);
      return req;
    }

    it('claims REQUESTED requests oldest first, each once', async () => {
      const second = await requested(at(20));
      const third = await requested(at(30));
      const first = await requested(at(10));
      const claimed = [];
      for (let i = 0; i < 4; i++) claimed.push(await store.claimRequest(`w${i}`, NOW, LEASE, at(40 + i)));
      expect(claimed.map((r) => r?.id)).toEqual([first.id, second.id, third.id, undefined]);
      expect(claimed[0]).toEqual({ ...first, state: 'RUNNING', updatedAt: at(40) });
      expect(await store.findRequest(ACCOUNT, first.id)).toEqual(claimed[0]);
    });

    it('never gives one request to two workers at once', async () => {
      const stores = [store, await openAnother(), await openAnother()];
      for (let round = 0; round < 5; round++) {
        const req = await requested(at(round));
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => stores[i % stores.length].claimRequest(`w${round}-${i}`, NOW, LEASE, at(50))),
        );
        const winners = results.map((r, i) => (r ? i : -1)).filter((i) => i >= 0);
        expect(winners).toHaveLength(1);
        expect(results[winners[0]]!.id).toBe(req.id);
        // The winner holds the lease; the others do not.
        for (let i = 0; i < 8; i++) {
          expect(await store.renewLease(req.id, `w${round}-${i}`, NOW + LEASE)).toBe(i === winners[0]);
        }
        await store.finishRequest(req.id, 'COMPLETED', null, at(60));
      }
    });

    it('shares several requests among concurrent workers without duplicates', async () => {
      const stores = [store, await openAnother(), await openAnother()];
      const reqs = [];
      for (let i = 0; i < 4; i++) reqs.push(await requested(at(i)));
      const claimed: string[] = [];
      // Workers poll until nothing is left, as the service's workers do.
      await Promise.all(
        Array.from({ length: 9 }, async (_, w) => {
          for (let polls = 0; polls < 20; polls++) {
            const r = await stores[w % stores.length].claimRequest(`w${w}`, NOW, LEASE, at(50));
            if (r) claimed.push(r.id);
            else if (claimed.length >= reqs.length) return;
          }
        }),
      );
      expect([...claimed].sort()).toEqual(reqs.map((r) => r.id).sort());
    });

    it('reclaims a RUNNING request whose lease expired, not one whose lease is live', async () => {
      const req = await requested(at(0));
      expect((await store.claimRequest('w1', NOW, LEASE, at(1)))?.id).toBe(req.id);
      await store.recordStep(req.id, 'w1', 'allocate', at(2));
      expect(await store.claimRequest('w2', NOW + LEASE - 1, LEASE, at(3))).toBeUndefined();
      expect(await store.claimRequest('w2', NOW + LEASE, LEASE, at(3))).toBeUndefined();
      const taken = await store.claimRequest('w2', NOW + LEASE + 1, LEASE, at(4));
      expect(taken).toMatchObject({ id: req.id, state: 'RUNNING', step: 'allocate', updatedAt: at(4) });
      // w1 lost it: no renewals, no steps.
      expect(await store.renewLease(req.id, 'w1', NOW + 10 * LEASE)).toBe(false);
      await expect(store.recordStep(req.id, 'w1', 'start', at(5))).rejects.toThrow(/no longer held/);
      await store.recordStep(req.id, 'w2', 'start', at(6));
      expect(await store.findRequest(null, req.id)).toMatchObject({ step: 'start', updatedAt: at(6) });
    });

    it('finishes a request and sets its cluster state only for the worker holding the lease', async () => {
      const req = await requested(at(0));
      await store.claimRequest('w1', NOW, LEASE, at(1));
      await store.claimRequest('w2', NOW + LEASE + 1, LEASE, at(2)); // w1's lease lapsed: w2 holds it
      const w1 = { requestId: req.id, workerId: 'w1' };
      const w2 = { requestId: req.id, workerId: 'w2' };
      expect(await store.setClusterStateHeld(req.clusterId, 'FAILED', at(3), w1)).toBe(false);
      expect(await store.finishRequest(req.id, 'FAILED', 'late clean-up', at(3), 'w1')).toBe(false);
      expect(await store.findRequest(null, req.id)).toMatchObject({ state: 'RUNNING', error: null });
      expect((await store.findCluster(null, req.clusterId))?.serviceState).toBe('CREATING');
      expect(await store.setClusterStateHeld(req.clusterId, 'RUNNING', at(4), w2)).toBe(true);
      expect(await store.finishRequest(req.id, 'COMPLETED', null, at(4), 'w2')).toBe(true);
      expect(await store.findRequest(null, req.id)).toMatchObject({ state: 'COMPLETED' });
      expect((await store.findCluster(null, req.clusterId))?.serviceState).toBe('RUNNING');
      // Finished: nobody holds it any more, so no fenced write lands.
      expect(await store.setClusterStateHeld(req.clusterId, 'ERROR', at(5), w2)).toBe(false);
      expect(await store.finishRequest(req.id, 'FAILED', 'twice', at(5), 'w2')).toBe(false);
    });

    it('does not hand a worker a request it says it still runs', async () => {
      const req = await requested(at(0));
      await store.claimRequest('w1', NOW, LEASE, at(1));
      expect(await store.claimRequest('w1', NOW + LEASE + 1, LEASE, at(2), [req.id])).toBeUndefined();
      expect((await store.claimRequest('w2', NOW + LEASE + 1, LEASE, at(2)))?.id).toBe(req.id);
    });

    it('renewLease keeps the request with its owner', async () => {
      const req = await requested(at(0));
      await store.claimRequest('w1', NOW, LEASE, at(1));
      expect(await store.renewLease(req.id, 'w1', NOW + 5 * LEASE)).toBe(true);
      expect(await store.claimRequest('w2', NOW + 2 * LEASE, LEASE, at(2))).toBeUndefined();
      expect(await store.renewLease(req.id, 'w2', NOW + 9 * LEASE)).toBe(false);
      expect(await store.claimRequest('w2', NOW + 5 * LEASE + 1, LEASE, at(3))).toMatchObject({ id: req.id });
    });

    it('recordStep by another worker throws and changes nothing', async () => {
      const req = await requested(at(0));
      await store.claimRequest('w1', NOW, LEASE, at(1));
      await store.recordStep(req.id, 'w1', 'allocate', at(2));
      await expect(store.recordStep(req.id, 'w2', 'hijack', at(3))).rejects.toThrow();
      expect(await store.findRequest(null, req.id)).toMatchObject({ step: 'allocate', updatedAt: at(2) });
    });

    it('does not claim, renew or step finished requests', async () => {
      const req = await requested(at(0));
      await store.claimRequest('w1', NOW, LEASE, at(1));
      await store.finishRequest(req.id, 'COMPLETED', null, at(2));
      expect(await store.claimRequest('w2', NOW + 100 * LEASE, LEASE, at(3))).toBeUndefined();
      expect(await store.renewLease(req.id, 'w1', NOW + LEASE)).toBe(false);
      await expect(store.recordStep(req.id, 'w1', 'late', at(4))).rejects.toThrow();
      expect(await store.findRequest(null, req.id)).toMatchObject({ state: 'COMPLETED', step: null });
    });

    it('releaseAllLeases makes RUNNING requests claimable at once', async () => {
      const running = await requested(at(0));
      const waiting = await requested(at(1));
      expect((await store.claimRequest('old', NOW, 10 * LEASE, at(2)))?.id).toBe(running.id);
      expect(await store.releaseAllLeases()).toBe(1);
      const restarted = await openAnother();
      expect((await restarted.claimRequest('new', NOW + 1, LEASE, at(3)))?.id).toBe(running.id);
      expect((await restarted.claimRequest('new', NOW + 1, LEASE, at(3)))?.id).toBe(waiting.id);
      await restarted.recordStep(running.id, 'new', 'resume', at(4));
      await expect(store.recordStep(running.id, 'old', 'stale', at(4))).rejects.toThrow();
      expect(await store.releaseAllLeases()).toBe(2);
    });
  });

  describe('events', () => {
    it('come back in insertion order, also when written in the same millisecond', async () => {
      const n = await liveCluster();
      const other = await liveCluster();
      const req = request(n.cluster.id, 'stop');
      const frozen = Date.now();
      vi.spyOn(Date, 'now').mockReturnValue(frozen);
      const messages = Array.from({ length: 40 }, (_, i) => `event ${i}`);
      for (const [i, m] of messages.entries()) {
        await store.addEvent(n.cluster.id, i % 3 ? req.id : null, m, at(100));
        if (i % 10 === 0) await store.addEvent(other.cluster.id, null, `other ${i}`, at(100));
      }
      vi.restoreAllMocks();
      const events = await store.listEvents(n.cluster.id);
      expect(events.map((e) => e.message)).toEqual(messages);
      expect(events[0]).toEqual({ at: at(100), requestId: null, message: 'event 0' });
      expect(events[1]).toEqual({ at: at(100), requestId: req.id, message: 'event 1' });
      expect((await store.listEvents(other.cluster.id)).map((e) => e.message)).toEqual(['other 0', 'other 10', 'other 20', 'other 30']);
      expect(await store.listEvents(newId())).toEqual([]);
    });

    it('come back in insertion order when the wall clock steps back', async () => {
      const n = await liveCluster();
      const now = Date.now();
      const clock = vi.spyOn(Date, 'now');
      const messages = [];
      for (let i = 0; i < 6; i++) {
        // NTP corrections move the wall clock back and forth.
        clock.mockReturnValue(now - (i % 2) * 1500);
        messages.push(`step ${i}`);
        await store.addEvent(n.cluster.id, null, `step ${i}`, at(i));
      }
      vi.restoreAllMocks();
      expect((await store.listEvents(n.cluster.id)).map((e) => e.message)).toEqual(messages);
    });
  });

  describe('backups', () => {
    function history(clusterId: string, requestId: string, o: Partial<BackupHistory> = {}): BackupHistory {
      return {
        id: newId(), clusterId, accountId: ACCOUNT, requestId, kind: 'on-demand', slot: null, state: 'RUNNING', detail: null,
        engine: 'valkey', softwareVersion: '8.0.1', startedAt: at(10), endedAt: null, sourceInstanceId: null, snapshotAt: null,
        storageKey: null, sizeBytes: null, sha256: null, keyCount: null, digest: null, logFile: null, logEndAt: null, ...o,
      };
    }

    it('records the history with the backup request, leaving the cluster state as it is', async () => {
      const n = await liveCluster();
      const req = { ...request(n.cluster.id, 'backup'), payload: { backup: 'x' } };
      const b = history(n.cluster.id, req.id);
      expect(await store.beginOperation(req, ['RUNNING'], null, b)).toBe(true);
      expect((await store.findCluster(null, n.cluster.id))?.serviceState).toBe('RUNNING');
      expect(await store.findBackup(n.cluster.id, b.id)).toEqual(b);
      expect((await store.activeRequest(n.cluster.id))?.id).toBe(req.id);
      // Not from a state the operation may not start in; nothing is recorded then.
      await store.finishRequest(req.id, 'COMPLETED', null, at(11));
      await store.setClusterState(n.cluster.id, 'STOPPED', at(12));
      const req2 = request(n.cluster.id, 'backup');
      expect(await store.beginOperation(req2, ['RUNNING'], null, history(n.cluster.id, req2.id))).toBe(false);
      expect(await store.backupsOf(n.cluster.id)).toHaveLength(1);
    });

    it('updates, pages newest first, counts, and deletes', async () => {
      const n = await liveCluster();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const req = request(n.cluster.id, 'backup', at(20 + i));
        const b = history(n.cluster.id, req.id, { startedAt: at(20 + i) });
        ids.push(b.id);
        expect(await store.beginOperation(req, ['RUNNING'], null, b)).toBe(true);
        await store.finishRequest(req.id, 'COMPLETED', null, at(30));
      }
      await store.updateBackup(ids[0], { state: 'COMPLETED', sizeBytes: 5_000_000_000, keyCount: 12, sha256: 'ab', logEndAt: at(40) });
      const b0 = await store.findBackup(n.cluster.id, ids[0]);
      expect(b0).toMatchObject({ state: 'COMPLETED', sizeBytes: 5_000_000_000, keyCount: 12, sha256: 'ab', logEndAt: at(40), detail: null });
      const page = await store.listBackups(n.cluster.id, { limit: 2, page: 1 });
      expect(page.total).toBe(5);
      expect(page.backups.map((b) => b.id)).toEqual([ids[2], ids[1]]);
      await store.deleteBackups([ids[0], ids[4]]);
      expect((await store.backupsOf(n.cluster.id)).map((b) => b.id)).toEqual([ids[1], ids[2], ids[3]]);
      expect(await store.findBackup(OTHER_ACCOUNT, ids[1])).toBeUndefined();
    });

    it('takes one scheduled backup per cluster and slot', async () => {
      const n = await liveCluster();
      const slot = at(3600);
      const req = request(n.cluster.id, 'backup');
      await store.beginOperation(req, ['RUNNING'], null, history(n.cluster.id, req.id, { kind: 'scheduled', slot }));
      await store.finishRequest(req.id, 'COMPLETED', null, at(11));
      const again = request(n.cluster.id, 'backup');
      await expectUnique(store.beginOperation(again, ['RUNNING'], null, history(n.cluster.id, again.id, { kind: 'scheduled', slot })), 'backup_slot');
      // Nothing of the refused one stays: no request, no history.
      expect(await store.activeRequest(n.cluster.id)).toBeUndefined();
      expect(await store.backupsOf(n.cluster.id)).toHaveLength(1);
    });

    it('keeps and clears the backup option', async () => {
      const n = await liveCluster();
      await store.setBackupOption(n.cluster.id, { retentionPeriodDay: '7', startingTimeHour: '3', enabledAt: at(5) }, at(6), 'user-9');
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ backupOption: { retentionPeriodDay: '7', startingTimeHour: '3', enabledAt: at(5) }, modifiedBy: 'user-9' });
      await store.setBackupOption(n.cluster.id, null, at(7), 'user-9');
      expect((await store.findCluster(null, n.cluster.id))?.backupOption).toBeNull();
    });
  });

  describe('leadership lease', () => {
    const NOW = 1_800_000_000_000;
    const LEASE = 5000;

    it('goes to one of several processes trying at once; the others get it only once it expired', async () => {
      const stores = dialect === 'postgres' ? [store, await openAnother(), await openAnother()] : [store];
      const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
      const terms = await Promise.all(names.map((n, i) => stores[i % stores.length].takeLeadership('duties', n, NOW, LEASE)));
      const winners = names.filter((_, i) => terms[i] !== null);
      expect(winners).toHaveLength(1);
      const term = terms[names.indexOf(winners[0])]!;
      const loser = names.find((n) => n !== winners[0])!;
      // Held: the holder renews it (same term), nobody else takes it, even a millisecond before it ends.
      expect(await store.renewLeadership('duties', winners[0], term, NOW + 1000, LEASE)).toBe(true);
      expect(await store.takeLeadership('duties', loser, NOW + 1000 + LEASE - 1, LEASE)).toBeNull();
      // Expired: the next one takes it in a new term, and the old holder's renewal is refused.
      const next = await store.takeLeadership('duties', loser, NOW + 1000 + LEASE, LEASE);
      expect(next).toBe(term + 1);
      expect(await store.renewLeadership('duties', winners[0], term, NOW + 1000 + LEASE, LEASE)).toBe(false);
      expect(await store.takeLeadership('duties', winners[0], NOW + 1000 + LEASE, LEASE)).toBeNull();
    });

    it('given up, is taken at once by another in a new term', async () => {
      const term = (await store.takeLeadership('duties', 'p1', NOW, LEASE))!;
      // Taking it again while holding it renews it in the same term.
      expect(await store.takeLeadership('duties', 'p1', NOW + 10, LEASE)).toBe(term);
      await store.releaseLeadership('duties', 'p1', term);
      expect(await store.takeLeadership('duties', 'p2', NOW + 20, LEASE)).toBe(term + 1);
    });
  });

  describe('requests finished since', () => {
    it('lists requests that finished at or after a time, oldest first, with their clusters', async () => {
      const a = newCluster();
      const b = newCluster();
      const ra = request(a.cluster.id, 'create', at(0));
      const rb = request(b.cluster.id, 'create', at(0));
      await store.createCluster(a, ra);
      await store.createCluster(b, rb);
      await store.finishRequest(rb.id, 'FAILED', 'x', at(5));
      await store.finishRequest(ra.id, 'COMPLETED', null, at(3));
      expect(await store.requestsFinishedSince(at(3))).toEqual([
        { id: ra.id, clusterId: a.cluster.id, finishedAt: at(3) },
        { id: rb.id, clusterId: b.cluster.id, finishedAt: at(5) },
      ]);
      expect((await store.requestsFinishedSince(at(4))).map((r) => r.id)).toEqual([rb.id]);
      expect(await store.requestsFinishedSince(at(6))).toEqual([]);
    });
  });

  describe('requests waiting for a maintenance window', () => {
    const LABEL = 'waiting for the maintenance window Tue 03:00–04:00 Asia/Seoul';
    const parked = (clusterId: string, createdAt = at(10)): OperationRequest => ({
      ...request(clusterId, 'set-commands', createdAt),
      state: 'RUNNING',
      step: LABEL,
      payload: { map: { KEYS: 'LISTKEYS' } },
    });

    it('a waiting request is RUNNING, holds no lock on its cluster and is never claimed', async () => {
      const n = await liveCluster({}, 'RUNNING');
      const r = parked(n.cluster.id);
      await store.recordParkedRequest(r);
      expect(await store.findRequest(ACCOUNT, r.id)).toEqual(r);
      expect(await store.parkedRequests(n.cluster.id)).toEqual([r]);
      expect(await store.parkedRequests(null)).toEqual([r]);
      expect(await store.activeRequest(n.cluster.id)).toBeUndefined();
      expect(await store.claimRequest('w1', Date.parse(at(20)), 1000, at(20))).toBeUndefined();
      // Another request of the cluster may begin meanwhile (a backup, a stop...).
      const backup = request(n.cluster.id, 'backup', at(11));
      expect(await store.beginOperation(backup, ['RUNNING'], null)).toBe(true);
      await store.setParkedStep(r.id, 'waiting for the maintenance window Wed 04:00–05:00 Asia/Seoul', at(12));
      expect((await store.findRequest(null, r.id))!.step).toBe('waiting for the maintenance window Wed 04:00–05:00 Asia/Seoul');
      // Released while the backup is active: refused by the one-active-request rule, nothing changed.
      await expect(store.unparkRequest(r.id, n.cluster.id, 'EDITING', r.payload!, at(13))).rejects.toEqual(new UniqueViolation('active_request'));
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ serviceState: 'RUNNING' });
      expect(await store.parkedRequests(n.cluster.id)).toHaveLength(1);
    });

    it('released: active with an expired lease and the new payload, the cluster in its operation state, claimed next', async () => {
      const n = await liveCluster({}, 'RUNNING');
      const r = parked(n.cluster.id);
      await store.recordParkedRequest(r);
      expect(await store.unparkRequest(r.id, n.cluster.id, 'EDITING', { map: { KEYS: 'LK' } }, at(20))).toBe(true);
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ serviceState: 'EDITING' });
      expect(await store.parkedRequests(null)).toEqual([]);
      expect((await store.activeRequest(n.cluster.id))!.id).toBe(r.id);
      const claimed = await store.claimRequest('w1', Date.parse(at(21)), 1000, at(21));
      expect(claimed).toMatchObject({ id: r.id, state: 'RUNNING', step: LABEL, payload: { map: { KEYS: 'LK' } } });
      // Only once.
      expect(await store.unparkRequest(r.id, n.cluster.id, 'EDITING', null, at(22))).toBe(false);
    });

    it('is not released while the cluster is not RUNNING; a finished one no longer waits', async () => {
      const n = await liveCluster({}, 'ERROR');
      const r = parked(n.cluster.id);
      await store.recordParkedRequest(r);
      expect(await store.unparkRequest(r.id, n.cluster.id, 'EDITING', null, at(20))).toBe(false);
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ serviceState: 'ERROR' });
      await store.finishRequest(r.id, 'FAILED', 'the cluster was TERMINATED', at(21));
      expect(await store.parkedRequests(null)).toEqual([]);
    });

    it('keeps the maintenance window and the engine version a cluster runs', async () => {
      const n = await liveCluster();
      await store.setMaintenanceOption(n.cluster.id, { periodHour: '1', startingDayOfWeek: 'TUE', startingTime: '0300' }, at(5), 'user-9');
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ maintenanceOption: { periodHour: '1', startingDayOfWeek: 'TUE', startingTime: '0300' }, modifiedBy: 'user-9' });
      await store.setMaintenanceOption(n.cluster.id, null, at(6), 'user-9');
      expect((await store.findCluster(null, n.cluster.id))!.maintenanceOption).toBeNull();
      await store.setClusterEngineVersion(n.cluster.id, 'e'.repeat(32), '8.0.3', at(7), 'cachestore-scheduler');
      expect(await store.findCluster(null, n.cluster.id)).toMatchObject({ engineVersionId: 'e'.repeat(32), softwareVersion: '8.0.3', modifiedBy: 'cachestore-scheduler' });
    });
  });

  // SQLite is embedded: there is no server to end its connections, so this is PostgreSQL's alone.
  if (dialect === 'postgres') describe('connections', () => {
    it('keeps working after the server ends its connections (restart, failover)', async () => {
      const n = await liveCluster();
      expect(await store.findCluster(null, n.cluster.id)).toBeDefined();
      await database.terminateConnections();
      // Give the client time to notice its idle connections were closed.
      await new Promise((r) => setTimeout(r, 200));
      let found;
      for (let attempt = 0; attempt < 3 && !found; attempt++) {
        found = await store.findCluster(null, n.cluster.id).catch(() => undefined);
      }
      expect(found).toEqual({ ...n.cluster, serviceState: 'RUNNING' });
    });
  });
});
