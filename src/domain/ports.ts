// The interfaces the domain needs from the outside world. Implementations live in store/ and
// drivers/; the domain imports only these.
import type {
  BackupHistory, BackupOption, Cluster, ClusterDetail, ClusterEvent, Credential, Instance, InstanceGroup, InstanceRole, MaintenanceOption, OperationKind,
  OperationRequest, RequestState, ServiceState,
} from './model.js';
import type { AddressChoice, Subnet, WantedAddress } from './network.js';

export type SortField = 'name' | 'service_state' | 'created_at';

export interface ClusterQuery {
  name?: string;
  serviceState?: ServiceState;
  page: number;
  size: number;
  sortField: SortField;
  sortDir: 'asc' | 'desc';
}

/** Never in a response, log, event or error. */
export interface ClusterSecrets {
  /** The tenant's password (the `default` user). */
  password: string;
  /** The service's own ACL user's secret. */
  serviceSecret: string;
}

/** What List Clusters shows of a cluster: the store reads no more (issue 17: List p99). */
export type ClusterSummary = Pick<
  Cluster,
  'id' | 'accountId' | 'name' | 'haEnabled' | 'serviceState' | 'createdAt' | 'createdBy' | 'modifiedAt' | 'modifiedBy'
> & { instanceCount: number };

export interface NewCluster {
  cluster: Cluster;
  password: string;
  /** The secret of the service's own ACL user on the cluster's processes. */
  serviceSecret: string;
  groups: InstanceGroup[];
  instances: Instance[];
}

/** Thrown by the store when a unique rule holds; the service turns it into a 400. */
export class UniqueViolation extends Error {
  constructor(readonly what: 'cluster_name' | 'address' | 'active_request' | 'backup_slot') {
    super(`unique violation: ${what}`);
  }
}

/** Who runs a request: the fence on a worker's writes. */
export interface Lease {
  requestId: string;
  workerId: string;
}

export interface Store {
  close(): Promise<void>;

  findCredential(accessKey: string): Promise<Credential | undefined>;
  /**
   * Records a signature as used; false when it was used before (a replay). Forgets signatures
   * whose window ended before `nowMs`, so what is kept is bounded by the window.
   */
  useSignature(accessKey: string, signature: string, expiresAtMs: number, nowMs: number): Promise<boolean>;
  saveCredential(c: Credential): Promise<void>;

  /** Records the cluster, its groups and instances and the create request, atomically. */
  createCluster(c: NewCluster, request: OperationRequest): Promise<void>;
  /** accountId null: any account (workers and the reconciler). */
  findCluster(accountId: string | null, id: string): Promise<Cluster | undefined>;
  clusterDetail(accountId: string | null, id: string): Promise<ClusterDetail | undefined>;
  /**
   * clusterDetail for an answer that only reads it (Show Cluster): the object may be shared with
   * other callers and is frozen; never older than the store's last commit.
   */
  clusterView(accountId: string | null, id: string): Promise<Readonly<ClusterDetail> | undefined>;
  listClusters(accountId: string, q: ClusterQuery): Promise<{ clusters: ClusterSummary[]; total: number }>;
  clustersInStates(states: ServiceState[]): Promise<Cluster[]>;
  clusterPassword(id: string): Promise<string>;
  /** The cluster password and the service user's secret: what the cluster's processes need. */
  clusterSecrets(id: string): Promise<ClusterSecrets>;
  setClusterState(id: string, state: ServiceState, at: string, modifiedBy?: string): Promise<void>;
  /** Moves the cluster to `state` only if it is still in `expected`; says whether it did. */
  compareAndSetClusterState(id: string, expected: ServiceState, state: ServiceState, at: string): Promise<boolean>;
  /**
   * Sets the cluster's state for a request's worker, only while that worker holds the request's
   * lease; says whether it did. A worker whose lease was taken over must not overwrite the state
   * its successor sets.
   */
  setClusterStateHeld(id: string, state: ServiceState, at: string, lease: Lease): Promise<boolean>;
  /** Sets an instance's state; TERMINATED and FAILED release its address for good. */
  setInstanceState(instanceId: string, state: ServiceState): Promise<void>;
  /** MASTER or REPLICA, as failovers and switchovers move the primary. */
  setInstanceRole(instanceId: string, role: InstanceRole): Promise<void>;
  /** Addresses held by instances that are not terminated or failed, in a subnet. */
  takenAddresses(subnetId: string): Promise<Set<string>>;

