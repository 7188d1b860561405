// Versioned migrations, applied at start by Kysely's Migrator. Never edit a released one: add
// the next. Names sort by their timestamp prefix.
import { newServiceSecret } from '../domain/ids.js';
import { PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
  '2026-11-27-001-initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('credentials')
        .addColumn('access_key', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('secret_key', 'varchar(256)', (c) => c.notNull())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('clusters')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(64)', (c) => c.notNull())
        .addColumn('engine_version_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('engine', 'varchar(16)', (c) => c.notNull())
        .addColumn('product_image_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('software_version', 'varchar(32)', (c) => c.notNull())
        .addColumn('ha_enabled', 'integer', (c) => c.notNull())
        .addColumn('replica_count', 'integer', (c) => c.notNull())
        .addColumn('service_state', 'varchar(16)', (c) => c.notNull())
        .addColumn('subnet_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('timezone', 'varchar(64)', (c) => c.notNull())
        .addColumn('database_port', 'integer', (c) => c.notNull())
        .addColumn('sentinel_port', 'integer', (c) => c.notNull())
        .addColumn('nat_enabled', 'integer', (c) => c.notNull())
        .addColumn('allowable_ip_addresses', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('backup_option', 'text')
        .addColumn('maintenance_option', 'text')
        .addColumn('instance_name_prefix', 'varchar(32)', (c) => c.notNull())
        .addColumn('password', 'varchar(64)', (c) => c.notNull())
        .addColumn('live', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('created_by', 'varchar(64)', (c) => c.notNull())
        .addColumn('modified_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('modified_by', 'varchar(64)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('clusters_account_created').on('clusters').columns(['account_id', 'created_at']).execute();
      await db.schema.createIndex('clusters_account_name').on('clusters').columns(['account_id', 'name']).execute();
      await db.schema.createIndex('clusters_state').on('clusters').column('service_state').execute();
      await db.schema
        .createIndex('clusters_live_name_unique')
        .unique()
        .on('clusters')
        .columns(['account_id', 'name'])
        .where(sql.ref('live'), '=', 1)
        .execute();

      await db.schema
        .createTable('instance_groups')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('cluster_id', 'varchar(32)', (c) => c.notNull().references('clusters.id'))
        .addColumn('role_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('server_type_name', 'varchar(64)', (c) => c.notNull())
        .addColumn('block_storage_groups', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('instance_groups_cluster').on('instance_groups').column('cluster_id').execute();

      await db.schema
        .createTable('instances')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('cluster_id', 'varchar(32)', (c) => c.notNull().references('clusters.id'))
        .addColumn('group_id', 'varchar(32)', (c) => c.notNull().references('instance_groups.id'))
        .addColumn('name', 'varchar(64)', (c) => c.notNull())
        .addColumn('role_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('subnet_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('service_ip_address', 'varchar(64)', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('service_state', 'varchar(16)', (c) => c.notNull())
        .addColumn('holds_address', 'integer', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('instances_cluster').on('instances').column('cluster_id').execute();
      await db.schema
        .createIndex('instances_address_unique')
        .unique()
        .on('instances')
        .columns(['subnet_id', 'service_ip_address'])
        .where(sql.ref('holds_address'), '=', 1)
        .execute();

      await db.schema
        .createTable('requests')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('cluster_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('operation', 'varchar(32)', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('step', 'varchar(64)')
        .addColumn('error', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('lease_owner', 'varchar(64)')
        .addColumn('lease_until', 'bigint')
        .addColumn('created_by', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('finished_at', 'varchar(40)')
        .execute();
      await db.schema.createIndex('requests_active').on('requests').columns(['active', 'created_at']).execute();
      await db.schema
        .createIndex('requests_one_active_per_cluster')
        .unique()
        .on('requests')
        .column('cluster_id')
        .where(sql.ref('active'), '=', 1)
        .execute();

      await db.schema
        .createTable('events')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('cluster_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('request_id', 'varchar(64)')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_cluster_at').on('events').columns(['cluster_id', 'at']).execute();
    },
  },
  '2026-11-27-002-request-payload': {
    async up(db: Kysely<any>) {
      // What an operation needs beyond its cluster (the switchover target, the primary a
      // rolling restart started from), as JSON.
      await db.schema.alterTable('requests').addColumn('payload', 'text').execute();
    },
  },
  '2026-11-27-003-backup-histories': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('backup_histories')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('cluster_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('slot', 'varchar(40)')
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('engine', 'varchar(16)', (c) => c.notNull())
        .addColumn('software_version', 'varchar(32)', (c) => c.notNull())
        .addColumn('started_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('ended_at', 'varchar(40)')
        .addColumn('source_instance_id', 'varchar(32)')
        .addColumn('snapshot_at', 'varchar(40)')
        .addColumn('storage_key', 'varchar(256)')
        .addColumn('size_bytes', 'bigint')
        .addColumn('sha256', 'varchar(64)')
        .addColumn('key_count', 'bigint')
        .addColumn('digest', 'varchar(64)')
        .addColumn('log_file', 'varchar(512)')
        .addColumn('log_end_at', 'varchar(40)')
        .execute();
      await db.schema.createIndex('backup_histories_cluster_started').on('backup_histories').columns(['cluster_id', 'started_at']).execute();
      // One scheduled backup per cluster and daily slot, even with several service replicas.
      await db.schema
        .createIndex('backup_histories_slot_unique')
        .unique()
        .on('backup_histories')
        .columns(['cluster_id', 'slot'])
        .where(sql.ref('kind'), '=', 'scheduled')
        .execute();
    },
  },
  '2026-12-01-001-auto-restart-holds': {
    async up(db: Kysely<any>) {
      // A cluster whose dead processes the service must not start again by itself (a crash
      // loop, a failed operation) until an operator's Start or Restart; the reason, for people.
      await db.schema
        .createTable('auto_restart_holds')
        .addColumn('cluster_id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('at', 'varchar(40)', (c) => c.notNull())
        .execute();
    },
  },
  '2026-12-01-004-service-secret': {
    async up(db: Kysely<any>) {
      // The secret of the service's own ACL user on a cluster's engines and Sentinels, kept like
      // the cluster password and never shown. Clusters from before get one here; their running
      // engines are brought to it at the next start of the service (operations/engine-upgrade.ts).
      await db.schema.alterTable('clusters').addColumn('service_secret', 'varchar(64)').execute();
      const rows = await db.selectFrom('clusters').select('id').execute();
      for (const r of rows) {
        await db.updateTable('clusters').set({ service_secret: newServiceSecret() }).where('id', '=', r.id).execute();
      }
    },
  },
  '2026-12-01-010-cluster-parameters': {
    async up(db: Kysely<any>) {
      // The parameter values the tenant set (Set Parameter Values), as JSON.
      await db.schema.alterTable('clusters').addColumn('parameters', 'text').execute();
    },
  },
  '2026-12-01-011-cluster-commands': {
    async up(db: Kysely<any>) {
      // Renamed or disabled commands (Update Commands), as JSON.
      await db.schema.alterTable('clusters').addColumn('commands', 'text').execute();
    },
  },
  '2026-12-01-012-accounts-and-keys': {
    async up(db: Kysely<any>) {
      // Accounts that operators create (cachestore admin), and access keys that can be revoked.
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      // kind: 'bootstrap' (from the environment or the generated file: a new one revokes the
      // old) or 'issued' (cachestore admin keys issue). A revoked key is kept, for the record.
      await db.schema.alterTable('credentials').addColumn('kind', 'varchar(16)', (c) => c.notNull().defaultTo('bootstrap')).execute();
      await db.schema.alterTable('credentials').addColumn('description', 'varchar(256)').execute();
      await db.schema.alterTable('credentials').addColumn('revoked_at', 'varchar(40)').execute();
      // Every account a credential already names gets its row (keys and clusters keep working).
      const rows = await db.selectFrom('credentials').select(['account_id', 'created_at']).orderBy('created_at').execute();
      const seen = new Set<string>();
      for (const r of rows) {
        if (seen.has(r.account_id)) continue;
        seen.add(r.account_id);
        const name = seen.size === 1 ? 'bootstrap' : `account-${String(r.account_id).slice(0, 12)}`;
        await db.insertInto('accounts').values({ id: r.account_id, name, created_at: r.created_at }).execute();
      }
    },
  },
  '2026-12-01-030-used-signatures': {
    async up(db: Kysely<any>) {
      // Signatures of state-changing requests already accepted, so a captured request cannot be
      // sent again (the vendor's signature does not cover the body). Rows live as long as the
      // timestamp's 15-minute window, so the table stays bounded.
      await db.schema
        .createTable('used_signatures')
        .addColumn('access_key', 'varchar(128)', (c) => c.notNull())
        .addColumn('signature', 'varchar(128)', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('used_signatures_pk', ['access_key', 'signature'])
        .execute();
      await db.schema.createIndex('used_signatures_expiry').on('used_signatures').column('expires_at_ms').execute();
    },
  },
  '2026-12-01-031-sealed-secret-widths': {
    async up(db: Kysely<any>) {
      // Sealed secrets (store/secret-box.ts) are longer than the plaintext the columns were sized
      // for. SQLite does not enforce varchar lengths; PostgreSQL does.
      if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
      await db.schema.alterTable('clusters').alterColumn('password', (c) => c.setDataType('text')).execute();
      await db.schema.alterTable('clusters').alterColumn('service_secret', (c) => c.setDataType('text')).execute();
      await db.schema.alterTable('credentials').alterColumn('secret_key', (c) => c.setDataType('text')).execute();
    },
  },
  '2026-12-01-032-ordered-cluster-reads': {
    async up(db: Kysely<any>) {
      // Show Cluster reads a cluster's groups and instances in their order: with the position in
      // the index, SQLite reads them in order instead of sorting in a temporary B-tree each time.
      await db.schema.createIndex('instance_groups_cluster_position').on('instance_groups').columns(['cluster_id', 'position']).execute();
      await db.schema.createIndex('instances_cluster_position').on('instances').columns(['cluster_id', 'position']).execute();
    },
  },
  '2026-12-01-033-leadership': {
    async up(db: Kysely<any>) {
      // The lease of the duties only one service process runs at a time (domain/leadership.ts).
      await db.schema
        .createTable('leadership')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('holder', 'varchar(128)')
        .addColumn('term', 'integer', (c) => c.notNull())
        .addColumn('until_ms', 'bigint', (c) => c.notNull())
        .execute();
      // The leader follows the requests other processes finish (to look at their clusters).
      await db.schema.createIndex('requests_finished_at').on('requests').column('finished_at').execute();
    },
  },
  '2026-12-01-034-list-order-indexes': {
    async up(db: Kysely<any>) {
      // List Clusters reads a page of 20 in the order asked, ties by id: with these the database
      // walks the index from either end and stops after the page, where it sorted every cluster
      // of the account, with all their columns, for each page (p99 26 ms at 1,000 clusters).
      for (const field of ['created_at', 'name', 'service_state']) {
        await db.schema.createIndex(`clusters_list_live_${field}`).on('clusters').columns(['account_id', 'live', field, 'id']).execute();
      }
      await db.schema.createIndex('clusters_list_state_created_at').on('clusters').columns(['account_id', 'service_state', 'created_at', 'id']).execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
