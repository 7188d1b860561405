// Turns a Create Cluster body that already passed the contract's schema into a plan: the
// cluster, its instance groups and instances, or a 400 that says what the expected shape is.
// The checks here are the ones the YAML cannot express (topology, password rule, time zone,
// catalogue, subnet).
import type { CreateClusterBody, InstanceGroupRequestBody } from '../contract/types.js';
import { findServerType, type EngineVersion, type ServerType } from './catalog.js';
import { ValidationError } from './errors.js';
import { newId } from './ids.js';
import type { BackupOption, BlockStorageGroup, Cluster, EngineKind, InstanceGroup, InstanceRole, MaintenanceOption, ProductImageType, Tag } from './model.js';
import { inSubnet, isIpOrCidr, type Subnet } from './network.js';

export const DEFAULT_DATABASE_PORT = 6378;
export const DEFAULT_SENTINEL_PORT = 26378;
/** Shown for a block storage group the request did not size (the vendor's console defaults). */
const DEFAULT_BLOCK_STORAGE: Record<string, number> = { OS: 104, DATA: 56 };

export interface PlannedInstance {
  name: string;
  roleType: InstanceRole;
  groupIndex: number;
  /** Address the user asked for, if any; otherwise the driver picks one. */
  requestedIp: string | null;
  /** The port the instance serves on. */
  port: number;
  /** Every port that must be free on the instance's address. */
  ports: number[];
  /** Where the instance stands in the request, for error messages. */
  requestLoc: string[];
}

export interface ClusterPlan {
  cluster: Cluster;
  password: string;
  groups: InstanceGroup[];
  instances: PlannedInstance[];
}

export interface PlanContext {
  accountId: string;
  userId: string;
  now: string;
  engineVersions: EngineVersion[];
  subnets: Subnet[];
}

const PASSWORD_RULE =
  'must be 8 to 30 characters with at least one letter, one digit and one special character, and must not contain " \' or $';

