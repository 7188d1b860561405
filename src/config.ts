// Configuration from environment variables; every one is optional (see README "Configuration").
import { resolve } from 'node:path';
import type { DatabaseConfig } from './store/db.js';
import type { EngineKind } from './domain/model.js';
import { parseCidr, type Subnet } from './domain/network.js';
import type { CrashPoint } from './operations/crash-points.js';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  bootstrap: { accessKey?: string; secretKey?: string; accountId?: string };
  /** Seals secrets in the store (store/master-key.ts); absent: a key file in the data dir. */
  masterKey?: string;
  previousMasterKeys: string[];
  subnets: Subnet[];
  enginePath: string;
  trustProxy: boolean;
  reconcileIntervalMs: number;
  workerConcurrency: number;
  /** How long a request's lease lasts without a heartbeat: how soon another process resumes a dead one's request. */
  requestLeaseMs: number;
  /** How long the leadership lease lasts (PostgreSQL): how soon another process takes a dead leader's duties. */
  leaderLeaseMs: number;
  logLevel: string;
  debugStepDelayMs: number;
  /** Test hook (operations/crash-points.ts): where requests are held before the process SIGKILLs itself. */
  debugCrashAfterStep: CrashPoint[];
  sentinelDownAfterMs: number;
  sentinelFailoverTimeoutMs: number;
  healAfterMs: number;
  primaryWatchMs: number;
  /** Where backups and their write logs are kept: a directory on this machine (README, Backups). */
  backupStorage: 'local' | 's3';
  /** The object store, with CACHESTORE_BACKUP_STORAGE=s3 (README, Backups). */
  s3?: S3Config;
  /** How often the leader ships the write logs' new bytes to the object store; 0 turns it off. */
  logShipMs: number;
  /** Where backup files are kept (the local backup storage). */
  backupDir: string;
  /** How often scheduled backups and retention are checked; 0 turns the schedule off. */
  backupScheduleMs: number;
  /** How often maintenance windows and installed engine versions are checked; 0 turns it off. */
  maintenanceCheckMs: number;
  /** Data volumes of the block storage size: 'auto' where the machine allows (root, loop devices, xfsprogs), 'off' never. */
  volumes: 'auto' | 'off';
  /** MiB of volume per GB of block storage: 1024, scaled down by tests that fill a disk. */
  volumeMibPerGb: number;
  /** Where engines run: processes on this machine, or pods in a Kubernetes namespace (README, Kubernetes). */
  driver: 'local' | 'kubernetes';
  kubernetes: KubernetesConfig;
  /** GET /metrics' scrape token; absent: a random one kept in <data dir>/metrics-token. */
  metricsToken?: string;
  /** How long an engine reading serves later scrapes (ms); 0: every scrape reads the engines. */
  metricsCacheMs: number;
}

export interface S3Config {
  bucket: string;
  /** undefined: AWS S3 itself (the region's endpoint). */
  endpoint?: string;
  region: string;
  /** Empty, or ending in '/': prepended to every key, so a shared bucket keeps this service's objects apart. */
  prefix: string;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`: what MinIO and Ceph RGW expect by default. */
  forcePathStyle: boolean;
  /** Both or neither; neither: the AWS SDK's default chain (AWS_* variables, ~/.aws, instance roles). */
  accessKeyId?: string;
  secretAccessKey?: string;
}

export interface KubernetesConfig {
  /** undefined: the kubeconfig context's namespace, else `default`. */
  namespace?: string;
  images: Record<EngineKind, string>;
  storageClass?: string;
}

/** The engines' images by default: the versions this repository's tests run. */
export const DEFAULT_K8S_IMAGES: Record<EngineKind, string> = { redis: 'redis:7.0.15', valkey: 'valkey/valkey:8.0.1' };

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
export function parseSubnets(value: string | undefined, driver: 'local' | 'kubernetes' = 'local'): Subnet[] {
  const subnets = new Map<string, Subnet>([[DEFAULT_SUBNET.id, DEFAULT_SUBNET]]);
  for (const entry of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [id, cidr] = entry.split('=').map((s) => s.trim());
    const p = cidr ? parseCidr(cidr) : undefined;
    if (!id || !p) throw new ConfigError(`CACHESTORE_SUBNETS entries look like id=127.78.0.0/24, got '${entry}'`);
    // The local driver runs instances on this machine: only loopback addresses are reachable.
    // (The Kubernetes driver's addresses are Service clusterIPs: the cluster checks them.)
    if (driver === 'local' && (p.base >>> 24 !== 127 || p.bits < 8)) throw new ConfigError(`subnet ${id} (${cidr}) must lie inside 127.0.0.0/8 for the local driver`);
    subnets.set(id, { id, cidr });
  }
  const list = [...subnets.values()];
  // Loopback addresses cannot be Service clusterIPs: the default local-subnet must be replaced.
  const loop = list.find((s) => parseCidr(s.cidr)!.base >>> 24 === 127);
  if (driver === 'kubernetes' && loop) {
    throw new ConfigError(`subnet ${loop.id} (${loop.cidr}) is a loopback range; with CACHESTORE_DRIVER=kubernetes set CACHESTORE_SUBNETS=${loop.id}=<a range inside the cluster's Service CIDR>`);
  }
  return list;
}

