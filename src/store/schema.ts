// Table shapes as Kysely sees them. Booleans are 0/1 integers and timestamps ISO-8601 text, so
// the same queries run on SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface CredentialsTable {
  access_key: string;
  secret_key: string;
  account_id: string;
  user_id: string;
  created_at: string;
  /** 'bootstrap' or 'issued' (migration 012). */
  kind: Generated<string>;
  description: string | null;
  revoked_at: string | null;
}

export interface AccountsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ClustersTable {
  id: string;
  account_id: string;
  name: string;
  engine_version_id: string;
  engine: string;
  product_image_type: string;
  software_version: string;
  ha_enabled: number;
  replica_count: number;
  service_state: string;
  subnet_id: string;
  timezone: string;
  database_port: number;
  sentinel_port: number;
  nat_enabled: number;
  allowable_ip_addresses: string;
  tags: string;
  backup_option: string | null;
  maintenance_option: string | null;
  /** JSON object name -> value: the tenant's parameter values (null: none). */
  parameters: string | null;
  /** JSON object command -> new name ('' disabled); null: none. */
  commands: string | null;
  instance_name_prefix: string;
  password: string;
  /** The service's ACL user's secret (migration 004); null only before that migration ran. */
  service_secret: string | null;
  /** 1 while the cluster is not TERMINATED: keeps names unique among live clusters. */
  live: number;
  created_at: string;
  created_by: string;
  modified_at: string;
  modified_by: string;
}

export interface InstanceGroupsTable {
  id: string;
  cluster_id: string;
  role_type: string;
  server_type_name: string;
  block_storage_groups: string;
  position: number;
}

export interface InstancesTable {
  id: string;
  cluster_id: string;
  group_id: string;
  name: string;
  role_type: string;
  subnet_id: string;
  service_ip_address: string;
  port: number;
  service_state: string;
  /** 1 while the instance holds its address (not TERMINATED or FAILED). */
  holds_address: number;
  position: number;
}

export interface RequestsTable {
  id: string;
  account_id: string;
  cluster_id: string;
  operation: string;
  state: string;
  step: string | null;
  error: string | null;
  payload: string | null;
  /** 1 while REQUESTED or RUNNING: at most one per cluster (unique partial index). */
  active: number;
  lease_owner: string | null;
  lease_until: number | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface EventsTable {
  id: string;
  cluster_id: string;
  request_id: string | null;
  message: string;
  at: string;
}

export interface BackupHistoriesTable {
  id: string;
  cluster_id: string;
  account_id: string;
  request_id: string;
  kind: string;
  slot: string | null;
  state: string;
  detail: string | null;
  engine: string;
  software_version: string;
  started_at: string;
  ended_at: string | null;
  source_instance_id: string | null;
  snapshot_at: string | null;
  storage_key: string | null;
  size_bytes: number | string | null;
  sha256: string | null;
  key_count: number | string | null;
  digest: string | null;
  log_file: string | null;
  log_end_at: string | null;
}

export interface AutoRestartHoldsTable {
  cluster_id: string;
  reason: string;
  at: string;
}

export interface UsedSignaturesTable {
  access_key: string;
  signature: string;
  /** Unix ms after which the signature's timestamp is outside the 15-minute window anyway. */
  expires_at_ms: number;
}

export interface Database {
  credentials: CredentialsTable;
  clusters: ClustersTable;
  instance_groups: InstanceGroupsTable;
  instances: InstancesTable;
  requests: RequestsTable;
  events: EventsTable;
  backup_histories: BackupHistoriesTable;
  auto_restart_holds: AutoRestartHoldsTable;
  used_signatures: UsedSignaturesTable;
  accounts: AccountsTable;
  leadership: LeadershipTable;
}

/** One row per elected duty ('duties'): who leads, in which term, until when (domain/leadership.ts). */
export interface LeadershipTable {
  name: string;
  holder: string | null;
  term: number;
  until_ms: number;
}
