// The Store port on Kysely: one implementation for SQLite and PostgreSQL.
import { CompiledQuery, PostgresAdapter, sql, type Kysely, type Selectable } from 'kysely';
import { bootstrapAccountName, type AccessKeyInfo, type AccessKeyKind, type Account, type AccountStore } from '../domain/accounts.js';
import { newId } from '../domain/ids.js';
import type {
  BlockStorageGroup, BackupHistory, BackupOption, Cluster, ClusterDetail, ClusterEvent, Credential, Instance, InstanceRole, MaintenanceOption, OperationKind, OperationRequest,
  RequestState, ServiceState,
} from '../domain/model.js';
import { UniqueViolation, type ClusterQuery, type ClusterSecrets, type ClusterSummary, type Lease, type LeadershipStore, type NewCluster, type Store } from '../domain/ports.js';
import type { BackupHistoriesTable, ClustersTable, Database, InstancesTable, RequestsTable } from './schema.js';
import { directReaderOf, type DirectReader } from './db.js';
import type { SecretBox } from './secret-box.js';

const ADDRESS_RELEASED: ServiceState[] = ['TERMINATED', 'FAILED'];

function uniqueViolation(err: unknown): UniqueViolation | undefined {
  const e = err as { code?: string; constraint?: string; message?: string };
  const text = `${e.constraint ?? ''} ${e.message ?? ''}`;
  if (e.code !== '23505' && !String(e.code ?? '').startsWith('SQLITE_CONSTRAINT')) return undefined;
  if (/clusters_live_name_unique|clusters\.account_id/.test(text)) return new UniqueViolation('cluster_name');
  if (/instances_address_unique|instances\.subnet_id/.test(text)) return new UniqueViolation('address');
  if (/requests_one_active_per_cluster|requests\.cluster_id/.test(text)) return new UniqueViolation('active_request');
  if (/backup_histories_slot_unique|backup_histories\.cluster_id/.test(text)) return new UniqueViolation('backup_slot');
  return undefined;
}

async function rethrowUnique<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw uniqueViolation(err) ?? err;
  }
}

/** BackupHistory field -> backup_histories column. */
const BACKUP_COLUMNS: Record<string, keyof BackupHistoriesTable> = {
  id: 'id', clusterId: 'cluster_id', accountId: 'account_id', requestId: 'request_id', kind: 'kind', slot: 'slot',
  state: 'state', detail: 'detail', engine: 'engine', softwareVersion: 'software_version', startedAt: 'started_at',
  endedAt: 'ended_at', sourceInstanceId: 'source_instance_id', snapshotAt: 'snapshot_at', storageKey: 'storage_key',
  sizeBytes: 'size_bytes', sha256: 'sha256', keyCount: 'key_count', digest: 'digest', logFile: 'log_file', logEndAt: 'log_end_at',
};

function backupRow(b: BackupHistory): BackupHistoriesTable {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(BACKUP_COLUMNS)) out[column] = (b as unknown as Record<string, unknown>)[field] ?? null;
  return out as unknown as BackupHistoriesTable;
}

function toBackup(r: Selectable<BackupHistoriesTable>): BackupHistory {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(BACKUP_COLUMNS)) out[field] = r[column];
  // PostgreSQL returns bigint as text.
  for (const n of ['sizeBytes', 'keyCount']) if (out[n] !== null) out[n] = Number(out[n]);
  return out as unknown as BackupHistory;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

let lastEventMs = 0;
let eventSeq = 0;

/**
 * Event ids sort in the order this process wrote the events: the time (never going back, even
 * when the wall clock does), then a counter within the millisecond, then a random tail.
 */
function eventId(): string {
  const now = Date.now();
  if (now > lastEventMs) {
    lastEventMs = now;
    eventSeq = 0;
  } else {
    eventSeq++;
  }
  return lastEventMs.toString(16).padStart(12, '0') + eventSeq.toString(16).padStart(8, '0') + newId().slice(0, 12);
}

function toCluster(r: Selectable<ClustersTable>): Cluster {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    engineVersionId: r.engine_version_id,
    engine: r.engine as Cluster['engine'],
    productImageType: r.product_image_type as Cluster['productImageType'],
    softwareVersion: r.software_version,
    haEnabled: r.ha_enabled === 1,
    replicaCount: r.replica_count,
    serviceState: r.service_state as ServiceState,
    subnetId: r.subnet_id,
    timezone: r.timezone,
    databasePort: r.database_port,
    sentinelPort: r.sentinel_port,
    natEnabled: r.nat_enabled === 1,
    allowableIpAddresses: JSON.parse(r.allowable_ip_addresses),
    tags: JSON.parse(r.tags),
    backupOption: r.backup_option ? JSON.parse(r.backup_option) : null,
    maintenanceOption: r.maintenance_option ? JSON.parse(r.maintenance_option) : null,
    parameters: r.parameters ? JSON.parse(r.parameters) : {},
    commands: r.commands ? JSON.parse(r.commands) : {},
    instanceNamePrefix: r.instance_name_prefix,
    createdAt: r.created_at,
    createdBy: r.created_by,
    modifiedAt: r.modified_at,
    modifiedBy: r.modified_by,
  };
}

