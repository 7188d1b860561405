// Renders an engine's configuration file. Pure: the same node gives the same text, so a
// rewrite on resume is harmless and the builder is tested without any process.
/** What every engine process has: where it listens, its password, and its files. */
interface ProcessConfig {
  ip: string;
  port: number;
  password: string;
  dir: string;
  pidFile: string;
  logFile: string;
}

export interface DataNodeConfig extends ProcessConfig {
  instanceId: string;
  maxMemoryBytes: number;
  ioThreads: number;
  /** The primary this node replicates from; absent for a primary. */
  replicaOf?: { ip: string; port: number } | null;
  /** No automatic AOF rewrite: the write log stays whole from one backup to the next. */
  keepWriteLog?: boolean;
}

/** What a Sentinel monitors, and whom it knows. */
export interface SentinelSettings {
  masterName: string;
  master: { ip: string; port: number };
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  /** This Sentinel's id; fixed, so that every Sentinel can be told about the others. */
  myid: string;
  /** The other data nodes, and the other Sentinels of the cluster. */
  knownReplicas: Array<{ ip: string; port: number }>;
  knownSentinels: Array<{ ip: string; port: number; myid: string }>;
  /** Set after a switchover, higher than any epoch before it, so this configuration wins. */
  epoch?: number;
}

export interface SentinelConfig extends ProcessConfig, SentinelSettings {
  nodeId: string;
}

/** Quotes a value for the engine's config parser (double quotes, backslash escapes). */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The marker in the process title by which the service recognises its own processes. */
export function processMarker(nodeId: string): string {
  return `cachestore:${nodeId}`;
}

export function renderDataNodeConfig(c: DataNodeConfig): string {
  return [
    '# Written by Cache Store; changes here are overwritten on the next start.',
    `bind ${c.ip}`,
    `port ${c.port}`,
    // Replication and Sentinel must see this node's own address, not 127.0.0.1 (see DESIGN.md).
    `bind-source-addr ${c.ip}`,
    `replica-announce-ip ${c.ip}`,
    'protected-mode yes',
    'daemonize yes',
    `pidfile ${quote(c.pidFile)}`,
    `logfile ${quote(c.logFile)}`,
    `dir ${quote(c.dir)}`,
    `requirepass ${quote(c.password)}`,
    `masterauth ${quote(c.password)}`,
    `proc-title-template ${quote(`{title} {listen-addr} {server-mode} ${processMarker(c.instanceId)}`)}`,
    // Durability: an append-only file synced every second plus periodic snapshots.
    'appendonly yes',
    'appendfsync everysec',
    // Point-in-time recovery: the write log carries the second of every write, and while the
    // cluster has backups only the backups rewrite it (each rewrite's base is a backup).
    'aof-timestamp-enabled yes',
    `auto-aof-rewrite-percentage ${c.keepWriteLog ? 0 : 100}`,
    'save 3600 1 300 100 60 10000',
    `maxmemory ${c.maxMemoryBytes}`,
    'maxmemory-policy volatile-lru',
    `io-threads ${c.ioThreads}`,
    'tcp-keepalive 60',
    'loglevel notice',
    // A new replica syncs at once instead of waiting 5 s for others to join the transfer.
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    ...(c.replicaOf ? [`replicaof ${c.replicaOf.ip} ${c.replicaOf.port}`] : []),
    '',
  ].join('\n');
}

/**
 * A Sentinel's configuration. Sentinel rewrites this file itself (known replicas, epochs); the
 * service writes it again only from the topology it knows, with the current primary.
 */
export function renderSentinelConfig(c: SentinelConfig): string {
  const n = c.masterName;
  return [
    '# Written by Cache Store; Sentinel adds its own state below.',
    `bind ${c.ip}`,
    `port ${c.port}`,
    'daemonize yes',
    `pidfile ${quote(c.pidFile)}`,
    `logfile ${quote(c.logFile)}`,
    `dir ${quote(c.dir)}`,
    `proc-title-template ${quote(`{title} {listen-addr} {server-mode} ${processMarker(c.nodeId)}`)}`,
    // Clients and the other Sentinels authenticate with the cluster password.
    `requirepass ${quote(c.password)}`,
    `sentinel sentinel-pass ${quote(c.password)}`,
    `sentinel announce-ip ${c.ip}`,
    `sentinel monitor ${n} ${c.master.ip} ${c.master.port} ${c.quorum}`,
    `sentinel auth-pass ${n} ${quote(c.password)}`,
    `sentinel down-after-milliseconds ${n} ${c.downAfterMs}`,
    `sentinel failover-timeout ${n} ${c.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${n} 1`,
    // Sentinels know each other and the replicas from the first moment, instead of after the
    // seconds hello messages and INFO take: a failure right after a start is handled too.
    `sentinel myid ${c.myid}`,
    ...c.knownReplicas.map((r) => `sentinel known-replica ${n} ${r.ip} ${r.port}`),
    ...c.knownSentinels.map((s) => `sentinel known-sentinel ${n} ${s.ip} ${s.port} ${s.myid}`),
    ...(c.epoch ? [`sentinel current-epoch ${c.epoch}`, `sentinel config-epoch ${n} ${c.epoch}`] : []),
    '',
  ].join('\n');
}

/** What a Sentinel's configuration file says: the primary it monitors and its epochs. */
export interface SentinelFileState {
  master: { ip: string; port: number } | null;
  /** The configuration epoch of that primary (raised by every failover), 0 if none. */
  configEpoch: number;
  /** The Sentinel's current epoch (raised by every election, won or not), 0 if none. */
  currentEpoch: number;
}

export function parseSentinelState(text: string, masterName: string): SentinelFileState {
  const out: SentinelFileState = { master: null, configEpoch: 0, currentEpoch: 0 };
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] !== 'sentinel') continue;
    if (w[1] === 'monitor' && w[2] === masterName && w.length >= 5) out.master = { ip: w[3], port: Number(w[4]) };
    else if (w[1] === 'config-epoch' && w[2] === masterName) out.configEpoch = Number(w[3]) || 0;
    else if (w[1] === 'current-epoch') out.currentEpoch = Number(w[2]) || 0;
  }
  return out;
}