export function dataDirOf(env: NodeJS.ProcessEnv): string {
  return resolve(env.CACHESTORE_DATA_DIR || './.cachestore');
}

/** Where the metadata lives; also what `cachestore admin` opens. */
export function databaseOf(env: NodeJS.ProcessEnv): DatabaseConfig {
  const url = env.CACHESTORE_DATABASE_URL;
  return url ? { kind: 'postgres', url } : { kind: 'sqlite', file: resolve(dataDirOf(env), 'cachestore.db') };
}

/** `<operation>:<steps done>[,...]`, e.g. `restart:2,create:0`; empty: off. */
export function parseCrashPoints(value: string | undefined): CrashPoint[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([a-z-]+):(\d{1,3})$/.exec(entry);
      if (!m) throw new ConfigError(`CACHESTORE_DEBUG_CRASH_AFTER_STEP entries look like <operation>:<steps done>, e.g. restart:2, got '${entry}'`);
      return { operation: m[1], stepsDone: Number(m[2]) };
    });
}

function volumesMode(v: string | undefined): 'auto' | 'off' {
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'off') return 'off';
  throw new ConfigError(`CACHESTORE_VOLUMES must be auto or off, got '${v}'`);
}

function driverOf(v: string | undefined): 'local' | 'kubernetes' {
  if (v === undefined || v === '' || v === 'local') return 'local';
  if (v === 'kubernetes') return 'kubernetes';
  throw new ConfigError(`CACHESTORE_DRIVER must be local or kubernetes, got '${v}'`);
}

function backupStorageOf(v: string | undefined): 'local' | 's3' {
  if (v === undefined || v === '' || v === 'local') return 'local';
  if (v === 's3') return 's3';
  throw new ConfigError(`CACHESTORE_BACKUP_STORAGE must be local (a directory, CACHESTORE_BACKUP_DIR) or s3 (an S3-compatible object store, CACHESTORE_S3_*), got '${v}'`);
}

/** The CACHESTORE_S3_* settings; only read with CACHESTORE_BACKUP_STORAGE=s3. */
export function s3ConfigOf(env: NodeJS.ProcessEnv): S3Config {
  const bucket = env.CACHESTORE_S3_BUCKET ?? '';
  // S3's rule for bucket names (3-63 of lower-case letters, digits, dots and hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(bucket ? `CACHESTORE_S3_BUCKET must be an S3 bucket name (3-63 of a-z, 0-9, '.', '-'), got '${bucket}'` : 'CACHESTORE_BACKUP_STORAGE=s3 needs CACHESTORE_S3_BUCKET (the bucket backups go to)');
  }
  const endpoint = env.CACHESTORE_S3_ENDPOINT || undefined;
  if (endpoint !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(endpoint);
    } catch {
      url = null;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password) {
      throw new ConfigError(`CACHESTORE_S3_ENDPOINT must be an http:// or https:// URL without credentials, e.g. https://minio.example:9000, got '${url ? url.protocol + '//' + url.host : endpoint}'`);
    }
  }
  const region = env.CACHESTORE_S3_REGION || 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region)) throw new ConfigError(`CACHESTORE_S3_REGION must be a region name like us-east-1, got '${region}'`);
  let prefix = env.CACHESTORE_S3_PREFIX ?? '';
  if (prefix && !/^[A-Za-z0-9._/-]+$/.test(prefix)) throw new ConfigError(`CACHESTORE_S3_PREFIX may hold only A-Z, a-z, 0-9, '.', '_', '-' and '/', got '${prefix}'`);
  prefix = prefix.replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  const pathStyle = env.CACHESTORE_S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new ConfigError(`CACHESTORE_S3_FORCE_PATH_STYLE must be true or false, got '${pathStyle}'`);
  }
  const accessKeyId = env.CACHESTORE_S3_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.CACHESTORE_S3_SECRET_ACCESS_KEY || undefined;
  if (!accessKeyId !== !secretAccessKey) {
    throw new ConfigError('set both CACHESTORE_S3_ACCESS_KEY_ID and CACHESTORE_S3_SECRET_ACCESS_KEY, or neither (then the AWS SDK\'s own chain: AWS_* variables, ~/.aws, an instance role)');
  }
  return {
    bucket,
    endpoint,
    region,
    prefix,
    // Stores other than AWS mostly have one host name and no per-bucket DNS.
    forcePathStyle: pathStyle === undefined || pathStyle === '' ? endpoint !== undefined : pathStyle === 'true',
    accessKeyId,
    secretAccessKey,
  };
}