  /**
   * Starts a mutation: if the cluster is in one of `from`, moves it to `during` (null: leaves its
   * state) and records the request, and the backup history a backup starts, atomically. Returns
   * false when the state did not match; throws UniqueViolation ('active_request') when another
   * mutation of the cluster is active, ('backup_slot') when the slot's backup exists already.
   */
  beginOperation(request: OperationRequest, from: readonly ServiceState[], during: ServiceState | null, backup?: BackupHistory): Promise<boolean>;
  findRequest(accountId: string | null, id: string): Promise<OperationRequest | undefined>;
  activeRequest(clusterId: string): Promise<OperationRequest | undefined>;
  /** Claims one request that is REQUESTED, or RUNNING with an expired lease. */
  /** `running`: requests this worker still runs, never claimed again by it (their lease may have lapsed). */
  claimRequest(workerId: string, nowMs: number, leaseMs: number, at: string, running?: readonly string[]): Promise<OperationRequest | undefined>;
  renewLease(id: string, workerId: string, leaseUntilMs: number): Promise<boolean>;
  recordStep(id: string, workerId: string, step: string, at: string): Promise<void>;
  /** With `heldBy`, only while that worker holds the request's lease; says whether it finished it. */
  finishRequest(id: string, state: Extract<RequestState, 'COMPLETED' | 'FAILED'>, error: string | null, at: string, heldBy?: string): Promise<boolean>;
  /** Gives every RUNNING request's lease up (used at start when this process owns the store alone). */
  releaseAllLeases(): Promise<number>;

  setBackupOption(clusterId: string, option: BackupOption | null, at: string, by: string): Promise<void>;
  /** Replaces the tenant's parameter values of a cluster (name -> value). */
  setClusterParameters(clusterId: string, values: Record<string, string>, at: string, by: string): Promise<void>;
  /** Replaces the renamed ('new name') and disabled ('') commands of a cluster. */
  setClusterCommands(clusterId: string, commands: Record<string, string>, at: string, by: string): Promise<void>;
  /** The id of the cluster an instance group belongs to (accountId null: any account). */
  clusterOfGroup(accountId: string | null, groupId: string): Promise<string | undefined>;
  /** Records an instance group's new server type (Set Server Type). */
  setGroupServerType(groupId: string, serverTypeName: string, at: string, by: string): Promise<void>;
  /** The cluster and instance group a block storage group belongs to (accountId null: any account). */
  findBlockStorageGroup(accountId: string | null, storageId: string): Promise<{ clusterId: string; groupId: string } | undefined>;
  /** Records a block storage group's new size (Set Block Storage Size). */
  setBlockStorageSize(groupId: string, storageId: string, sizeGb: number, at: string, by: string): Promise<void>;
  /** Replaces the cluster's allow-list (allowable_ip_addresses). */
  setAllowableIpAddresses(clusterId: string, list: string[], at: string, by: string): Promise<void>;
  findBackup(clusterId: string, id: string): Promise<BackupHistory | undefined>;
  /** Newest first. */
  listBackups(clusterId: string, page: { limit: number; page: number }): Promise<{ backups: BackupHistory[]; total: number }>;
  /** Oldest first. */
  backupsOf(clusterId: string): Promise<BackupHistory[]>;
  updateBackup(id: string, patch: Partial<Omit<BackupHistory, 'id' | 'clusterId' | 'accountId'>>): Promise<void>;
  deleteBackups(ids: string[]): Promise<void>;

