// Renders an engine's configuration file. Pure: the same node gives the same text, so a
// rewrite on resume is harmless and the builder is tested without any process.
import { SERVICE_USER, usersOf } from './acl.js';

/** What every engine process has: where it listens, its users' passwords, and its files. */
interface ProcessConfig {
  ip: string;
  port: number;
  /** The cluster password: the tenant's `default` user. */
  password: string;
  /** The secret of the service's own user (SERVICE_USER). */
  serviceSecret: string;
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
  /** The tenant's parameter values; the catalogue checked names and values. */
  parameters?: Record<string, string>;
  /** Renamed (new name) and disabled ('') commands; the same map on every node of a cluster. */
  commands?: Record<string, string>;
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

/** `user` config lines for the tenant's and the service's users (see acl.ts for why lines). */
export function userLines(kind: 'data' | 'sentinel', c: ProcessConfig): string[] {
  return usersOf(kind, c).map(([name, ...rules]) => `user ${name} ${rules.map((r) => (r.startsWith('>') ? quote(r) : r)).join(' ')}`);
}

/**
 * The marker in the process title, for people reading `ps`. The service does not rely on it
 * (processes are recognised by pid file, start time and executable: drivers/local/processes.ts).
 */
export function processMarker(nodeId: string): string {
  return `cachestore:${nodeId}`;
}

/** The process title template of a node: the engines fill in the placeholders. */
export function procTitleTemplate(nodeId: string): string {
  return `{title} {listen-addr} {server-mode} ${processMarker(nodeId)}`;
}

export function renderDataNodeConfig(c: DataNodeConfig): string {
  return [
    '# Written by Cache Store; changes here are overwritten on the next start.',
    `bind ${c.ip}`,
    `port ${c.port}`,
    // Replication and Sentinel must see this node's own address, not 127.0.0.1 (see docs/CONTRACT.md).
    `bind-source-addr ${c.ip}`,
    `replica-announce-ip ${c.ip}`,
    'protected-mode yes',
    'daemonize yes',
    `pidfile ${quote(c.pidFile)}`,
    `logfile ${quote(c.logFile)}`,
    `dir ${quote(c.dir)}`,
    // No requirepass: the `default` user line carries the cluster password. Replicas connect to
    // their primary as the service's user (the tenant's user may not PSYNC).
    ...userLines('data', c),
    `masteruser ${SERVICE_USER}`,
    `masterauth ${quote(c.serviceSecret)}`,
    `proc-title-template ${quote(procTitleTemplate(c.instanceId))}`,
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
    ...renderParameters(c.parameters),
    ...renderCommands(c.commands),
    '',
  ].join('\n');
}

/**
 * The tenant's parameters, last: a later line wins over an earlier one of the same name, so
 * they override the service's defaults above (e.g. maxmemory-policy). Values are quoted; the
 * engines read a quoted multi-part value ("normal 0 0 0 slave ...") as CONFIG SET does.
 */
function renderParameters(values: Record<string, string> | undefined): string[] {
  const names = Object.keys(values ?? {}).sort();
  if (names.length === 0) return [];
  return ['# Parameters set through the API (Set Parameter Values).', ...names.map((n) => `${n} ${quote(values![n])}`)];
}

/** rename-command lines: a primary logs and replicates the names it was called by (README, Commands). */
function renderCommands(commands: Record<string, string> | undefined): string[] {
  const names = Object.keys(commands ?? {}).sort();
  if (names.length === 0) return [];
  return ['# Commands renamed or disabled through the API (Update Commands).', ...names.map((n) => `rename-command ${n} ${quote(commands![n])}`)];
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
    `proc-title-template ${quote(procTitleTemplate(c.nodeId))}`,
    // Clients authenticate as `default` with the cluster password and may discover the primary;
    // Sentinels talk to each other, and to the data nodes, as the service's user.
    ...userLines('sentinel', c),
    `sentinel sentinel-user ${SERVICE_USER}`,
    `sentinel sentinel-pass ${quote(c.serviceSecret)}`,
    `sentinel announce-ip ${c.ip}`,
    // Its links to the data nodes and to the other Sentinels leave from its own address too (else
    // from 127.0.0.1): a partition between nodes' addresses cuts them as it cuts replication.
    `bind-source-addr ${c.ip}`,
    `sentinel monitor ${n} ${c.master.ip} ${c.master.port} ${c.quorum}`,
    `sentinel auth-user ${n} ${SERVICE_USER}`,
    `sentinel auth-pass ${n} ${quote(c.serviceSecret)}`,
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
