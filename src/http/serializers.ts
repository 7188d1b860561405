// Domain objects -> the contract's response bodies. Every field here is one the contract
// defines; nothing else may be added (the vendor SDK rejects unknown fields). The contract
// tests check each response against the YAML with unknown properties forbidden.
import type { EngineVersion, ServerType } from '../domain/catalog.js';
import type { ClusterPage } from '../domain/cluster-service.js';
import type { ClusterSummary } from '../domain/ports.js';
import type { BackupHistory, Cluster, ClusterDetail, OperationRequest } from '../domain/model.js';
import type { CommandView } from '../domain/command-service.js';
import type { ParameterPage, ParameterValue } from '../domain/parameter-service.js';
import { allowedValues, dataType, isModifiable, type ParameterGroup } from '../domain/parameters.js';

const DBAAS_ENGINE: Record<Cluster['engine'], string> = { redis: 'Redis OSS', valkey: 'Valkey' };

export function asyncResponse(requestId: string, resourceId: string) {
  return { request_id: requestId, resource: { id: resourceId } };
}

function clusterSummary(c: ClusterSummary) {
  return {
    account_id: c.accountId,
    created_at: c.createdAt,
    created_by: c.createdBy,
    ha_enabled: c.haEnabled,
    id: c.id,
    instance_count: c.instanceCount,
    modified_at: c.modifiedAt,
    modified_by: c.modifiedBy,
    name: c.name,
    role_type: 'ORIGIN',
    service_state: c.serviceState,
  };
}

export function clusterPage(p: ClusterPage) {
  return { contents: p.clusters.map(clusterSummary), count: p.total, page: p.page, size: p.size, sort: [p.sort] };
}

export function clusterDetail(d: ClusterDetail) {
  const c = d.cluster;
  const m = c.maintenanceOption;
  return {
    account_id: c.accountId,
    allowable_ip_addresses: c.allowableIpAddresses,
    created_at: c.createdAt,
    created_by: c.createdBy,
    dbaas_engine: DBAAS_ENGINE[c.engine],
    dbaas_engine_version_name: `${DBAAS_ENGINE[c.engine]} ${c.softwareVersion}`,
    ha_enabled: c.haEnabled,
    id: c.id,
    init_config_option: {
      backup_option: {
        retention_period_day: c.backupOption?.retentionPeriodDay ?? null,
        starting_time_hour: c.backupOption?.startingTimeHour ?? null,
      },
      database_port: c.databasePort,
      sentinel_port: c.haEnabled ? c.sentinelPort : null,
    },
    instance_count: d.instances.length,
    instance_groups: d.groups.map((g) => ({
      block_storage_groups: g.blockStorageGroups.map((b) => ({ id: b.id, name: b.name, role_type: b.roleType, size_gb: b.sizeGb, volume_type: b.volumeType })),
      id: g.id,
      instances: d.instances
        .filter((i) => i.groupId === g.id)
        .map((i) => ({
          floating_ip_id: null,
          name: i.name,
          public_ip_address: null,
          public_ip_id: null,
          role_type: i.roleType,
          service_ip_address: i.serviceIpAddress,
          service_state: i.serviceState,
        })),
      role_type: g.roleType,
      server_type_name: g.serverTypeName,
    })),
    maintenance_option: m
      ? { period_hour: m.periodHour, starting_day_of_week: m.startingDayOfWeek ?? undefined, starting_time: m.startingTime, use_maintenance_option: true }
      : { period_hour: null, starting_time: null, use_maintenance_option: false },
    modified_at: c.modifiedAt,
    modified_by: c.modifiedBy,
    name: c.name,
    nat_enabled: c.natEnabled,
    product_image_type: c.productImageType,
    product_type: 'Redis',
    role_type: 'ORIGIN',
    service_state: c.serviceState,
    software_version: c.softwareVersion,
    subnet_id: c.subnetId,
    timezone: c.timezone,
  };
}

export function engineList(versions: EngineVersion[]) {
  return {
    contents: versions.map((v) => ({
      end_of_service: v.endOfService,
      id: v.id,
      major_version: v.majorVersion,
      name: v.name,
      os_type: v.osType,
      os_version: v.osVersion,
      product_image_type: v.productImageType,
      software_version: v.softwareVersion,
    })),
  };
}

export function serverTypeList(types: ServerType[]) {
  return {
    contents: types.map((t) => ({
      cpu_core: t.cpuCore,
      description: t.description,
      memory_gb: t.memoryGb,
      name: t.name,
      product_image_type: t.productImageType,
      product_type: 'Redis',
      purpose: 'MEMORY',
      type: 'STANDARD',
    })),
  };
}

export function requestState(r: OperationRequest) {
  return { request_id: r.id, state: r.state };
}

/** Extension (not in the contract): why a request is where it is. */
export function requestDetail(r: OperationRequest) {
  return {
    request_id: r.id,
    cluster_id: r.clusterId,
    operation: r.operation,
    state: r.state,
    last_step: r.step,
    error: r.error,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    finished_at: r.finishedAt,
  };
}

const GIB = 1024 ** 3;

export function backupHistory(b: BackupHistory) {
  return {
    backup_history_number: b.id,
    backup_state: b.state,
    backup_state_detail: b.detail,
    backup_start_at: b.startedAt,
    // Required by the contract: empty while the backup runs.
    backup_end_at: b.endedAt ?? '',
    backup_size_gb: b.sizeBytes === null ? 0 : b.sizeBytes / GIB,
    software_version: b.softwareVersion,
  };
}

export function parameterGroupList(r: { groups: ParameterGroup[]; sort: string }) {
  return {
    contents: r.groups.map((g) => ({
      id: g.id,
      major_version: g.majorVersion,
      name: g.name,
      product_image_type: g.productImageType,
      product_type: g.productType,
    })),
    sort: [r.sort],
  };
}

export function parameterPage(p: ParameterPage) {
  return {
    contents: p.params.map((x) => ({
      dbaas_parameter_group_id: p.group.id,
      // Values derived per cluster (server type, address) have no single default.
      default_value: x.def.derived ? `set per cluster (${x.def.owner})` : x.engine.default,
      description: x.def.description,
      id: x.id,
      name: x.def.name,
      software_type: p.group.productType,
    })),
    count: p.total,
    page: p.page,
    size: p.size,
    sort: [p.sort],
  };
}

export function parameterValues(r: { cluster: Cluster; values: ParameterValue[] }) {
  return {
    contents: r.values.map((v) => ({
      allows_value: allowedValues(v.param.def, v.param.engine),
      applied_value: v.applied,
      apply_type: v.param.def.apply,
      data_type: dataType(v.param.def),
      default_value: v.defaultValue,
      description: v.param.def.description,
      id: v.param.id,
      is_modifiable: isModifiable(v.param.def),
      name: v.param.def.name,
      software_type: DBAAS_ENGINE[r.cluster.engine],
    })),
    count: r.values.length,
    modified_at: r.cluster.modifiedAt,
  };
}

export function commandList(r: { cluster: Cluster; commands: CommandView[] }) {
  return {
    contents: r.commands.map((c) => ({
      applied_value: c.applied,
      description: c.command.description,
      id: c.id,
      modifiable: c.command.modifiable,
      name: c.command.name,
    })),
    last_updated_at: r.cluster.modifiedAt,
    total_count: r.commands.length,
  };
}
