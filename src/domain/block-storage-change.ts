// Set Block Storage Size of a block storage group: what may change (checkBlockStorageResize, a
// pure decision) and the service that records the request in the ledger. The workflow that
// grows the volumes is operations/workflows/block-storage.ts.
import { notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { NotFoundError, ValidationError } from './errors.js';
import { assertCanStart, busyError } from './lifecycle.js';
import type { BlockStorageGroup, Cluster, InstanceGroup } from './model.js';
import type { Store } from './ports.js';
import type { Principal } from './principal.js';

const LOC = ['body', 'size_gb'];
/** The contract's bounds (ResizeBlockStorageGroupRequest); the validator holds them too. */
export const MAX_BLOCK_STORAGE_GB = 5120;

export interface BlockStorageResize {
  fromGb: number;
  toGb: number;
}

/**
 * Whether `storage` (of `group`, in `cluster`) may grow to `wantedGb`; a 400 naming the problem
 * otherwise. Volumes only grow (as with ElastiCache's and most clouds' disks): shrinking a
 * filesystem the engine writes to is not done online, and an equal size would change nothing.
 */
export function checkBlockStorageResize(cluster: Cluster, group: InstanceGroup, storage: BlockStorageGroup, wantedGb: number): BlockStorageResize {
  if (storage.roleType !== 'DATA') {
    throw new ValidationError(
      `Block storage group ${storage.id} is the ${storage.roleType} volume of cluster '${cluster.name}'; only DATA volumes, where the ` +
        `engines keep their data, can be resized. Show Cluster lists each instance group's block storage groups.`,
    );
  }
  if (group.roleType === 'SENTINEL') {
    throw new ValidationError(
      `Block storage group ${storage.id} belongs to the SENTINEL group of cluster '${cluster.name}': its Sentinel stores no data, so its ` +
        `size makes no difference; resize the DATA block storage group of the ${cluster.haEnabled ? 'MASTER_REPLICA' : 'MASTER'} group instead.`,
    );
  }
  if (wantedGb <= storage.sizeGb) {
    const next = storage.sizeGb + 8 <= MAX_BLOCK_STORAGE_GB ? `choose a larger size (${storage.sizeGb + 8} to ${MAX_BLOCK_STORAGE_GB}, a multiple of 8)` : `it is at the largest size already`;
    throw ValidationError.field(
      LOC,
      `block storage group ${storage.id} is ${storage.sizeGb} GB now and can only grow (${wantedGb} GB ${wantedGb === storage.sizeGb ? 'is its current size' : 'would shrink it'}); ${next}`,
    );
  }
  return { fromGb: storage.sizeGb, toGb: wantedGb };
}

export interface BlockStorageServiceDeps {
  store: Store;
  clusters: ClusterService;
}

export class BlockStorageService {
  constructor(private readonly deps: BlockStorageServiceDeps) {}

  async resize(p: Principal, storageId: string, sizeGb: number): Promise<Submitted> {
    const { store } = this.deps;
    const where = await store.findBlockStorageGroup(p.accountId, storageId);
    if (!where) throw new NotFoundError(`Block storage group '${storageId}' was not found in this account; Show Cluster lists a cluster's block storage groups.`);
    const detail = await store.clusterDetail(p.accountId, where.clusterId);
    if (!detail) throw notFound(where.clusterId);
    const { cluster } = detail;
    const group = detail.groups.find((g) => g.id === where.groupId)!;
    const storage = group.blockStorageGroups.find((b) => b.id === storageId)!;
    const active = await store.activeRequest(cluster.id);
    if (active) throw busyError(cluster, active.id);
    assertCanStart(cluster, 'set-block-storage-size');
    const change = checkBlockStorageResize(cluster, group, storage, sizeGb);
    return this.deps.clusters.begin(p, cluster, 'set-block-storage-size', {
      group: group.id,
      storage: storage.id,
      from: change.fromGb,
      to: change.toGb,
      // Where the cluster goes back to: a stopped cluster stays stopped.
      previous: cluster.serviceState,
    });
  }
}
