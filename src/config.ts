// Configuration from environment variables; every one is optional (see README "Configuration").
import { resolve } from 'node:path';
import type { DatabaseConfig } from './store/db.js';
import { parseCidr, type Subnet } from './domain/network.js';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  bootstrap: { accessKey?: string; secretKey?: string; accountId?: string };
  subnets: Subnet[];
  enginePath: string;
  trustProxy: boolean;
  reconcileIntervalMs: number;
  workerConcurrency: number;
  logLevel: string;
  debugStepDelayMs: number;
  sentinelDownAfterMs: number;
  sentinelFailoverTimeoutMs: number;
  healAfterMs: number;
  primaryWatchMs: number;
  /** Where backup files are kept (the local backup storage). */
  backupDir: string;
  /** How often scheduled backups and retention are checked; 0 turns the schedule off. */
  backupScheduleMs: number;
}

export const DEFAULT_SUBNET: Subnet = { id: 'local-subnet', cidr: '127.77.0.0/16' };

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be a whole number >= ${min}, got '${raw}'`);
  return n;
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`CACHESTORE_LISTEN must be host:port, got '${value}'`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** `id=cidr,id=cidr`: added to (or replacing, for the same id) the default local-subnet. */
export function parseSubnets(value: string | undefined): Subnet[] {
  const subnets = new Map<string, Subnet>([[DEFAULT_SUBNET.id, DEFAULT_SUBNET]]);
  for (const entry of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [id, cidr] = entry.split('=').map((s) => s.trim());
    const p = cidr ? parseCidr(cidr) : undefined;
    if (!id || !p) throw new ConfigError(`CACHESTORE_SUBNETS entries look like id=127.78.0.0/24, got '${entry}'`);
    // The local driver runs instances on this machine: only loopback addresses are reachable.
    if (p.base >>> 24 !== 127 || p.bits < 8) throw new ConfigError(`subnet ${id} (${cidr}) must lie inside 127.0.0.0/8 for the local driver`);
    subnets.set(id, { id, cidr });
  }
  return [...subnets.values()];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { host, port } = parseListen(env.CACHESTORE_LISTEN || '127.0.0.1:8080');
  const dataDir = resolve(env.CACHESTORE_DATA_DIR || './.cachestore');
  const url = env.CACHESTORE_DATABASE_URL;
  return {
    host,
    port,
    dataDir,
    database: url ? { kind: 'postgres', url } : { kind: 'sqlite', file: resolve(dataDir, 'cachestore.db') },
    bootstrap: {
      accessKey: env.CACHESTORE_ACCESS_KEY || undefined,
      secretKey: env.CACHESTORE_SECRET_KEY || undefined,
      accountId: env.CACHESTORE_ACCOUNT_ID || undefined,
    },
    subnets: parseSubnets(env.CACHESTORE_SUBNETS),
    enginePath: env.CACHESTORE_ENGINE_PATH || env.PATH || '/usr/local/bin:/usr/bin:/bin',
    trustProxy: env.CACHESTORE_TRUST_PROXY === 'true',
    // Deaths and failovers are told (liveness links, Sentinel events): the full pass is only a
    // safety net, and with hundreds of clusters a frequent one is most of the idle cost (issue 15).
    reconcileIntervalMs: int(env, 'CACHESTORE_RECONCILE_INTERVAL_MS', 300_000),
    workerConcurrency: int(env, 'CACHESTORE_WORKER_CONCURRENCY', 16, 1),
    logLevel: env.CACHESTORE_LOG_LEVEL || 'info',
    debugStepDelayMs: int(env, 'CACHESTORE_DEBUG_STEP_DELAY_MS', 0),
    sentinelDownAfterMs: int(env, 'CACHESTORE_SENTINEL_DOWN_AFTER_MS', 1100, 100),
    sentinelFailoverTimeoutMs: int(env, 'CACHESTORE_SENTINEL_FAILOVER_TIMEOUT_MS', 10_000, 1000),
    healAfterMs: int(env, 'CACHESTORE_HEAL_AFTER_MS', 1000),
    // 0 turns the forced failover off; any other value turns it on (deaths are told, not polled,
    // so the value is no longer an interval; kept so existing settings mean what they meant).
    primaryWatchMs: int(env, 'CACHESTORE_PRIMARY_WATCH_MS', 100),
    backupDir: resolve(env.CACHESTORE_BACKUP_DIR || resolve(dataDir, 'backups')),
    backupScheduleMs: int(env, 'CACHESTORE_BACKUP_SCHEDULE_MS', 60_000),
  };
}
