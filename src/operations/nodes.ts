// Builds the driver's view of a cluster's data nodes from what the store holds.
import { findServerType, ioThreads, maxMemoryBytes } from '../domain/catalog.js';
import type { ClusterDetail } from '../domain/model.js';
import type { NodeSpec } from '../drivers/driver.js';

export function dataNodes(detail: ClusterDetail, password: string): NodeSpec[] {
  return detail.instances
    .filter((i) => i.roleType === 'MASTER' || i.roleType === 'REPLICA')
    .map((i) => {
      const group = detail.groups.find((g) => g.id === i.groupId);
      const type = group && findServerType(group.serverTypeName);
      if (!type) throw new Error(`instance ${i.name} has no known server type`);
      return {
        instanceId: i.id,
        clusterId: detail.cluster.id,
        engine: detail.cluster.engine,
        ip: i.serviceIpAddress,
        port: i.port,
        password,
        maxMemoryBytes: maxMemoryBytes(type),
        ioThreads: ioThreads(type),
      };
    });
}