/** `redis=image,valkey=image`: replaces the default image of the engines it names. */
export function parseImages(value: string | undefined): Record<EngineKind, string> {
  const images = { ...DEFAULT_K8S_IMAGES };
  for (const entry of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const kind = entry.slice(0, at).trim();
    const image = entry.slice(at + 1).trim();
    if (at < 0 || !(kind in images) || !image) throw new ConfigError(`CACHESTORE_K8S_IMAGES entries look like redis=redis:7.0.15 or valkey=valkey/valkey:8.0.1, got '${entry}'`);
    images[kind as EngineKind] = image;
  }
  return images;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { host, port } = parseListen(env.CACHESTORE_LISTEN || '127.0.0.1:8080');
  const dataDir = dataDirOf(env);
  const driver = driverOf(env.CACHESTORE_DRIVER);
  const backupStorage = backupStorageOf(env.CACHESTORE_BACKUP_STORAGE);
  return {
    host,
    port,
    dataDir,
    database: databaseOf(env),
    bootstrap: {
      accessKey: env.CACHESTORE_ACCESS_KEY || undefined,
      secretKey: env.CACHESTORE_SECRET_KEY || undefined,
      accountId: env.CACHESTORE_ACCOUNT_ID || undefined,
    },
    masterKey: env.CACHESTORE_MASTER_KEY || undefined,
    previousMasterKeys: (env.CACHESTORE_MASTER_KEY_PREVIOUS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    subnets: parseSubnets(env.CACHESTORE_SUBNETS, driver),
    enginePath: env.CACHESTORE_ENGINE_PATH || env.PATH || '/usr/local/bin:/usr/bin:/bin',
    trustProxy: env.CACHESTORE_TRUST_PROXY === 'true',
    // Deaths and failovers are told (liveness links, Sentinel events): the full pass is only a
    // safety net, and with hundreds of clusters a frequent one is most of the idle cost (issue 15).
    reconcileIntervalMs: int(env, 'CACHESTORE_RECONCILE_INTERVAL_MS', 300_000),
    workerConcurrency: int(env, 'CACHESTORE_WORKER_CONCURRENCY', 16, 1),
    // Renewed every third of it: a request whose process died is resumed by another within this
    // (plus a claim poll of 1 s). Short, since a lapse costs nothing worse than a fenced takeover.
    requestLeaseMs: int(env, 'CACHESTORE_REQUEST_LEASE_MS', 6000, 1500),
    leaderLeaseMs: int(env, 'CACHESTORE_LEADER_LEASE_MS', 5000, 1000),
    logLevel: env.CACHESTORE_LOG_LEVEL || 'info',
    debugStepDelayMs: int(env, 'CACHESTORE_DEBUG_STEP_DELAY_MS', 0),
    debugCrashAfterStep: parseCrashPoints(env.CACHESTORE_DEBUG_CRASH_AFTER_STEP),
    sentinelDownAfterMs: int(env, 'CACHESTORE_SENTINEL_DOWN_AFTER_MS', 1100, 100),
    sentinelFailoverTimeoutMs: int(env, 'CACHESTORE_SENTINEL_FAILOVER_TIMEOUT_MS', 10_000, 1000),
    healAfterMs: int(env, 'CACHESTORE_HEAL_AFTER_MS', 1000),
    // 0 turns the forced failover off; any other value turns it on (deaths are told, not polled,
    // so the value is no longer an interval; kept so existing settings mean what they meant).
    primaryWatchMs: int(env, 'CACHESTORE_PRIMARY_WATCH_MS', 100),
    backupStorage,
    s3: backupStorage === 's3' ? s3ConfigOf(env) : undefined,
    logShipMs: int(env, 'CACHESTORE_LOG_SHIP_MS', 5000),
    backupDir: resolve(env.CACHESTORE_BACKUP_DIR || resolve(dataDir, 'backups')),
    backupScheduleMs: int(env, 'CACHESTORE_BACKUP_SCHEDULE_MS', 60_000),
    maintenanceCheckMs: int(env, 'CACHESTORE_MAINTENANCE_CHECK_MS', 60_000),
    volumes: volumesMode(env.CACHESTORE_VOLUMES),
    // 19 MiB per GB is the least that gives the smallest group (16 GB) XFS's 300 MiB minimum.
    volumeMibPerGb: int(env, 'CACHESTORE_VOLUME_MIB_PER_GB', 1024, 19),
    driver,
    kubernetes: {
      namespace: env.CACHESTORE_K8S_NAMESPACE || undefined,
      images: parseImages(env.CACHESTORE_K8S_IMAGES),
      storageClass: env.CACHESTORE_K8S_STORAGE_CLASS || undefined,
    },
    metricsToken: env.CACHESTORE_METRICS_TOKEN || undefined,
    metricsCacheMs: int(env, 'CACHESTORE_METRICS_CACHE_MS', 5000),
  };
}
