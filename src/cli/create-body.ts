// Create Cluster from flags: a pure translation of what a person types into the contract's body
// (decisions: defaults an ElastiCache user would expect — the newest engine version, the
// smallest server type, one replica with --ha, daily backups only when asked).
import type { CreateClusterBody, EngineVersionItem } from '../contract/types.js';

export type EngineName = 'redis' | 'valkey';

export interface CreateFlags {
  name: string;
  engine: EngineName;
  /** software version or its prefix (7, 7.0, 7.0.15) or an engine version id */
  version?: string;
  serverType?: string;
  ha?: boolean;
  replicas?: number;
  password: string;
  port?: number;
  sentinelPort?: number;
  backupRetentionDays?: number;
  backupHour?: number;
  allow?: string[];
  prefix?: string;
  subnet?: string;
  timezone: string;
  dataSizeGb?: number;
}

export const PRODUCT_IMAGE: Record<EngineName, string> = { redis: 'Redis OSS Sentinel', valkey: 'Valkey Sentinel' };
const TYPE_PREFIX: Record<EngineName, string> = { redis: 'redis', valkey: 'css' };

export class FlagError extends Error {}

function versionKey(v: string): number[] {
  return v.split('.').map((n) => Number(n) || 0);
}

function newer(a: EngineVersionItem, b: EngineVersionItem): number {
  const x = versionKey(a.software_version);
  const y = versionKey(b.software_version);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
  return 0;
}

/** The engine version the flags name: the newest one still in service when no version is given. */
export function pickEngineVersion(versions: EngineVersionItem[], engine: EngineName, version?: string): EngineVersionItem {
  const mine = versions.filter((v) => v.product_image_type === PRODUCT_IMAGE[engine]);
  if (mine.length === 0) throw new FlagError(`this service offers no ${engine} engine (it runs what it finds installed); 'cachestore catalogue engine-versions' lists what it has`);
  const byId = version ? versions.find((v) => v.id === version) : undefined;
  if (byId) {
    if (byId.product_image_type !== PRODUCT_IMAGE[engine]) throw new FlagError(`engine version ${version} is ${byId.name}, not ${engine}; drop --engine or give a ${engine} version`);
    return byId;
  }
  const candidates = mine
    .filter((v) => !version || v.software_version === version || v.software_version.startsWith(`${version}.`))
    .filter((v) => version || !v.end_of_service)
    .sort(newer);
  if (candidates.length === 0) {
    throw new FlagError(`no ${engine} version ${version ?? 'in service'}; available: ${mine.map((v) => v.software_version).join(', ')}`);
  }
  return candidates[0];
}

/** Instance name prefix from the cluster name (3..13 characters, a lower-case letter first). */
export function defaultPrefix(name: string): string {
  return name.toLowerCase().slice(0, 13);
}

export function createBodyFromFlags(f: CreateFlags, version: EngineVersionItem): CreateClusterBody {
  const ha = f.ha === true;
  if (!ha && f.replicas !== undefined) throw new FlagError('--replicas needs --ha (a standalone cluster has no replicas)');
  if (!ha && f.sentinelPort !== undefined) throw new FlagError('--sentinel-port needs --ha (only HA clusters run Sentinels)');
  const replicas = ha ? (f.replicas ?? 1) : 0;
  if (ha && (replicas < 1 || replicas > 2)) throw new FlagError(`--replicas takes 1 or 2, got ${replicas}`);
  if (f.backupHour !== undefined && f.backupRetentionDays === undefined) throw new FlagError('--backup-hour needs --backup-retention (how many days daily backups are kept)');
  const serverType = f.serverType ?? `${TYPE_PREFIX[f.engine]}1v1m2`;
  const storage = [
    { role_type: 'OS', size_gb: 104 },
    { role_type: 'DATA', size_gb: f.dataSizeGb ?? 56 },
  ];
  const body: CreateClusterBody = {
    name: f.name,
    dbaas_engine_version_id: version.id,
    instance_name_prefix: f.prefix ?? defaultPrefix(f.name),
    subnet_id: f.subnet ?? 'local-subnet',
    timezone: f.timezone,
    ha_enabled: ha,
    replica_count: replicas,
    nat_enabled: false,
    allowable_ip_addresses: f.allow ?? [],
    init_config_option: {
      database_user_password: f.password,
      ...(f.port !== undefined ? { database_port: f.port } : {}),
      ...(ha && f.sentinelPort !== undefined ? { sentinel_port: f.sentinelPort } : {}),
      ...(f.backupRetentionDays !== undefined
        ? { backup_option: { retention_period_day: String(f.backupRetentionDays), starting_time_hour: String(f.backupHour ?? 3) } }
        : {}),
    },
    instance_groups: ha
      ? [
          {
            role_type: 'MASTER_REPLICA',
            server_type_name: serverType,
            block_storage_groups: storage,
            instances: [{ role_type: 'MASTER' }, ...Array.from({ length: replicas }, () => ({ role_type: 'REPLICA' }))],
          },
          { role_type: 'SENTINEL', server_type_name: serverType, block_storage_groups: storage, instances: [{ role_type: 'SENTINEL' }] },
        ]
      : [{ role_type: 'MASTER', server_type_name: serverType, block_storage_groups: storage, instances: [{ role_type: 'MASTER' }] }],
  };
  return body;
}