function toKeyInfo(r: { access_key: string; account_id: string; kind: string; description: string | null; created_at: string; revoked_at: string | null }): AccessKeyInfo {
  return {
    accessKey: r.access_key,
    accountId: r.account_id,
    kind: r.kind as AccessKeyKind,
    description: r.description,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

function toInstance(r: Selectable<InstancesTable>): Instance {
  return {
    id: r.id,
    clusterId: r.cluster_id,
    groupId: r.group_id,
    name: r.name,
    roleType: r.role_type as InstanceRole,
    serviceIpAddress: r.service_ip_address,
    port: r.port,
    serviceState: r.service_state as ServiceState,
  };
}

function toDetail(
  clusters: Selectable<ClustersTable>[],
  groups: Selectable<Database['instance_groups']>[],
  instances: Selectable<InstancesTable>[],
): ClusterDetail | undefined {
  const [r] = clusters;
  if (!r) return undefined;
  return {
    cluster: toCluster({ ...r, password: '', service_secret: null }),
    groups: groups.map((g) => ({
      id: g.id,
      clusterId: g.cluster_id,
      roleType: g.role_type,
      serverTypeName: g.server_type_name,
      blockStorageGroups: JSON.parse(g.block_storage_groups),
    })),
    instances: instances.map(toInstance),
  };
}

/** Show and List answers kept at once (see answerAt); past it they are read again. */
const MAX_ANSWERS = 10_000;

function toSummary(r: ListRow): ClusterSummary {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    haEnabled: r.ha_enabled === 1,
    serviceState: r.service_state as ServiceState,
    createdAt: r.created_at,
    createdBy: r.created_by,
    modifiedAt: r.modified_at,
    modifiedBy: r.modified_by,
    instanceCount: Number(r.instance_count ?? 0),
  };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function toRequest(r: Selectable<RequestsTable>): OperationRequest {
  return {
    id: r.id,
    accountId: r.account_id,
    clusterId: r.cluster_id,
    operation: r.operation as OperationKind,
    state: r.state as RequestState,
    step: r.step,
    error: r.error,
    payload: r.payload ? JSON.parse(r.payload) : null,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

// Columns of `clusters` that the API may show: everything but the password.
const CLUSTER_COLUMNS = [
  'id', 'account_id', 'name', 'engine_version_id', 'engine', 'product_image_type', 'software_version', 'ha_enabled',
  'replica_count', 'service_state', 'subnet_id', 'timezone', 'database_port', 'sentinel_port', 'nat_enabled',
  'allowable_ip_addresses', 'tags', 'backup_option', 'maintenance_option', 'parameters', 'commands', 'instance_name_prefix', 'live',
  'created_at', 'created_by', 'modified_at', 'modified_by',
] as const;

/**
 * Compiled-once queries are run with values passed by position (read()): their placeholders must
 * come in the order the caller passes them. Checked when a query is compiled.
 */
function placeholdersAre(name: string, q: CompiledQuery<unknown>, expected: unknown[]): void {
  if (JSON.stringify(q.parameters) !== JSON.stringify(expected)) throw new Error(`sql-store: ${name} has parameters ${JSON.stringify(q.parameters)}`);
}

/** What List Clusters shows (ClusterSummary), and nothing more. */
const LIST_COLUMNS = ['id', 'account_id', 'name', 'ha_enabled', 'service_state', 'created_at', 'created_by', 'modified_at', 'modified_by'] as const;
type ListRow = Pick<Selectable<ClustersTable>, (typeof LIST_COLUMNS)[number]> & { instance_count: number | null };

export class SqlStore implements Store, AccountStore, LeadershipStore {
  /** PostgreSQL sorts text by the database's collation (often en_US: case- and dash-blind). */
  private readonly postgres: boolean;
  /** SQLite: the hot reads (Show, List, the key lookup) skip Kysely's asynchronous round. */
  private readonly direct: DirectReader | undefined;

  /**
   * Show Cluster's reads, built and compiled once and run with each call's values (in the order
   * of their placeholders): building and compiling them on every call was ~8% of a Show
   * Cluster's CPU (`npm run bench:api -- --profile`). The same SQL as the builder gives.
   */
  private readonly reads: {
    cluster: CompiledQuery<Selectable<ClustersTable>>;
    clusterOfAccount: CompiledQuery<Selectable<ClustersTable>>;
    groups: CompiledQuery<Selectable<Database['instance_groups']>>;
    instances: CompiledQuery<Selectable<InstancesTable>>;
    credential: CompiledQuery<Selectable<Database['credentials']>>;
  };

  /**
   * `box` seals secrets before they are written and opens them when read (store/secret-box.ts);
   * without one (tools and tests of the store alone) they are kept as given.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box?: SecretBox,
  ) {
    this.postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    this.direct = directReaderOf(db);
    const cluster = db.selectFrom('clusters').select(CLUSTER_COLUMNS).where('id', '=', '<id>');
    this.reads = {
      cluster: cluster.compile() as CompiledQuery<Selectable<ClustersTable>>,
      clusterOfAccount: cluster.where('account_id', '=', '<account>').compile() as CompiledQuery<Selectable<ClustersTable>>,
      groups: db.selectFrom('instance_groups').selectAll().where('cluster_id', '=', '<id>').orderBy('position').compile(),
      instances: db.selectFrom('instances').selectAll().where('cluster_id', '=', '<id>').orderBy('position').compile(),
      credential: db.selectFrom('credentials').selectAll().where('access_key', '=', '<id>').compile(),
    };
    for (const [name, q] of Object.entries(this.reads)) placeholdersAre(name, q, name === 'clusterOfAccount' ? ['<id>', '<account>'] : ['<id>']);
  }

  /** Runs a query of `reads` with these values for its placeholders. */
  private async read<R>(q: CompiledQuery<R>, values: readonly unknown[]): Promise<R[]> {
    const rows = this.direct?.read([[q.sql, values]]) as R[][] | undefined;
    if (rows) return rows[0];
    return (await this.db.executeQuery<R>(CompiledQuery.raw(q.sql, [...values]) as CompiledQuery<R>)).rows;
  }

  /** Several queries of `reads`, on SQLite in one read transaction (one snapshot, one lock). */
  private async readTogether<A, B, C>(
    a: readonly [CompiledQuery<A>, readonly unknown[]],
    b: readonly [CompiledQuery<B>, readonly unknown[]],
    c: readonly [CompiledQuery<C>, readonly unknown[]],
  ): Promise<[A[], B[], C[]]> {
    const rows = this.direct?.read([a, b, c].map(([q, values]) => [q.sql, values] as const));
    if (rows) return rows as [A[], B[], C[]];
    return Promise.all([this.read(...a), this.read(...b), this.read(...c)]);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Revoked keys too (revokedAt set): the HTTP layer says so to a caller who signed with one. */
  async findCredential(accessKey: string): Promise<Credential | undefined> {
    const [r] = await this.read(this.reads.credential, [accessKey]);
    return r && { accessKey: r.access_key, secretKey: this.openKeySecret(r.access_key, r.secret_key), accountId: r.account_id, userId: r.user_id, revokedAt: r.revoked_at };
  }

  /**
   * Opened secret keys by their sealed text: the key is still read from the store on every
   * request (a revocation holds at once), but the same sealed value is not decrypted again.
   * A new secret or a new master key seals differently, so an entry is never stale.
   */
  private readonly openedKeySecrets = new Map<string, string>();

  private openKeySecret(accessKey: string, sealed: string): string {
    const key = `${accessKey}\n${sealed}`;
    let secret = this.openedKeySecrets.get(key);
    if (secret === undefined) {
      secret = this.open(sealed, `credentials.secret_key:${accessKey}`);
      if (this.openedKeySecrets.size >= 1000) this.openedKeySecrets.delete(this.openedKeySecrets.keys().next().value!);
      this.openedKeySecrets.set(key, secret);
    }
    return secret;
  }

  private signaturesSincePurge = 0;

  async useSignature(accessKey: string, signature: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    // Purging on every 256th use keeps the cost of a request flat and the table bounded by the
    // window's traffic; a replay of a purged signature is already refused by its timestamp.
    if (++this.signaturesSincePurge >= 256) {
      this.signaturesSincePurge = 0;
      await this.db.deleteFrom('used_signatures').where('expires_at_ms', '<', nowMs).execute();
    }
    const r = await this.db
      .insertInto('used_signatures')
      .values({ access_key: accessKey, signature, expires_at_ms: expiresAtMs })
      .onConflict((oc) => oc.columns(['access_key', 'signature']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Saves an issued key, or replaces the secret and account of the same access key. */
  async saveCredential(c: Credential): Promise<void> {
    const sealed = this.seal(c.secretKey, `credentials.secret_key:${c.accessKey}`);
    await this.db
      .insertInto('credentials')
      .values({ access_key: c.accessKey, secret_key: sealed, account_id: c.accountId, user_id: c.userId, created_at: new Date().toISOString(), kind: 'issued' })
      .onConflict((oc) => oc.column('access_key').doUpdateSet({ secret_key: sealed, account_id: c.accountId, user_id: c.userId }))
      .execute();
  }

  async createAccount(a: Account): Promise<boolean> {
    const r = await this.db
      .insertInto('accounts')
      .values({ id: a.id, name: a.name, created_at: a.createdAt })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async findAccount(id: string): Promise<Account | undefined> {
    const r = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return r && { id: r.id, name: r.name, createdAt: r.created_at };
  }

  async findAccountByName(name: string): Promise<Account | undefined> {
    const r = await this.db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
    return r && { id: r.id, name: r.name, createdAt: r.created_at };
  }

  async listAccounts(): Promise<Account[]> {
    const rows = await this.db.selectFrom('accounts').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at }));
  }

  async insertAccessKey(c: Credential, kind: AccessKeyKind, description: string | null, at: string): Promise<void> {
    await this.db
      .insertInto('credentials')
      .values({ access_key: c.accessKey, secret_key: this.seal(c.secretKey, `credentials.secret_key:${c.accessKey}`), account_id: c.accountId, user_id: c.userId, created_at: at, kind, description })
      .execute();
  }

  async listAccessKeys(accountId?: string): Promise<AccessKeyInfo[]> {
    let q = this.db.selectFrom('credentials').select(['access_key', 'account_id', 'kind', 'description', 'created_at', 'revoked_at']);
    if (accountId !== undefined) q = q.where('account_id', '=', accountId);
    const rows = await q.orderBy('created_at').orderBy('access_key').execute();
    return rows.map((r) => toKeyInfo(r));
  }

  async accessKeyInfo(accessKey: string): Promise<AccessKeyInfo | undefined> {
    const r = await this.db
      .selectFrom('credentials')
      .select(['access_key', 'account_id', 'kind', 'description', 'created_at', 'revoked_at'])
      .where('access_key', '=', accessKey)
      .executeTakeFirst();
    return r && toKeyInfo(r);
  }

  async revokeAccessKey(accessKey: string, at: string): Promise<boolean> {
    const r = await this.db.updateTable('credentials').set({ revoked_at: at }).where('access_key', '=', accessKey).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async saveBootstrapCredential(c: Credential, at: string): Promise<{ revoked: string[]; revokedItself: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      // The new key first: a start that dies half-way never leaves no bootstrap key in force.
      const sealed = this.seal(c.secretKey, `credentials.secret_key:${c.accessKey}`);
      await trx
        .insertInto('credentials')
        .values({ access_key: c.accessKey, secret_key: sealed, account_id: c.accountId, user_id: c.userId, created_at: at, kind: 'bootstrap' })
        .onConflict((oc) => oc.column('access_key').doUpdateSet({ secret_key: sealed, account_id: c.accountId, user_id: c.userId, kind: 'bootstrap' }))
        .execute();
      const own = await trx.selectFrom('credentials').select('revoked_at').where('access_key', '=', c.accessKey).executeTakeFirstOrThrow();
      const stale = await trx
        .selectFrom('credentials')
        .select('access_key')
        .where('kind', '=', 'bootstrap')
        .where('access_key', '<>', c.accessKey)
        .where('revoked_at', 'is', null)
        .execute();
      if (stale.length > 0) {
        await trx.updateTable('credentials').set({ revoked_at: at }).where('access_key', 'in', stale.map((r) => r.access_key)).execute();
      }
      const account = await trx.selectFrom('accounts').select('id').where('id', '=', c.accountId).executeTakeFirst();
      if (!account) {
        const names = new Set((await trx.selectFrom('accounts').select('name').where('name', 'like', 'bootstrap%').execute()).map((r) => r.name));
        const name = bootstrapAccountName(c.accountId, (n) => names.has(n));
        await trx.insertInto('accounts').values({ id: c.accountId, name, created_at: at }).onConflict((oc) => oc.doNothing()).execute();
      }
      return { revoked: stale.map((r) => r.access_key), revokedItself: own.revoked_at !== null };
    });
  }

  async createCluster(n: NewCluster, request: OperationRequest): Promise<void> {
    const c = n.cluster;
    await rethrowUnique(() =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('clusters')
          .values({
            id: c.id,
            account_id: c.accountId,
            name: c.name,
            engine_version_id: c.engineVersionId,
            engine: c.engine,
            product_image_type: c.productImageType,
            software_version: c.softwareVersion,
            ha_enabled: c.haEnabled ? 1 : 0,
            replica_count: c.replicaCount,
            service_state: c.serviceState,
            subnet_id: c.subnetId,
            timezone: c.timezone,
            database_port: c.databasePort,
            sentinel_port: c.sentinelPort,
            nat_enabled: c.natEnabled ? 1 : 0,
            allowable_ip_addresses: JSON.stringify(c.allowableIpAddresses),
            tags: JSON.stringify(c.tags),
            backup_option: c.backupOption ? JSON.stringify(c.backupOption) : null,
            maintenance_option: c.maintenanceOption ? JSON.stringify(c.maintenanceOption) : null,
            parameters: Object.keys(c.parameters).length > 0 ? JSON.stringify(c.parameters) : null,
            commands: Object.keys(c.commands).length > 0 ? JSON.stringify(c.commands) : null,
            instance_name_prefix: c.instanceNamePrefix,
            password: this.seal(n.password, `clusters.password:${c.id}`),
            service_secret: this.seal(n.serviceSecret, `clusters.service_secret:${c.id}`),
            live: 1,
            created_at: c.createdAt,
            created_by: c.createdBy,
            modified_at: c.modifiedAt,
            modified_by: c.modifiedBy,
          })
          .execute();
        await trx
          .insertInto('instance_groups')
          .values(n.groups.map((g, i) => ({
            id: g.id,
            cluster_id: c.id,
            role_type: g.roleType,
            server_type_name: g.serverTypeName,
            block_storage_groups: JSON.stringify(g.blockStorageGroups),
            position: i,
          })))
          .execute();
        await trx
          .insertInto('instances')
          .values(n.instances.map((inst, i) => ({
            id: inst.id,
            cluster_id: c.id,
            group_id: inst.groupId,
            name: inst.name,
            role_type: inst.roleType,
            subnet_id: c.subnetId,
            service_ip_address: inst.serviceIpAddress,
            port: inst.port,
            service_state: inst.serviceState,
            holds_address: 1,
            position: i,
          })))
          .execute();
        await trx.insertInto('requests').values(this.requestRow(request)).execute();
      }),
    );
  }

  private requestRow(r: OperationRequest): RequestsTable {
    return {
      id: r.id,
      account_id: r.accountId,
      cluster_id: r.clusterId,
      operation: r.operation,
      state: r.state,
      step: r.step,
      error: r.error,
      payload: r.payload ? JSON.stringify(r.payload) : null,
      active: 1,
      lease_owner: null,
      lease_until: null,
      created_by: r.createdBy,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      finished_at: null,
    };
  }

  async findCluster(accountId: string | null, id: string): Promise<Cluster | undefined> {
    const [r] = accountId === null ? await this.read(this.reads.cluster, [id]) : await this.read(this.reads.clusterOfAccount, [id, accountId]);
    return r && toCluster({ ...r, password: '', service_secret: null });
  }

  async clusterDetail(accountId: string | null, id: string): Promise<ClusterDetail | undefined> {
    // The three reads at once (an unseen cluster's groups and instances are read and dropped):
    // on SQLite one snapshot and one read lock instead of three.
    const [clusters, groups, instances] = await this.readTogether(...this.detailReads(accountId, id));
    return toDetail(clusters, groups, instances);
  }

  /**
   * Show Cluster's read: clusterDetail's answer, shared (frozen) between callers until the store
   * changes (see answerAt). The three reads and their row objects were half the service's CPU per
   * Show (`npm run bench:api`).
   */
  async clusterView(accountId: string | null, id: string): Promise<Readonly<ClusterDetail> | undefined> {
    const reads = this.detailReads(accountId, id);
    const kept = this.answerAt(`show/${accountId ?? ''}/${id}`, reads, (rows) =>
      toDetail(...(rows as [Selectable<ClustersTable>[], Selectable<Database['instance_groups']>[], Selectable<InstancesTable>[]])),
    );
    // Frozen on every dialect, so a caller that would change it fails on each alike.
    return kept ? kept.answer : deepFreeze(await this.clusterDetail(accountId, id));
  }

  private detailReads(accountId: string | null, id: string) {
    return [
      accountId === null ? ([this.reads.cluster, [id]] as const) : ([this.reads.clusterOfAccount, [id, accountId]] as const),
      [this.reads.groups, [id]] as const,
      [this.reads.instances, [id]] as const,
    ] as const;
  }

  /** Show's and List's answers by key, all read at one store version (see answerAt). */
  private answers: { version: string; byKey: Map<string, unknown> } = { version: '', byKey: new Map() };

  /**
   * On SQLite: `build` of the rows of `reads` (read in one read transaction), kept under `key`
   * while the store's version stays the same. Each call reads the version (one statement; a
   * commit of any connection changes it), so an answer is never older than the last commit.
   * The answer is frozen: callers share it. Undefined on PostgreSQL (several service instances
   * share it, and a cache would need invalidation across them) and inside a transaction: the
   * caller reads through Kysely.
   */
  private answerAt<T>(
    key: string,
    reads: ReadonlyArray<readonly [CompiledQuery<unknown>, readonly unknown[]]>,
    build: (rows: unknown[][]) => T,
  ): { answer: Readonly<T> } | undefined {
    const direct = this.direct;
    const version = direct?.version();
    if (direct === undefined || version === undefined) return undefined;
    if (version !== this.answers.version || this.answers.byKey.size >= MAX_ANSWERS) this.answers = { version, byKey: new Map() };
    const seen = this.answers.byKey.get(key);
    if (seen !== undefined) return { answer: seen as T };
    const got = direct.readVersioned(reads.map(([q, values]) => [q.sql, values] as const));
    if (!got) return undefined;
    const answer = deepFreeze(build(got.rows));
    // Kept only when read at the version just checked; "not found" is not kept (ids that do
    // not exist would fill the map).
    if (answer !== undefined && got.version === this.answers.version) this.answers.byKey.set(key, answer);
    return { answer };
  }

  async listClusters(accountId: string, q: ClusterQuery): Promise<{ clusters: ClusterSummary[]; total: number }> {
    const shape = this.listShape(q);
    const values: unknown[] = [accountId, ...(q.serviceState ? [q.serviceState] : []), ...(q.name ? [`%${escapeLike(q.name.toLowerCase())}%`] : [])];
    const count = [shape.count, values] as const;
    const page = [shape.page, [...values, q.size, q.page * q.size]] as const;
    const toPage = ([[totalRow], rows]: [Array<{ n: number }>, ListRow[]]) => ({
      total: Number(totalRow?.n ?? 0),
      clusters: rows.map(toSummary),
    });
    const key = `list/${accountId}/${q.sortField}/${q.sortDir}/${q.serviceState ?? ''}/${q.page}/${q.size}/${q.name ?? ''}`;
    const kept = this.answerAt(key, [count, page], (rows) => toPage(rows as [Array<{ n: number }>, ListRow[]]));
    if (kept) return kept.answer as { clusters: ClusterSummary[]; total: number };
    // Frozen on every dialect, as Show's answer is.
    return deepFreeze(toPage([await this.read(...count), await this.read(...page)] as [Array<{ n: number }>, ListRow[]]));
  }

  /** List Clusters' two statements for one shape of query, built and compiled once each. */
  private readonly listShapes = new Map<string, { count: CompiledQuery<{ n: number }>; page: CompiledQuery<ListRow> }>();

  private listShape(q: ClusterQuery) {
    const key = `${q.sortField}:${q.sortDir}:${q.serviceState ? 's' : ''}${q.name ? 'n' : ''}`;
    let shape = this.listShapes.get(key);
    if (shape) return shape;
    // Placeholders in the order listClusters passes values: account, state, name, limit, offset.
    let base = this.db.selectFrom('clusters').where('account_id', '=', '<account>');
    // Terminated clusters stay visible through Show Cluster and the service_state filter only.
    base = q.serviceState ? base.where('service_state', '=', '<state>') : base.where('live', '=', sql.lit(1));
    // Case-insensitive substring match, the same on SQLite and PostgreSQL.
    if (q.name) base = base.where(sql<boolean>`lower(${sql.ref('name')}) like ${'<name>'} escape '\\'`);
    const page = base
      .select(LIST_COLUMNS)
      .select((eb) =>
        eb.selectFrom('instances').whereRef('instances.cluster_id', '=', 'clusters.id').select((e) => e.fn.countAll<number>().as('c')).as('instance_count'),
      )
      // Names in code-point order on both, as SQLite's BINARY collation gives them.
      .orderBy(q.sortField === 'name' && this.postgres ? sql`${sql.ref('name')} collate "C"` : sql.ref(q.sortField), q.sortDir)
      // Ties by id in the same direction, so an index of (account, live|state, field, id) gives
      // the page in order, read from either end, with no sort of the account's every cluster.
      .orderBy('id', q.sortDir)
      .limit(1)
      .offset(0);
    shape = {
      count: base.select((eb) => eb.fn.countAll<number>().as('n')).compile() as CompiledQuery<{ n: number }>,
      page: page.compile() as CompiledQuery<ListRow>,
    };
    const expected = ['<account>', ...(q.serviceState ? ['<state>'] : []), ...(q.name ? ['<name>'] : [])];
    placeholdersAre(`list ${key} count`, shape.count, expected);
    placeholdersAre(`list ${key} page`, shape.page, [...expected, 1, 0]);
    this.listShapes.set(key, shape);
    return shape;
  }

  async clustersInStates(states: ServiceState[]): Promise<Cluster[]> {
    if (states.length === 0) return [];
    const rows = await this.db.selectFrom('clusters').select(CLUSTER_COLUMNS).where('service_state', 'in', states).execute();
    return rows.map((r) => toCluster({ ...r, password: '', service_secret: null }));
  }

  async clusterSecrets(id: string): Promise<ClusterSecrets> {
    const r = await this.db.selectFrom('clusters').select(['password', 'service_secret']).where('id', '=', id).executeTakeFirstOrThrow();
    if (!r.service_secret) throw new Error(`cluster ${id} has no service secret`);
    return { password: this.open(r.password, `clusters.password:${id}`), serviceSecret: this.open(r.service_secret, `clusters.service_secret:${id}`) };
  }

  async clusterPassword(id: string): Promise<string> {
    const r = await this.db.selectFrom('clusters').select('password').where('id', '=', id).executeTakeFirstOrThrow();
    return this.open(r.password, `clusters.password:${id}`);
  }

  private seal(value: string, place: string): string {
    return this.box ? this.box.seal(value, place) : value;
  }

  private open(value: string, place: string): string {
    return this.box ? this.box.open(value, place) : value;
  }

  /**
   * Seals with the current master key every secret that is plaintext (written before sealing
   * existed) or sealed with a previous key (a rotation). Returns how many values it sealed again.
   */
  async resealSecrets(): Promise<number> {
    const box = this.box;
    if (!box) return 0;
    let n = 0;
    const rows = await this.db.selectFrom('clusters').select(['id', 'password', 'service_secret']).execute();
    for (const r of rows) {
      const patch: { password?: string; service_secret?: string } = {};
      if (!box.isCurrent(r.password)) patch.password = box.seal(box.open(r.password, `clusters.password:${r.id}`), `clusters.password:${r.id}`);
      if (r.service_secret && !box.isCurrent(r.service_secret)) {
        patch.service_secret = box.seal(box.open(r.service_secret, `clusters.service_secret:${r.id}`), `clusters.service_secret:${r.id}`);
      }
      if (Object.keys(patch).length === 0) continue;
      await this.db.updateTable('clusters').set(patch).where('id', '=', r.id).execute();
      n += Object.keys(patch).length;
    }
    for (const r of await this.db.selectFrom('credentials').select(['access_key', 'secret_key']).execute()) {
      if (box.isCurrent(r.secret_key)) continue;
      const place = `credentials.secret_key:${r.access_key}`;
      await this.db.updateTable('credentials').set({ secret_key: box.seal(box.open(r.secret_key, place), place) }).where('access_key', '=', r.access_key).execute();
      n++;
    }
    // SQLite: the old values' pages linger in the write-ahead log until it is emptied.
    if (n > 0 && !(this.db.getExecutor().adapter instanceof PostgresAdapter)) await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db);
    return n;
  }

  async setClusterState(id: string, state: ServiceState, at: string, modifiedBy?: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ service_state: state, modified_at: at, live: state === 'TERMINATED' ? 0 : 1, ...(modifiedBy ? { modified_by: modifiedBy } : {}) })
      .where('id', '=', id)
      .execute();
  }

  async setClusterStateHeld(id: string, state: ServiceState, at: string, lease: Lease): Promise<boolean> {
    const res = await this.db
      .updateTable('clusters')
      .set({ service_state: state, modified_at: at, live: state === 'TERMINATED' ? 0 : 1 })
      .where('id', '=', id)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('requests')
            .select('id')
            .where('id', '=', lease.requestId)
            .where('lease_owner', '=', lease.workerId)
            .where('active', '=', 1),
        ),
      )
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async compareAndSetClusterState(id: string, expected: ServiceState, state: ServiceState, at: string): Promise<boolean> {
    const res = await this.db
      .updateTable('clusters')
      .set({ service_state: state, modified_at: at })
      .where('id', '=', id)
      .where('service_state', '=', expected)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async setInstanceState(instanceId: string, state: ServiceState): Promise<void> {
    // An address once released stays released: another cluster may hold it by now.
    await this.db
      .updateTable('instances')
      .set(ADDRESS_RELEASED.includes(state) ? { service_state: state, holds_address: 0 } : { service_state: state })
      .where('id', '=', instanceId)
      .execute();
  }

  async setInstanceRole(instanceId: string, role: InstanceRole): Promise<void> {
    await this.db.updateTable('instances').set({ role_type: role }).where('id', '=', instanceId).execute();
  }

  async takenAddresses(subnetId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('instances')
      .select('service_ip_address')
      .where('subnet_id', '=', subnetId)
      .where('holds_address', '=', 1)
      .execute();
    return new Set(rows.map((r) => r.service_ip_address));
  }

  async beginOperation(request: OperationRequest, from: readonly ServiceState[], during: ServiceState | null, backup?: BackupHistory): Promise<boolean> {
    return rethrowUnique(() =>
      this.db.transaction().execute(async (trx) => {
        if (during === null) {
          // The cluster keeps its state; the state must still be one the operation may start from.
          const row = await trx
            .selectFrom('clusters')
            .select('id')
            .where('id', '=', request.clusterId)
            .where('service_state', 'in', [...from])
            .executeTakeFirst();
          if (!row) return false;
        } else {
          const res = await trx
            .updateTable('clusters')
            .set({ service_state: during, modified_at: request.createdAt, modified_by: request.createdBy })
            .where('id', '=', request.clusterId)
            .where('service_state', 'in', [...from])
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) !== 1) return false;
        }
        await trx.insertInto('requests').values(this.requestRow(request)).execute();
        if (backup) await trx.insertInto('backup_histories').values(backupRow(backup)).execute();
        return true;
      }),
    );
  }

  async setBackupOption(clusterId: string, option: BackupOption | null, at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ backup_option: option ? JSON.stringify(option) : null, modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async setClusterParameters(clusterId: string, values: Record<string, string>, at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ parameters: Object.keys(values).length > 0 ? JSON.stringify(values) : null, modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async clusterOfGroup(accountId: string | null, groupId: string): Promise<string | undefined> {
    let q = this.db
      .selectFrom('instance_groups')
      .innerJoin('clusters', 'clusters.id', 'instance_groups.cluster_id')
      .select('clusters.id as id')
      .where('instance_groups.id', '=', groupId);
    if (accountId !== null) q = q.where('clusters.account_id', '=', accountId);
    return (await q.executeTakeFirst())?.id;
  }

  async setGroupServerType(groupId: string, serverTypeName: string, at: string, by: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const g = await trx.selectFrom('instance_groups').select('cluster_id').where('id', '=', groupId).executeTakeFirst();
      if (!g) return;
      await trx.updateTable('instance_groups').set({ server_type_name: serverTypeName }).where('id', '=', groupId).execute();
      await trx.updateTable('clusters').set({ modified_at: at, modified_by: by }).where('id', '=', g.cluster_id).execute();
    });
  }

  async findBlockStorageGroup(accountId: string | null, storageId: string): Promise<{ clusterId: string; groupId: string } | undefined> {
    // Block storage groups are kept as JSON with their instance group: the text narrows the
    // rows (ids are hex, nothing to escape), the parsed JSON decides.
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(storageId)) return undefined;
    let q = this.db
      .selectFrom('instance_groups')
      .innerJoin('clusters', 'clusters.id', 'instance_groups.cluster_id')
      .select(['clusters.id as cluster_id', 'instance_groups.id as group_id', 'instance_groups.block_storage_groups as storage'])
      .where('instance_groups.block_storage_groups', 'like', `%${storageId}%`);
    if (accountId !== null) q = q.where('clusters.account_id', '=', accountId);
    for (const r of await q.execute()) {
      if ((JSON.parse(r.storage) as BlockStorageGroup[]).some((b) => b.id === storageId)) return { clusterId: r.cluster_id, groupId: r.group_id };
    }
    return undefined;
  }

  async setBlockStorageSize(groupId: string, storageId: string, sizeGb: number, at: string, by: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const g = await trx.selectFrom('instance_groups').select(['cluster_id', 'block_storage_groups']).where('id', '=', groupId).executeTakeFirst();
      if (!g) return;
      const storage = (JSON.parse(g.block_storage_groups) as BlockStorageGroup[]).map((b) => (b.id === storageId ? { ...b, sizeGb } : b));
      await trx.updateTable('instance_groups').set({ block_storage_groups: JSON.stringify(storage) }).where('id', '=', groupId).execute();
      await trx.updateTable('clusters').set({ modified_at: at, modified_by: by }).where('id', '=', g.cluster_id).execute();
    });
  }

  async setAllowableIpAddresses(clusterId: string, list: string[], at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ allowable_ip_addresses: JSON.stringify(list), modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async setClusterCommands(clusterId: string, commands: Record<string, string>, at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ commands: Object.keys(commands).length > 0 ? JSON.stringify(commands) : null, modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async findBackup(clusterId: string, id: string): Promise<BackupHistory | undefined> {
    const r = await this.db.selectFrom('backup_histories').selectAll().where('cluster_id', '=', clusterId).where('id', '=', id).executeTakeFirst();
    return r && toBackup(r);
  }

  async listBackups(clusterId: string, page: { limit: number; page: number }): Promise<{ backups: BackupHistory[]; total: number }> {
    const count = await this.db
      .selectFrom('backup_histories')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('cluster_id', '=', clusterId)
      .executeTakeFirstOrThrow();
    const rows = await this.db
      .selectFrom('backup_histories')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.limit * page.page)
      .execute();
    return { backups: rows.map(toBackup), total: Number(count.n) };
  }

  async backupsOf(clusterId: string): Promise<BackupHistory[]> {
    const rows = await this.db.selectFrom('backup_histories').selectAll().where('cluster_id', '=', clusterId).orderBy('started_at').orderBy('id').execute();
    return rows.map(toBackup);
  }

  async updateBackup(id: string, patch: Partial<Omit<BackupHistory, 'id' | 'clusterId' | 'accountId'>>): Promise<void> {
    const set: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(patch)) set[BACKUP_COLUMNS[field]] = value ?? null;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('backup_histories').set(set).where('id', '=', id).execute();
  }

  async deleteBackups(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('backup_histories').where('id', 'in', ids).execute();
  }

  async findRequest(accountId: string | null, id: string): Promise<OperationRequest | undefined> {
    let q = this.db.selectFrom('requests').selectAll().where('id', '=', id);
    if (accountId !== null) q = q.where('account_id', '=', accountId);
    const r = await q.executeTakeFirst();
    return r && toRequest(r);
  }

  async activeRequest(clusterId: string): Promise<OperationRequest | undefined> {
    const r = await this.db.selectFrom('requests').selectAll().where('cluster_id', '=', clusterId).where('active', '=', 1).executeTakeFirst();
    return r && toRequest(r);
  }

  async claimRequest(workerId: string, nowMs: number, leaseMs: number, at: string, running: readonly string[] = []): Promise<OperationRequest | undefined> {
    // Optimistic claim: pick a candidate, then take it only if nobody else did meanwhile.
    for (let attempt = 0; attempt < 5; attempt++) {
      let query = this.db
        .selectFrom('requests')
        .select(['id', 'state', 'lease_until'])
        .where('active', '=', 1)
        .where((eb) => eb.or([eb('state', '=', 'REQUESTED'), eb('lease_until', '<', nowMs)]));
      if (running.length > 0) query = query.where('id', 'not in', [...running]);
      const candidate = await query
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst();
      if (!candidate) return undefined;
      let upd = this.db
        .updateTable('requests')
        .set({ state: 'RUNNING', lease_owner: workerId, lease_until: nowMs + leaseMs, updated_at: at })
        .where('id', '=', candidate.id)
        .where('active', '=', 1)
        .where('state', '=', candidate.state);
      upd = candidate.lease_until === null ? upd.where('lease_until', 'is', null) : upd.where('lease_until', '=', candidate.lease_until);
      const res = await upd.executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return this.findRequest(null, candidate.id);
    }
    return undefined;
  }

  async renewLease(id: string, workerId: string, leaseUntilMs: number): Promise<boolean> {
    const res = await this.db
      .updateTable('requests')
      .set({ lease_until: leaseUntilMs })
      .where('id', '=', id)
      .where('lease_owner', '=', workerId)
      .where('active', '=', 1)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async recordStep(id: string, workerId: string, step: string, at: string): Promise<void> {
    const res = await this.db
      .updateTable('requests')
      .set({ step, updated_at: at })
      .where('id', '=', id)
      .where('lease_owner', '=', workerId)
      .where('active', '=', 1)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new Error(`request ${id} is no longer held by this worker`);
  }

  async finishRequest(id: string, state: 'COMPLETED' | 'FAILED', error: string | null, at: string, heldBy?: string): Promise<boolean> {
    let upd = this.db
      .updateTable('requests')
      .set({ state, error, active: 0, lease_owner: null, lease_until: null, updated_at: at, finished_at: at })
      .where('id', '=', id);
    if (heldBy !== undefined) upd = upd.where('lease_owner', '=', heldBy).where('active', '=', 1);
    const res = await upd.executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async releaseAllLeases(): Promise<number> {
    const res = await this.db
      .updateTable('requests')
      .set({ lease_until: 0 })
      .where('active', '=', 1)
      .where('state', '=', 'RUNNING')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async autoRestartHold(clusterId: string): Promise<string | null> {
    const r = await this.db.selectFrom('auto_restart_holds').select('reason').where('cluster_id', '=', clusterId).executeTakeFirst();
    return r?.reason ?? null;
  }

  async holdAutoRestart(clusterId: string, reason: string, at: string): Promise<void> {
    await this.db
      .insertInto('auto_restart_holds')
      .values({ cluster_id: clusterId, reason, at })
      .onConflict((oc) => oc.column('cluster_id').doUpdateSet({ reason, at }))
      .execute();
  }

  async releaseAutoRestart(clusterId: string): Promise<void> {
    await this.db.deleteFrom('auto_restart_holds').where('cluster_id', '=', clusterId).execute();
  }

  async addEvent(clusterId: string, requestId: string | null, message: string, at: string): Promise<void> {
    await this.db.insertInto('events').values({ id: eventId(), cluster_id: clusterId, request_id: requestId, message, at }).execute();
  }

  async listEvents(clusterId: string): Promise<ClusterEvent[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('cluster_id', '=', clusterId).orderBy('id').execute();
    return rows.map((r) => ({ at: r.at, requestId: r.request_id, message: r.message }));
  }
  async setMaintenanceOption(clusterId: string, option: MaintenanceOption | null, at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ maintenance_option: option ? JSON.stringify(option) : null, modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async setClusterEngineVersion(clusterId: string, engineVersionId: string, softwareVersion: string, at: string, by: string): Promise<void> {
    await this.db
      .updateTable('clusters')
      .set({ engine_version_id: engineVersionId, software_version: softwareVersion, modified_at: at, modified_by: by })
      .where('id', '=', clusterId)
      .execute();
  }

  async recordParkedRequest(request: OperationRequest): Promise<void> {
    // Not active: the unique "one active request per cluster" index does not see it.
    await this.db.insertInto('requests').values({ ...this.requestRow(request), state: 'RUNNING', active: 0 }).execute();
  }

  async parkedRequests(clusterId: string | null): Promise<OperationRequest[]> {
    let q = this.db.selectFrom('requests').selectAll().where('active', '=', 0).where('state', '=', 'RUNNING');
    if (clusterId !== null) q = q.where('cluster_id', '=', clusterId);
    return (await q.orderBy('created_at').execute()).map(toRequest);
  }

  async setParkedStep(id: string, step: string, at: string): Promise<void> {
    await this.db.updateTable('requests').set({ step, updated_at: at }).where('id', '=', id).where('active', '=', 0).where('state', '=', 'RUNNING').execute();
  }

  async requestsFinishedSince(at: string): Promise<Array<{ id: string; clusterId: string; finishedAt: string }>> {
    const rows = await this.db
      .selectFrom('requests')
      .select(['id', 'cluster_id', 'finished_at'])
      .where('finished_at', '>=', at)
      .orderBy('finished_at')
      .execute();
    return rows.map((r) => ({ id: r.id, clusterId: r.cluster_id, finishedAt: r.finished_at! }));
  }

  async takeLeadership(name: string, holder: string, nowMs: number, leaseMs: number): Promise<number | null> {
    await this.db.insertInto('leadership').values({ name, holder: null, term: 0, until_ms: 0 }).onConflict((oc) => oc.column('name').doNothing()).execute();
    // One statement decides: of processes trying at once, the row lock (PostgreSQL) or the single
    // writer (SQLite) lets one through, and the others find the lease held when they look again.
    const row = await this.db
      .updateTable('leadership')
      .set((eb) => ({
        holder,
        term: eb.case().when('holder', '=', holder).then(eb.ref('term')).else(eb('term', '+', 1)).end(),
        until_ms: nowMs + leaseMs,
      }))
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', 'is', null), eb('holder', '=', holder), eb('until_ms', '<=', nowMs)]))
      .returning('term')
      .executeTakeFirst();
    return row ? Number(row.term) : null;
  }

  async renewLeadership(name: string, holder: string, term: number, nowMs: number, leaseMs: number): Promise<boolean> {
    const res = await this.db
      .updateTable('leadership')
      .set({ until_ms: nowMs + leaseMs })
      .where('name', '=', name)
      .where('holder', '=', holder)
      .where('term', '=', term)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async releaseLeadership(name: string, holder: string, term: number): Promise<void> {
    await this.db.updateTable('leadership').set({ holder: null, until_ms: 0 }).where('name', '=', name).where('holder', '=', holder).where('term', '=', term).execute();
  }

  async unparkRequest(id: string, clusterId: string, during: ServiceState | null, payload: Record<string, unknown> | null, at: string): Promise<boolean> {
    return rethrowUnique(() =>
      this.db.transaction().execute(async (trx) => {
        const cluster = await trx.selectFrom('clusters').select('service_state').where('id', '=', clusterId).executeTakeFirst();
        if (cluster?.service_state !== 'RUNNING') return false;
        // An expired lease: the next claim takes it and runs its workflow from the first step.
        const res = await trx
          .updateTable('requests')
          .set({ active: 1, lease_owner: null, lease_until: 0, payload: payload ? JSON.stringify(payload) : null, updated_at: at })
          .where('id', '=', id)
          .where('active', '=', 0)
          .where('state', '=', 'RUNNING')
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        if (during !== null) await trx.updateTable('clusters').set({ service_state: during, modified_at: at }).where('id', '=', clusterId).execute();
        return true;
      }),
    );
  }
}
