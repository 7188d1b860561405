// Fast failover for the local driver. Sentinel alone needs down-after (1.1 s) to suspect a dead
// primary, and more to agree. But this service is told at once when a data node's process dies
// (its liveness link closes and the driver confirms the process gone: liveness.ts), so when that
// node is a RUNNING HA cluster's primary it asks a Sentinel to fail over at once (SENTINEL
// FAILOVER: no waiting for down-after or agreement). The Sentinels' own detection stays as it
// is, for whatever this service does not see (it is down, or the host is). Every other death (a
// replica, a Sentinel, a standalone engine) is handed to the reconciler to record and heal.
// Nothing here runs while nothing dies: no timer, no store read (issue 15).
import { runsBesideTheWorkload } from '../domain/lifecycle.js';
import { onDeath } from '../domain/liveness.js';
import { sentinelMaster, withClient } from '../engines/replication.js';
import type { Clock, Store } from '../domain/ports.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import type { ClusterNodes } from './nodes.js';
import type { Logger } from './worker.js';

export class PrimaryWatch {
  constructor(
    private readonly o: {
      store: Store;
      clock: Clock;
      logger: Logger;
      /** The forced failover on (CACHESTORE_PRIMARY_WATCH_MS > 0). */
      enabled: boolean;
      /** Look at the cluster now: record what died and start healing it. */
      lookAt: (clusterId: string) => void;
    },
  ) {}

  /** A process of the cluster died (told by its liveness link, confirmed by the driver). */
  async died(node: NodeSpec, cluster: { nodes: ClusterNodes; name: string; ha: boolean }): Promise<void> {
    try {
      const dead = { kind: node.kind, ip: node.ip, port: node.port, storedPrimary: cluster.nodes.primary?.nodeId === node.nodeId };
      // Whether the Sentinels still name it primary (they may have failed over already) is asked
      // only of a death that may need the failover.
      const mayFailOver = onDeath(dead, { ha: cluster.ha, fastFailover: this.o.enabled }, null) === 'fail-over';
      const decision = mayFailOver ? onDeath(dead, { ha: true, fastFailover: true }, await this.sentinelsPrimary(cluster)) : 'look-at-cluster';
      if (decision === 'fail-over' && (await this.failover(node.clusterId, cluster.name, cluster.nodes, node.ip))) return;
      this.o.lookAt(node.clusterId);
    } catch (err) {
      this.o.logger.warn({ err: String(err), cluster_id: node.clusterId }, 'handling a dead process failed');
      this.o.lookAt(node.clusterId);
    }
  }

  private async sentinelsPrimary(cluster: { nodes: ClusterNodes; name: string }): Promise<{ ip: string; port: number } | null> {
    for (const s of cluster.nodes.sentinels) {
      const m = await sentinelMaster(endpointOf(s), cluster.name).catch(() => null);
      if (m) return m;
    }
    return null;
  }

  /** Returns true when a Sentinel took the failover on (its events then bring the new topology). */
  private async failover(clusterId: string, name: string, nodes: ClusterNodes, deadIp: string): Promise<boolean> {
    // Only a cluster that nothing else is changing: a stop or restart ends primaries on purpose.
    // A backup changes no process: a primary that dies during one is failed over as ever.
    const cluster = await this.o.store.findCluster(null, clusterId);
    if (cluster?.serviceState !== 'RUNNING') return false;
    const active = await this.o.store.activeRequest(clusterId);
    if (active && !runsBesideTheWorkload(active.operation)) return true;
    for (const s of nodes.sentinels) {
      try {
        await withClient(endpointOf(s), (c) => c.call('SENTINEL', 'FAILOVER', name), 500, false);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (!/INPROG/.test(msg)) continue; // this Sentinel cannot: ask the next one
      }
      await this.o.store.addEvent(clusterId, null, `the primary's engine on ${deadIp} died; asked Sentinel to fail over at once`, this.o.clock.now().toISOString());
      this.o.logger.info({ cluster_id: clusterId }, 'primary died: forced a Sentinel failover');
      return true;
    }
    return false;
  }
}
