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

export type OperationKind = 'create' | 'stop' | 'start' | 'restart' | 'terminate' | 'switchover' | 'sync';

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
}