  /**
   * Automatic restarts of a cluster's dead processes: held (with a reason) after a crash loop or
   * a failed operation, released by the operator's next Start or Restart. null: not held.
   */
  autoRestartHold(clusterId: string): Promise<string | null>;
  holdAutoRestart(clusterId: string, reason: string, at: string): Promise<void>;
  releaseAutoRestart(clusterId: string): Promise<void>;

  addEvent(clusterId: string, requestId: string | null, message: string, at: string): Promise<void>;
  listEvents(clusterId: string): Promise<ClusterEvent[]>;

  // Maintenance windows (README "Maintenance windows").
  setMaintenanceOption(clusterId: string, option: MaintenanceOption | null, at: string, by: string): Promise<void>;
  /** Records the engine version the cluster's processes run now (after an engine patch upgrade). */
  setClusterEngineVersion(clusterId: string, engineVersionId: string, softwareVersion: string, at: string, by: string): Promise<void>;
  /**
   * Records a request that waits for the cluster's maintenance window: RUNNING, its step the
   * waiting label, and not active (it holds no lock on the cluster and no worker claims it).
   */
  recordParkedRequest(request: OperationRequest): Promise<void>;
  /** Waiting requests, oldest first; clusterId null: of every cluster. */
  parkedRequests(clusterId: string | null): Promise<OperationRequest[]>;
  /** A waiting request shows another label (its window changed). */
  setParkedStep(id: string, step: string, at: string): Promise<void>;
  /**
   * The window is open (or gone): makes a waiting request active and claimable at once, with
   * `payload`, moving a RUNNING cluster to `during` (null: leaves it) atomically. False when the
   * cluster is not RUNNING or the request no longer waits; UniqueViolation ('active_request')
   * when another request of the cluster is active.
   */
  unparkRequest(id: string, clusterId: string, during: ServiceState | null, payload: Record<string, unknown> | null, at: string): Promise<boolean>;
  /** Requests that finished at or after `at` (ISO time), oldest first: the leader looks at their clusters. */
  requestsFinishedSince(at: string): Promise<Array<{ id: string; clusterId: string; finishedAt: string }>>;
}

/** The leadership lease of the duties one process runs (domain/leadership.ts), in the shared store. */
export interface LeadershipStore {
  /** Takes the lease if it is free or expired (a new term), or renews it if `holder` holds it; returns the term held, or null. */
  takeLeadership(name: string, holder: string, nowMs: number, leaseMs: number): Promise<number | null>;
  /** Renews the lease while `holder` holds it in `term`; false when it no longer does. */
  renewLeadership(name: string, holder: string, term: number, nowMs: number, leaseMs: number): Promise<boolean>;
  /** Gives the lease up (a clean stop), so another process takes it at once. */
  releaseLeadership(name: string, holder: string, term: number): Promise<void>;
}

export type { OperationKind };

/** What a cluster's engines run now (the operations module answers with CONFIG GET). */
export interface EngineConfigReader {
  /**
   * The values of `names` on the cluster's primary (or, without one, another running data
   * node); null when no data node answers (e.g. the cluster is stopped).
   */
  read(clusterId: string, names: string[]): Promise<Record<string, string> | null>;
  /** Which of `names` the same node knows as commands (COMMAND INFO); null when none answers. */
  knownCommands(clusterId: string, names: string[]): Promise<Record<string, boolean> | null>;
  /** The data in use on the cluster's primary (INFO memory used_memory, bytes); null when none answers. */
  usedMemory(clusterId: string): Promise<number | null>;
}

/**
 * Addresses for new instances, from where engines run (the driver answers: locally, addresses
 * nothing on this machine listens on; on Kubernetes, clusterIPs no Service holds). `taken`: what
 * the store says other instances hold. The choice itself is chooseAddresses (network.ts).
 */
export interface EndpointAllocator {
  allocateAddresses(subnet: Subnet, wanted: readonly WantedAddress[], taken: ReadonlySet<string>): Promise<AddressChoice>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
