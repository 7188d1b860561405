// The entities of Cache Store as the domain sees them. Plain data: no HTTP, SQL or processes.
export const SERVICE_STATES = [
  'RUNNING', 'STOPPED', 'UNKNOWN', 'ERROR', 'FAILED', 'TERMINATED', 'CREATING', 'STOPPING',
  'STARTING', 'RESTARTING', 'EDITING', 'SYNCHRONIZING', 'UPGRADING', 'TERMINATING', 'MIGRATING',
] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

export type ProductImageType = 'Redis OSS Sentinel' | 'Valkey Sentinel';
export type EngineKind = 'redis' | 'valkey';

export interface Tag {
  key: string;
  value: string | null;
}

export interface BackupOption {
  retentionPeriodDay: string;
  startingTimeHour: string;
  /** When the schedule was set: daily slots before this instant are not owed a backup. */
  enabledAt?: string;
}

export interface MaintenanceOption {
  periodHour: string | null;
  startingDayOfWeek: string | null;
  startingTime: string | null;
}

export interface BlockStorageGroup {
  id: string;
  name: string;
  roleType: string;
  sizeGb: number;
  volumeType: string;
}

export interface Cluster {
  id: string;
  accountId: string;
  name: string;
  engineVersionId: string;
  engine: EngineKind;
  productImageType: ProductImageType;
  softwareVersion: string;
  haEnabled: boolean;
  replicaCount: number;
  serviceState: ServiceState;
  subnetId: string;
  timezone: string;
  databasePort: number;
  sentinelPort: number;
  natEnabled: boolean;
  allowableIpAddresses: string[];
  tags: Tag[];
  backupOption: BackupOption | null;
  maintenanceOption: MaintenanceOption | null;
  /** Parameter values the tenant set (Set Parameter Values), by name, as the engines report them. */
  parameters: Record<string, string>;
  /** Renamed (new name) or disabled ('') catalogue commands, by their own name (Update Commands). */
  commands: Record<string, string>;
  instanceNamePrefix: string;
  createdAt: string;
  createdBy: string;
  modifiedAt: string;
  modifiedBy: string;
}

export interface InstanceGroup {
  id: string;
  clusterId: string;
  roleType: string;
  serverTypeName: string;
  blockStorageGroups: BlockStorageGroup[];
}

export type InstanceRole = 'MASTER' | 'REPLICA' | 'SENTINEL';

export interface Instance {
  id: string;
  clusterId: string;
  groupId: string;
  name: string;
  roleType: InstanceRole;
  serviceIpAddress: string;
  port: number;
  serviceState: ServiceState;
}

export interface ClusterDetail {
  cluster: Cluster;
  groups: InstanceGroup[];
  instances: Instance[];
}

/** States of a request in the operations ledger, as Show Request reports them. */
export const REQUEST_STATES = ['REQUESTED', 'RUNNING', 'COMPLETED', 'FAILED'] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export type OperationKind =
  | 'create' | 'stop' | 'start' | 'restart' | 'terminate' | 'switchover' | 'sync'
  | 'backup' | 'remove-backups' | 'set-backup' | 'unset-backup' | 'restore' | 'set-security-group-rules'
  | 'set-parameters' | 'sync-parameters' | 'set-commands' | 'sync-commands' | 'set-server-type'
  | 'set-maintenance' | 'unset-maintenance' | 'upgrade-engine' | 'set-block-storage-size';

export interface OperationRequest {
  id: string;
  accountId: string;
  clusterId: string;
  operation: OperationKind;
  state: RequestState;
  /** Name of the last step that finished; null before the first. */
  step: string | null;
  error: string | null;
  /** What the operation needs beyond the cluster (e.g. the switchover target). */
  payload?: Record<string, unknown> | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export const BACKUP_STATES = ['RUNNING', 'COMPLETED', 'FAILED'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];

/** One backup of a cluster: an RDB in backup storage, and the write log that follows it. */
export interface BackupHistory {
  /** backup_history_number in the API. */
  id: string;
  clusterId: string;
  accountId: string;
  requestId: string;
  /** 'scheduled' backups carry the daily slot they were taken for. */
  kind: 'scheduled' | 'on-demand';
  slot: string | null;
  state: BackupState;
  /** Why it failed, or what verification found. */
  detail: string | null;
  engine: EngineKind;
  softwareVersion: string;
  startedAt: string;
  endedAt: string | null;
  /** The data node the snapshot was taken on. */
  sourceInstanceId: string | null;
  /** The instant the snapshot stands for: data written up to it is in the RDB. */
  snapshotAt: string | null;
  storageKey: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  keyCount: number | null;
  digest: string | null;
  /** The archived write log (AOF increment) that continues from the snapshot, if any. */
  logFile: string | null;
  /** Set once a later backup on the same node closed this log: it covers up to this instant. */
  logEndAt: string | null;
}

export interface ClusterEvent {
  at: string;
  requestId: string | null;
  message: string;
}

export interface Credential {
  accessKey: string;
  secretKey: string;
  accountId: string;
  /** Who the mutations of this key are recorded as (created_by / modified_by). */
  userId: string;
  /** Set once an operator revoked the key (or a new bootstrap key replaced it): it answers 401. */
  revokedAt?: string | null;
}
