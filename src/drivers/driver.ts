// The driver port: everything that depends on where engines run (README, The driver port):
// addresses, the engine versions on offer, processes, snapshots and restores, volumes. The local
// driver runs processes on loopback addresses; the Kubernetes driver runs pods.
import type { BackupStorage, StoredObject } from '../backups/storage.js';
import type { ClusterAccess } from '../domain/allow-list.js';
import type { EngineVersion } from '../domain/catalog.js';
import type { EngineKind } from '../domain/model.js';
import type { EndpointAllocator } from '../domain/ports.js';
import { SERVICE_USER } from '../engines/acl.js';
import type { Endpoint } from '../engines/client.js';
import type { SentinelFileState, SentinelSettings } from '../engines/config.js';

export type { SentinelFileState, SentinelSettings };

/** What a node that does not run left on disk, read without starting it. */
export interface PersistedState {
  /** Data nodes: whether any dataset is stored (an append-only file or a snapshot). */
  hasData: boolean;
  /** Data nodes: the second (unix) of the last write in its write log since its last rewrite. */
  lastWriteAt: number | null;
  /** Sentinels: what its configuration file says (the primary it watched, its epochs). */
  sentinel: SentinelFileState | null;
}

/**
 * One engine process. Data nodes are instances of the API; a Sentinel is either the SENTINEL
 * group's instance or the Sentinel that runs beside each data node (no instance of its own).
 */
export interface NodeSpec {
  /** Names the node's directory and process marker; equals instanceId for instances. */
  nodeId: string;
  /** The API instance this node is, or runs beside. */
  instanceId: string;
  clusterId: string;
  kind: 'data' | 'sentinel';
  engine: EngineKind;
  ip: string;
  port: number;
  /** The cluster password (the tenant's `default` user). The service never uses it to connect. */
  password: string;
  /** The secret of the service's own ACL user on this cluster's processes. Never shown. */
  serviceSecret: string;
  maxMemoryBytes: number;
  ioThreads: number;
  /**
   * Data nodes: keep the write log whole between backups (no automatic AOF rewrite), so
   * point-in-time recovery can replay it. Set while the cluster has a backup schedule.
   */
  keepWriteLog?: boolean;
  /**
   * Data nodes: the tenant's parameter values (Set Parameter Values), rendered after the
   * service's own settings so they survive restarts, failovers, heals and restores.
   */
  parameters?: Record<string, string>;
  /** Data nodes: renamed (new name) and disabled ('') commands, by their own name. */
  commands?: Record<string, string>;
  /** Data nodes: the primary to replicate from (null for the primary). */
  replicaOf?: { ip: string; port: number } | null;
  /** Sentinels: what to monitor. */
  sentinel?: SentinelSettings;
  /**
   * Data nodes: the size (GB) of the cluster's DATA block storage group. Where the driver has
   * real volumes, the node's data directory lives on a filesystem of this size.
   */
  volumeGb?: number;
}

/** A data node's volume as the kernel sees it. */
export interface VolumeUsage {
  /** The block device's size: the volume as created or last grown. */
  deviceBytes: number;
  /** The filesystem's size, and what is free for the engine. */
  totalBytes: number;
  freeBytes: number;
}

/** What a backup's snapshot step leaves for its later steps. */
export interface Snapshot {
  /** Just after the fork: the snapshot holds every write before it, the write log every one after. */
  snapshotAt: Date;
  /** The write log the snapshot's rewrite closed (WriteLogStore.identity), or null. */
  closedLog: number | null;
  /** The write log that follows the snapshot, as kept in the backup storage, or why it could not be. */
  log: { name: string } | { error: Error } | null;
}

/** A snapshot read back from backup storage and loaded by the engine. */
export interface VerifiedSnapshot {
  /** Of what storage holds: every later read must match it. */
  sha256: string;
  keys: number;
  /** DEBUG DIGEST of the loaded dataset. */
  digest: string;
}

/** A backup to start a new node from; with `log`, its write log replayed up to second `until`. */
export interface BackupSource {
  storage: BackupStorage;
  key: string;
  sha256: string;
  log: { name: string; until: number } | null;
}