export function checkPassword(password: string | null | undefined): string {
  const loc = ['body', 'init_config_option', 'database_user_password'];
  if (typeof password !== 'string' || password.length === 0) throw ValidationError.field(loc, 'is required');
  const ok =
    password.length >= 8 &&
    password.length <= 30 &&
    /[A-Za-z]/.test(password) &&
    /\d/.test(password) &&
    /[^A-Za-z0-9]/.test(password) &&
    !/["'$]/.test(password) &&
    // Control characters cannot be written to the engine's config file safely.
    !/[\u0000-\u001f\u007f]/.test(password);
  if (!ok) throw ValidationError.field(loc, PASSWORD_RULE);
  return password;
}

export function isValidTimezone(tz: string): boolean {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function backupOption(body: CreateClusterBody, now: string): BackupOption | null {
  const b = body.init_config_option.backup_option;
  const loc = ['body', 'init_config_option', 'backup_option'];
  if (!b) return null;
  const days = b.retention_period_day ?? null;
  const hour = b.starting_time_hour ?? null;
  if (days === null && hour === null) return null;
  if (days === null || !/^([7-9]|[1-2]\d|3[0-5])$/.test(days)) {
    throw ValidationError.field([...loc, 'retention_period_day'], 'must be a whole number of days from 7 to 35, as a string');
  }
  if (hour === null || !/^(\d|1\d|2[0-3])$/.test(hour)) {
    throw ValidationError.field([...loc, 'starting_time_hour'], 'must be an hour from 0 to 23, as a string');
  }
  // The first daily backup is the first starting hour after the cluster was created.
  return { retentionPeriodDay: days, startingTimeHour: hour, enabledAt: now };
}

function maintenanceOption(body: CreateClusterBody): MaintenanceOption | null {
  const m = body.maintenance_option;
  if (!m || (m.period_hour == null && m.starting_day_of_week == null && m.starting_time == null)) return null;
  const loc = ['body', 'maintenance_option'];
  if (!m.starting_day_of_week) throw ValidationError.field([...loc, 'starting_day_of_week'], 'is required when a maintenance window is set');
  if (!m.period_hour) throw ValidationError.field([...loc, 'period_hour'], 'is required when a maintenance window is set');
  if (!m.starting_time || !/^([01]\d|2[0-3])[0-5]\d$/.test(m.starting_time)) {
    throw ValidationError.field([...loc, 'starting_time'], 'must be a time of day as HHMM, e.g. 0230');
  }
  return { periodHour: m.period_hour, startingDayOfWeek: m.starting_day_of_week, startingTime: m.starting_time };
}

function tags(body: CreateClusterBody): Tag[] {
  const out: Tag[] = [];
  const seen = new Set<string>();
  (body.tags ?? []).forEach((t, i) => {
    const loc = ['body', 'tags', String(i), 'key'];
    if (typeof t.key !== 'string' || t.key.length === 0 || t.key.length > 128) {
      throw ValidationError.field(loc, 'must be a non-empty string of at most 128 characters');
    }
    if (seen.has(t.key)) throw ValidationError.field(loc, `duplicates the tag key '${t.key}'`);
    seen.add(t.key);
    out.push({ key: t.key, value: t.value ?? null });
  });
  if (out.length > 50) throw ValidationError.field(['body', 'tags'], 'must hold at most 50 tags');
  return out;
}

/** Each block storage role (OS, DATA) at most once; a 400 at the entry that breaks it. */
export function checkStorageRoles(list: Array<{ role_type: string }>, loc: string[]): void {
  const seen = new Set<string>();
  list.forEach((b, i) => {
    const at = [...loc, String(i), 'role_type'];
    if (b.role_type !== 'OS' && b.role_type !== 'DATA') throw ValidationError.field(at, 'must be OS or DATA for a Cache Store cluster');
    if (seen.has(b.role_type)) throw ValidationError.field(at, `${b.role_type} is given twice; give each role once`);
    seen.add(b.role_type);
  });
}

/** The server type named, if it is one for the engine; a 400 at `loc` saying where to look otherwise. */
export function serverTypeFor(name: string, engine: { engine: EngineKind; productImageType: ProductImageType }, loc: string[]): ServerType {
  const type = findServerType(name);
  if (!type || type.engine !== engine.engine) {
    throw ValidationError.field(
      loc,
      `'${name}' is not a server type for ${engine.productImageType}; List Server Types with product_image_type=${engine.productImageType} shows them (e.g. ${engine.engine === 'redis' ? 'redis1v2m4' : 'css1v2m4'})`,
    );
  }
  return type;
}

function blockStorage(group: InstanceGroupRequestBody, gi: number): BlockStorageGroup[] {
  checkStorageRoles(group.block_storage_groups, ['body', 'instance_groups', String(gi), 'block_storage_groups']);
  const out: BlockStorageGroup[] = group.block_storage_groups.map((b) => ({ id: newId(), name: '', roleType: b.role_type, sizeGb: b.size_gb, volumeType: b.volume_type ?? 'SSD' }));
  for (const role of ['OS', 'DATA']) {
    if (!out.some((b) => b.roleType === role)) out.push({ id: newId(), name: '', roleType: role, sizeGb: DEFAULT_BLOCK_STORAGE[role], volumeType: 'SSD' });
  }
  return out.sort((a, b) => a.roleType.localeCompare(b.roleType)).reverse(); // OS first, then DATA
}

/** Validates the semantics of a Create Cluster request and returns what to record. */
export function planCluster(body: CreateClusterBody, ctx: PlanContext): ClusterPlan {
  const engine = ctx.engineVersions.find((e) => e.id === body.dbaas_engine_version_id);
  if (!engine) {
    const offered = ctx.engineVersions.map((e) => `${e.id} (${e.name})`).join(', ') || 'none: no engine is installed';
    throw ValidationError.field(['body', 'dbaas_engine_version_id'], `is not an engine version offered here; List Engine Versions offers ${offered}`);
  }
  const subnet = ctx.subnets.find((s) => s.id === body.subnet_id);
  if (!subnet) {
    throw ValidationError.field(['body', 'subnet_id'], `is not a known subnet; known subnets: ${ctx.subnets.map((s) => s.id).join(', ')}`);
  }
  if (!isValidTimezone(body.timezone)) {
    throw ValidationError.field(['body', 'timezone'], 'must be an IANA time zone name such as Asia/Seoul or UTC');
  }
  if (body.nat_enabled) {
    throw ValidationError.field(['body', 'nat_enabled'], 'is not supported: instances are reachable on their subnet only; send false');
  }
  const password = checkPassword(body.init_config_option.database_user_password);
  const databasePort = body.init_config_option.database_port ?? DEFAULT_DATABASE_PORT;
  const sentinelPort = body.init_config_option.sentinel_port ?? DEFAULT_SENTINEL_PORT;
  if (databasePort === sentinelPort) {
    throw ValidationError.field(['body', 'init_config_option', 'sentinel_port'], 'must differ from database_port');
  }
  (body.allowable_ip_addresses ?? []).forEach((ip, i) => {
    if (!isIpOrCidr(ip)) throw ValidationError.field(['body', 'allowable_ip_addresses', String(i)], 'must be an IP address or a CIDR block such as 10.0.0.0/24');
  });

  const topology = planTopology(body, engine, subnet);

  const id = newId();
  const cluster: Cluster = {
    id,
    accountId: ctx.accountId,
    name: body.name,
    engineVersionId: engine.id,
    engine: engine.engine,
    productImageType: engine.productImageType,
    softwareVersion: engine.softwareVersion,
    haEnabled: body.ha_enabled === true,
    replicaCount: topology.replicaCount,
    serviceState: 'CREATING',
    subnetId: subnet.id,
    timezone: body.timezone,
    databasePort,
    sentinelPort,
    natEnabled: false,
    allowableIpAddresses: body.allowable_ip_addresses ?? [],
    tags: tags(body),
    backupOption: backupOption(body, ctx.now),
    parameters: {},
    commands: {},
    maintenanceOption: maintenanceOption(body),
    instanceNamePrefix: body.instance_name_prefix,
    createdAt: ctx.now,
    createdBy: ctx.userId,
    modifiedAt: ctx.now,
    modifiedBy: ctx.userId,
  };
  const groups: InstanceGroup[] = topology.groups.map((g) => ({
    id: newId(),
    clusterId: id,
    roleType: g.roleType,
    serverTypeName: g.serverTypeName,
    blockStorageGroups: g.storage.map((b) => ({ ...b, name: `${body.instance_name_prefix}-${g.roleType.toLowerCase().replace('_', '-')}-${b.roleType.toLowerCase()}` })),
  }));
  let dataIndex = 0;
  const instances: PlannedInstance[] = topology.instances.map((i) => ({
    ...i,
    name: i.roleType === 'SENTINEL' ? `${body.instance_name_prefix}-sentinel` : `${body.instance_name_prefix}-${String(++dataIndex).padStart(2, '0')}`,
    port: i.roleType === 'SENTINEL' ? sentinelPort : databasePort,
    // A data node of an HA cluster has its Sentinel beside it, on the same address.
    ports: i.roleType === 'SENTINEL' ? [sentinelPort] : body.ha_enabled ? [databasePort, sentinelPort] : [databasePort],
  }));
  return { cluster, password, groups, instances };
}

interface TopologyPlan {
  replicaCount: number;
  groups: Array<{ roleType: string; serverTypeName: string; storage: BlockStorageGroup[] }>;
  instances: Array<{ roleType: InstanceRole; groupIndex: number; requestedIp: string | null; requestLoc: string[] }>;
}

/**
 * Checks instance groups, instances and replica_count against the one topology each mode has
 * (docs/CONTRACT.md), and says what the expected shape is when they disagree.
 */
function planTopology(body: CreateClusterBody, engine: EngineVersion, subnet: Subnet): TopologyPlan {
  const groupsLoc = ['body', 'instance_groups'];
  let expected: Array<{ role: string; instances: Record<string, number> }>;
  let shape: string;
  let replicaCount: number;
  if (body.ha_enabled) {
    replicaCount = body.replica_count ?? 0;
    shape = `an HA cluster (ha_enabled: true) with replica_count ${replicaCount >= 1 && replicaCount <= 2 ? replicaCount : 'N'} has two instance groups: MASTER_REPLICA with one MASTER instance and ${replicaCount >= 1 && replicaCount <= 2 ? replicaCount : 'N'} REPLICA instance(s), and SENTINEL with one SENTINEL instance`;
    if (replicaCount < 1 || replicaCount > 2) {
      throw ValidationError.field(['body', 'replica_count'], `must be 1 or 2 when ha_enabled is true: ${shape}`);
    }
    expected = [
      { role: 'MASTER_REPLICA', instances: { MASTER: 1, REPLICA: replicaCount } },
      { role: 'SENTINEL', instances: { SENTINEL: 1 } },
    ];
  } else {
    replicaCount = body.replica_count ?? 0;
    shape = 'a standalone cluster (ha_enabled: false) has replica_count 0 and one instance group with role_type MASTER holding one instance with role_type MASTER';
    if (replicaCount !== 0) throw ValidationError.field(['body', 'replica_count'], `must be 0 when ha_enabled is false: ${shape}`);
    expected = [{ role: 'MASTER', instances: { MASTER: 1 } }];
  }
  const roles = body.instance_groups.map((g) => g.role_type).sort();
  if (roles.join() !== expected.map((e) => e.role).sort().join()) {
    throw ValidationError.field(groupsLoc, `do not match the topology (got ${roles.join(', ') || 'none'}): ${shape}`);
  }
  const plan: TopologyPlan = { replicaCount, groups: [], instances: [] };
  for (const want of expected) {
    const gi = body.instance_groups.findIndex((g) => g.role_type === want.role);
    const group = body.instance_groups[gi];
    const instances = group.instances ?? [];
    const counts: Record<string, number> = {};
    for (const inst of instances) counts[inst.role_type] = (counts[inst.role_type] ?? 0) + 1;
    const same = Object.keys({ ...counts, ...want.instances }).every((r) => (counts[r] ?? 0) === (want.instances[r] ?? 0));
    if (!same) {
      throw ValidationError.field([...groupsLoc, String(gi), 'instances'], `do not match the topology: ${shape}`);
    }
    const type = serverTypeFor(group.server_type_name, engine, [...groupsLoc, String(gi), 'server_type_name']);
    instances.forEach((inst, ii) => {
      const loc = [...groupsLoc, String(gi), 'instances', String(ii)];
      if (inst.public_ip_id) throw ValidationError.field([...loc, 'public_ip_id'], 'is not supported: public IPs need nat_enabled, which is not available');
      if (inst.service_ip_address && !inSubnet(subnet.cidr, inst.service_ip_address)) {
        throw ValidationError.field([...loc, 'service_ip_address'], `must be an address inside subnet ${subnet.id} (${subnet.cidr}), or left out`);
      }
    });
    const groupIndex = plan.groups.length;
    plan.groups.push({ roleType: want.role, serverTypeName: type.name, storage: blockStorage(group, gi) });
    // The primary first, then replicas, then the Sentinel: the order Show Cluster lists them in.
    const order: Record<string, number> = { MASTER: 0, REPLICA: 1, SENTINEL: 2 };
    const sorted = instances.map((inst, ii) => ({ inst, ii })).sort((a, b) => order[a.inst.role_type] - order[b.inst.role_type]);
    for (const { inst, ii } of sorted) {
      plan.instances.push({
        roleType: inst.role_type as InstanceRole,
        groupIndex,
        requestedIp: inst.service_ip_address || null,
        requestLoc: [...groupsLoc, String(gi), 'instances', String(ii)],
      });
    }
  }
  return plan;
}

