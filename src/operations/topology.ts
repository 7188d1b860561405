// Observing an HA (or standalone) cluster as it really is, and writing that into the store:
// which node is the primary (as the Sentinels' majority and the nodes themselves say), which
// processes answer, and so the cluster's state. Used by Synchronize Cluster State, by the
// Sentinel event watcher, by the periodic reconcile and after a switchover.
import { probeReplicationSurely, sentinelMaster, type ReplicationInfo } from '../engines/replication.js';
import type { ClusterDetail, Instance, InstanceRole, ServiceState } from '../domain/model.js';
import type { Lease, Store } from '../domain/ports.js';
import { LeaseLost } from './lease.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import type { ClusterNodes } from './nodes.js';
import type { Finding } from './service-metrics.js';

export interface Observation {
  data: Array<{ node: NodeSpec; info: ReplicationInfo | null }>;
  sentinels: Array<{ node: NodeSpec; alive: boolean; master: { ip: string; port: number } | null }>;
  /** The data node that is the primary now, if any answers as one. */
  primary: NodeSpec | null;
}

export async function observe(nodes: ClusterNodes): Promise<Observation> {
  const data = await Promise.all(nodes.data.map(async (node) => ({ node, info: await probeReplicationSurely(endpointOf(node)) })));
  const sentinels = await Promise.all(
    nodes.sentinels.map(async (node) => {
      const master = await sentinelMaster(endpointOf(node), node.sentinel!.masterName);
      const alive = master !== null || (await probeReplicationSurely(endpointOf(node))) !== null;
      return { node, alive, master };
    }),
  );
  // The Sentinels' majority names the primary; a node that says it is primary confirms it.
  const votes = new Map<string, number>();
  for (const s of sentinels) if (s.master) votes.set(`${s.master.ip}:${s.master.port}`, (votes.get(`${s.master.ip}:${s.master.port}`) ?? 0) + 1);
  const [winner] = [...votes.entries()].sort((a, b) => b[1] - a[1]);
  let primary =
    data.find((d) => winner && `${d.node.ip}:${d.node.port}` === winner[0] && d.info?.role === 'master')?.node ?? null;
  if (!primary) {
    const masters = data.filter((d) => d.info?.role === 'master');
    if (masters.length === 1) primary = masters[0].node;
  }
  return { data, sentinels, primary };
}

export interface Applied {
  clusterState: ServiceState;
  changes: string[];
  /** The changes by kind, for GET /metrics (a node that became primary is a failover). */
  findings: Finding[];
}

/**
 * Writes roles and states into the store. The cluster is RUNNING while a primary serves writes
 * (a dead replica or Sentinel shows as an ERROR instance: degraded, not down), ERROR without one,
 * and stays STOPPED if it was stopped and nothing runs.
 */
export async function applyObservation(
  store: Store,
  detail: ClusterDetail,
  obs: Observation,
  opts: { at: string; previous: ServiceState; setClusterState: boolean; lease?: Lease; diskFull?: Set<string> },
): Promise<Applied> {
  const changes: string[] = [];
  const findings: Finding[] = [];
  const byInstance = new Map<string, Instance>(detail.instances.map((i) => [i.id, i]));
  for (const d of obs.data) {
    const inst = byInstance.get(d.node.instanceId)!;
    let role: InstanceRole = inst.roleType;
    // A node that still says master while the Sentinels' majority follows another is an old
    // primary cut off from them: it is not where writes go (its fence refuses them), and Sentinel
    // makes it a replica when it reaches them again.
    const cutOff = d.info?.role === 'master' && obs.primary !== null && obs.primary !== d.node;
    if (d.info) role = d.info.role === 'master' && !cutOff ? 'MASTER' : 'REPLICA';
    else if (obs.primary && obs.primary !== d.node) role = 'REPLICA';
    // A replica that answers but has not finished copying its primary is SYNCHRONIZING: it
    // does not hold the whole dataset yet.
    const syncing = d.info?.role === 'slave' && !d.info.linkUp && obs.primary !== null;
    // A node whose disk is full answers but cannot keep what it is sent (disk-watch.ts).
    const full = d.info !== null && opts.diskFull?.has(d.node.instanceId) === true;
    const state: ServiceState = full ? 'ERROR' : d.info ? (syncing ? 'SYNCHRONIZING' : 'RUNNING') : opts.previous === 'STOPPED' && !obs.primary ? 'STOPPED' : 'ERROR';
    if (role !== inst.roleType) {
      await store.setInstanceRole(inst.id, role);
      if (role === 'MASTER') findings.push('failover');
      changes.push(
        cutOff
          ? `instance ${inst.name} still acts as a primary but the Sentinels follow ${obs.primary!.ip}: it is cut off from them; recorded as a REPLICA (Sentinel makes it one when it reaches them again)`
          : `instance ${inst.name} is now ${role === 'MASTER' ? 'the primary (MASTER)' : 'a REPLICA'}`,
      );
    }
    if (state !== inst.serviceState) {
      await store.setInstanceState(inst.id, state);
      findings.push('instance-state-changed');
      changes.push(`instance ${inst.name} is ${state}${full ? ' (its data volume is full)' : state === 'ERROR' ? ' (its engine does not answer)' : state === 'SYNCHRONIZING' ? ' (copying the primary)' : ''}`);
    }
  }
  for (const s of obs.sentinels) {
    const inst = byInstance.get(s.node.instanceId)!;
    if (s.node.nodeId === inst.id) {
      // The SENTINEL group's own instance.
      const state: ServiceState = s.alive ? 'RUNNING' : opts.previous === 'STOPPED' && !obs.primary ? 'STOPPED' : 'ERROR';
      if (state !== inst.serviceState) {
        await store.setInstanceState(inst.id, state);
        findings.push('instance-state-changed');
        changes.push(`instance ${inst.name} is ${state}`);
      }
    } else if (!s.alive && opts.previous !== 'STOPPED') {
      findings.push('sentinel-not-answering');
      changes.push(`the Sentinel beside instance ${inst.name} does not answer`);
    }
  }
  const anyAlive = obs.data.some((d) => d.info) || obs.sentinels.some((s) => s.alive);
  // A primary whose disk is full refuses every write: the cluster does not serve as it should.
  const primaryFull = obs.primary !== null && opts.diskFull?.has(obs.primary.instanceId) === true;
  const clusterState: ServiceState = primaryFull ? 'ERROR' : obs.primary ? 'RUNNING' : opts.previous === 'STOPPED' && !anyAlive ? 'STOPPED' : 'ERROR';
  if (opts.setClusterState && clusterState !== detail.cluster.serviceState) {
    if (opts.lease) {
      if (!(await store.setClusterStateHeld(detail.cluster.id, clusterState, opts.at, opts.lease))) throw new LeaseLost(opts.lease);
    } else {
      await store.setClusterState(detail.cluster.id, clusterState, opts.at);
    }
    findings.push('cluster-state-changed');
    changes.push(`cluster is ${clusterState}${primaryFull ? ' (the primary\'s data volume is full)' : ''}`);
  }
  return { clusterState, changes, findings };
}