export interface Driver extends EndpointAllocator {
  /**
   * The engine versions new nodes can run, read afresh: locally the engine binaries installed on
   * this machine, on Kubernetes the configured images. The catalogue offers exactly these.
   */
  offeredEngines(): Promise<EngineVersion[]>;
  /** The version a node of `engine` starts with now (read afresh: a patch upgrade's target); null when unknown. */
  runnableVersion(engine: EngineKind): Promise<string | null>;
  /** True when ip:port is free where engines run (locally: nothing listens and it can be bound). */
  isAddressFree(ip: string, port: number): Promise<boolean>;
  /** Writes the node's configuration and creates its directories (idempotent). */
  configure(node: NodeSpec): Promise<void>;
  /** Starts the node's engine unless it already runs (idempotent). */
  launch(node: NodeSpec): Promise<void>;
  /** Resolves when the engine answers PING to the service's user; throws on timeout or death. */
  waitReady(node: NodeSpec, timeoutMs: number): Promise<void>;
  /** Stops the engine; with `save` a data node persists its dataset first (idempotent). */
  stop(node: NodeSpec, opts: { save: boolean }): Promise<void>;
  /** Ends the engine at once, without saving (idempotent). */
  kill(node: NodeSpec): Promise<void>;
  /**
   * Rewrites the data node's write log: its new base is the snapshot, held by the driver under
   * `backupId` until discarded; the new log that follows it is kept in `storage.logs`.
   */
  snapshot(node: NodeSpec, backupId: string, storage: BackupStorage): Promise<Snapshot>;
  /** Sends the held snapshot to backup storage under `key`. */
  storeSnapshot(backupId: string, storage: BackupStorage, key: string): Promise<StoredObject>;
  /**
   * Reads `key` back from storage and loads it into a scratch engine of `engine`; throws when it
   * does not load whole. `resumed`: an earlier attempt's process died during this step.
   */
  verifySnapshot(backupId: string, engine: EngineKind, storage: BackupStorage, key: string, opts: { resumed: boolean }): Promise<VerifiedSnapshot>;
  /**
   * Ends and removes what verifications of processes that died left behind (locally: scratch
   * engines and their directories); returns how many. Run when this process takes the duties.
   */
  sweepScratch(): Promise<number>;
  /**
   * Sends what the write logs of engines whose files are not on this machine gained since the
   * last call into `storage.logs` (`append`; Kubernetes: read out of the pods). The leader calls it
   * on the log-shipping timer, before `storage.logs.ship()`. The local driver's logs are taken in
   * by `keepLive` and need nothing here. Returns the bytes sent.
   */
  shipLogs(storage: BackupStorage): Promise<number>;
  /** Forgets what the driver holds of the backup's snapshot (idempotent). */
  discardSnapshot(backupId: string): Promise<void>;
  /** Places a backup's dataset where the node's engine loads it from on its next start. The node must not run. */
  importBackup(node: NodeSpec, from: BackupSource): Promise<void>;
  /** Deletes everything the node stored (idempotent). */
  removeData(node: NodeSpec): Promise<void>;
  /** Whether the engine process of this node is alive. */
  isRunning(node: NodeSpec): Promise<boolean>;
  /** Whether the engine process is alive and answers the service's user. */
  isHealthy(node: NodeSpec): Promise<boolean>;
  /** The engine's own last log lines, oldest first, the password masked; [] when it has none. */
  lastLogLines(node: NodeSpec, count: number): Promise<string[]>;
  /** What the node stored, read from disk (the node should not run). */
  persistedState(node: NodeSpec): Promise<PersistedState>;
  /**
   * null when every new data node gets a volume of its `volumeGb` (configure makes it, launch
   * never starts an engine on a bare mount point); otherwise why not, and sizes are only recorded.
   */
  readonly volumesUnavailable: string | null;
  /**
   * Grows the data node's volume to its `volumeGb` while its engine runs (never shrinks).
   * false when the node has no volume of its own (volumes unavailable, or its data predates them).
   */
  growVolume(node: NodeSpec): Promise<boolean>;
  /** The data node's volume now; null when it has none. */
  volumeUsage(node: NodeSpec): Promise<VolumeUsage | null>;
  /**
   * Calls `onLines` with the lines the node's engine logs from now on, as it writes them (the
   * local driver is told by the kernel, inotify; nothing is read while the engine is quiet).
   * Returns the function that stops it.
   */
  followLog(node: NodeSpec, onLines: (lines: string[]) => void): () => void;
}

/**
 * Where a node's engine answers, and the credential the service uses there: its own ACL user,
 * never the tenant's. Every connection the service makes to an engine or Sentinel goes through
 * this function.
 */
export function endpointOf(n: NodeSpec): Endpoint {
  return { host: n.ip, port: n.port, username: SERVICE_USER, password: n.serviceSecret };
}

/**
 * How an earlier version of the service reached a node: the `default` user with the cluster
 * password. Only for bringing such engines under the service's user (operations/engine-upgrade.ts).
 */
export function legacyEndpointOf(n: NodeSpec): Endpoint {
  return { host: n.ip, port: n.port, password: n.password };
}

/**
 * Enforces allow-lists where engines run (local driver: an nftables table). `apply` replaces
 * every rule at once with the given set.
 */
export interface Firewall {
  /** null when rules are enforced; otherwise why they cannot be (said at start and in events). */
  readonly unavailable: string | null;
  apply(rules: ClusterAccess[]): Promise<void>;
}
