// Builds the driver's view of a cluster's processes from what the store holds: its data nodes
// (the primary and its replicas, replicating from the primary the store names) and, for an HA
// cluster, a Sentinel beside each data node plus the SENTINEL group's own instance.
import { createHash } from 'node:crypto';
import { findServerType, ioThreads, maxMemoryBytes } from '../domain/catalog.js';
import { fencedParameters } from '../domain/fencing.js';
import type { ClusterDetail, Instance } from '../domain/model.js';
import type { ClusterSecrets } from '../domain/ports.js';
import type { NodeSpec } from '../drivers/driver.js';

export interface SentinelTimings {
  downAfterMs: number;
  failoverTimeoutMs: number;
}

export const DEFAULT_SENTINEL_TIMINGS: SentinelTimings = { downAfterMs: 1100, failoverTimeoutMs: 10_000 };

export interface ClusterNodes {
  data: NodeSpec[];
  sentinels: NodeSpec[];
  /** The data node the store names primary (MASTER). */
  primary: NodeSpec | undefined;
  all: NodeSpec[];
}

/** A Sentinel's fixed id (40 hex, as Sentinel's own), derived from its node id. */
export function sentinelId(nodeId: string): string {
  return createHash('sha1').update(`cachestore-sentinel:${nodeId}`).digest('hex');
}

/** The name Sentinel monitors the cluster's primary by, and clients ask Sentinel for. */
export function masterName(detail: ClusterDetail): string {
  return detail.cluster.name;
}

function limits(detail: ClusterDetail, i: Instance) {
  const group = detail.groups.find((g) => g.id === i.groupId);
  const type = group && findServerType(group.serverTypeName);
  if (!type) throw new Error(`instance ${i.name} has no known server type`);
  const volume = group.blockStorageGroups.find((b) => b.roleType === 'DATA');
  return { maxMemoryBytes: maxMemoryBytes(type), ioThreads: ioThreads(type), volumeGb: volume?.sizeGb };
}

export function clusterNodes(detail: ClusterDetail, secrets: ClusterSecrets, timings: SentinelTimings = DEFAULT_SENTINEL_TIMINGS): ClusterNodes {
  const c = detail.cluster;
  const dataInstances = detail.instances.filter((i) => i.roleType === 'MASTER' || i.roleType === 'REPLICA');
  const primaryInstance = dataInstances.find((i) => i.roleType === 'MASTER');
  const master = primaryInstance ? { ip: primaryInstance.serviceIpAddress, port: primaryInstance.port } : null;
  // Every data node's file carries the fence, so whichever becomes primary (failover,
  // switchover, heal, restore, upgrade) runs it from its first second as primary.
  const parameters = fencedParameters(c.parameters, { haEnabled: c.haEnabled, replicas: c.replicaCount });
  const base = (i: Instance) => ({ instanceId: i.id, clusterId: c.id, engine: c.engine, password: secrets.password, serviceSecret: secrets.serviceSecret, ...limits(detail, i) });
  const data: NodeSpec[] = dataInstances.map((i) => ({
    ...base(i),
    nodeId: i.id,
    kind: 'data',
    ip: i.serviceIpAddress,
    port: i.port,
    replicaOf: i.roleType === 'MASTER' ? null : master,
    keepWriteLog: c.backupOption !== null,
    parameters,
    commands: c.commands,
  }));
  const sentinels: NodeSpec[] = [];
  if (c.haEnabled && master) {
    const places = [
      ...dataInstances.map((i) => ({ i, nodeId: `${i.id}-sentinel`, port: c.sentinelPort })),
      ...detail.instances.filter((i) => i.roleType === 'SENTINEL').map((i) => ({ i, nodeId: i.id, port: i.port })),
    ].map((p) => ({ ...p, ip: p.i.serviceIpAddress, myid: sentinelId(p.nodeId) }));
    const knownReplicas = dataInstances.filter((i) => i !== primaryInstance).map((i) => ({ ip: i.serviceIpAddress, port: i.port }));
    for (const p of places) {
      sentinels.push({
        ...base(p.i),
        nodeId: p.nodeId,
        kind: 'sentinel',
        ip: p.ip,
        port: p.port,
        sentinel: {
          masterName: masterName(detail),
          master,
          quorum: Math.floor(places.length / 2) + 1,
          ...timings,
          myid: p.myid,
          knownReplicas,
          knownSentinels: places.filter((o) => o !== p).map((o) => ({ ip: o.ip, port: o.port, myid: o.myid })),
        },
      });
    }
  }
  const primary = data.find((n) => n.replicaOf === null);
  return { data, sentinels, primary, all: [...data, ...sentinels] };
}
