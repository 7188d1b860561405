// Node specs for the Kubernetes driver's tests: one HA instance (a data node and the Sentinel
// beside it, sharing its address) with addresses from a made-up Service CIDR.
import type { NodeSpec } from '../../src/drivers/driver.js';

export const CLUSTER_ID = 'c0ffee00c0ffee00c0ffee00c0ffee00';
export const PASSWORD = 'tenant-Pass-4711';
export const SERVICE_SECRET = 'a1'.repeat(32);

export function dataNode(over: Partial<NodeSpec> = {}): NodeSpec {
  const instanceId = over.instanceId ?? 'd0000000000000000000000000000001';
  return {
    nodeId: instanceId,
    instanceId,
    clusterId: CLUSTER_ID,
    kind: 'data',
    engine: 'redis',
    ip: '10.96.200.11',
    port: 6379,
    password: PASSWORD,
    serviceSecret: SERVICE_SECRET,
    maxMemoryBytes: 1 << 30,
    ioThreads: 1,
    replicaOf: null,
    volumeGb: 16,
    ...over,
  };
}

/** The Sentinel beside a data node: the same instance and address, its own port. */
export function sentinelBeside(data: NodeSpec, over: Partial<NodeSpec> = {}): NodeSpec {
  return {
    ...data,
    nodeId: `${data.instanceId}-sentinel`,
    kind: 'sentinel',
    port: 26379,
    volumeGb: undefined,
    replicaOf: undefined,
    sentinel: {
      masterName: 'cluster-one',
      master: { ip: data.ip, port: data.port },
      quorum: 2,
      downAfterMs: 1100,
      failoverTimeoutMs: 10_000,
      myid: 'f'.repeat(40),
      knownReplicas: [],
      knownSentinels: [],
    },
    ...over,
  };
}
