// Set Server Type of an instance group: what may change (checkServerTypeChange, a pure decision)
// and the service that records the request in the ledger. The workflow that applies it is
// operations/workflows/server-type.ts.
import { findServerType, ioThreads, maxMemoryBytes, type ServerType } from './catalog.js';
import { notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { InvalidStateError, NotFoundError, ValidationError } from './errors.js';
import { assertCanStart, busyError } from './lifecycle.js';
import type { Cluster, InstanceGroup } from './model.js';
import type { EngineConfigReader, Store } from './ports.js';
import type { Principal } from './principal.js';

const LOC = ['body', 'server_type_name'];

export interface ServerTypeChange {
  from: ServerType;
  to: ServerType;
  /** io-threads changes: only a restart applies it (rolling for HA). Otherwise CONFIG SET maxmemory, online. */
  restart: boolean;
}

function gb(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GB (${bytes} bytes)`;
}

/**
 * Whether `group` of `cluster` may move to the type named `wanted`; a 400 naming the problem
 * otherwise. `usedMemory`: the primary's used_memory, null when no data node answered.
 */
export function checkServerTypeChange(cluster: Cluster, group: InstanceGroup, wanted: string, usedMemory: number | null): ServerTypeChange {
  if (group.roleType === 'SENTINEL') {
    throw new ValidationError(
      `Instance group ${group.id} is the SENTINEL group of cluster '${cluster.name}': its Sentinel holds no data, so a server type ` +
        `makes no difference to it; change the server type of the MASTER_REPLICA group instead.`,
    );
  }
  const from = findServerType(group.serverTypeName);
  if (!from) throw new Error(`instance group ${group.id} has an unknown server type ${group.serverTypeName}`);
  const to = findServerType(wanted);
  const example = cluster.engine === 'redis' ? 'redis1v2m8' : 'css1v2m8';
  if (!to) {
    throw ValidationError.field(LOC, `'${wanted}' is not a server type; List Server Types with product_image_type=${cluster.productImageType} shows them (e.g. ${example})`);
  }
  if (to.engine !== cluster.engine) {
    throw ValidationError.field(
      LOC,
      `'${wanted}' is a ${to.productImageType} server type, and cluster '${cluster.name}' runs ${cluster.productImageType}; choose one of its types (e.g. ${example})`,
    );
  }
  if (to.name === from.name) {
    throw ValidationError.field(LOC, `instance group ${group.id} already has server type ${from.name}; nothing to change`);
  }
  const limit = maxMemoryBytes(to);
  if (usedMemory === null && limit < maxMemoryBytes(from)) {
    throw new InvalidStateError(
      `The data in use on cluster '${cluster.name}' could not be read (no data node answered), so a smaller server type cannot be checked; try again when it answers.`,
    );
  }
  if (usedMemory !== null && usedMemory >= limit) {
    throw ValidationError.field(
      LOC,
      `${to.name} cannot hold the data in use: the primary uses ${gb(usedMemory)} and ${to.name} gives maxmemory ${gb(limit)} ` +
        `(75% of its ${to.memoryGb} GB); choose a larger type or delete data first`,
    );
  }
  return { from, to, restart: ioThreads(from) !== ioThreads(to) };
}

export interface ServerTypeServiceDeps {
  store: Store;
  clusters: ClusterService;
  engines: EngineConfigReader;
}

export class ServerTypeService {
  constructor(private readonly deps: ServerTypeServiceDeps) {}

  async set(p: Principal, groupId: string, wanted: string): Promise<Submitted> {
    const { store } = this.deps;
    const clusterId = await store.clusterOfGroup(p.accountId, groupId);
    if (!clusterId) throw new NotFoundError(`Instance group '${groupId}' was not found in this account; Show Cluster lists a cluster's instance groups.`);
    const detail = await store.clusterDetail(p.accountId, clusterId);
    if (!detail) throw notFound(clusterId);
    const { cluster } = detail;
    const group = detail.groups.find((g) => g.id === groupId)!;
    const active = await store.activeRequest(cluster.id);
    if (active) throw busyError(cluster, active.id);
    assertCanStart(cluster, 'set-server-type');
    const change = checkServerTypeChange(cluster, group, wanted, await this.deps.engines.usedMemory(cluster.id));
    return this.deps.clusters.begin(p, cluster, 'set-server-type', {
      group: group.id,
      from: change.from.name,
      to: change.to.name,
      restart: change.restart,
      // The rolling restart ends with the node that is primary now.
      primary: detail.instances.find((i) => i.roleType === 'MASTER')?.id ?? null,
    });
  }
}
