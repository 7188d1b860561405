// The engine side of GET /metrics: each cluster's nodes read with one INFO at scrape time, through
// the service's own ACL user (endpointOf), never the tenant's password. Nothing runs between
// scrapes (issue 15: the service costs nothing at rest). A cluster's reading is kept `cacheMs`
// (5 s by default), and scrapes that overlap share one reading, so several scrapers (Prometheus
// HA pairs, a console, a person with curl) never multiply the load on the engines; at most
// `concurrency` nodes are read at once, so a scrape of many clusters never opens hundreds of
// connections together. A node that does not answer is `up 0`, never an error of the scrape.
import type { Cluster, ServiceState } from '../domain/model.js';
import { SERVICE_STATES } from '../domain/model.js';
import { enginesShouldRun, lastBackupAgeSeconds, type MetricsScope } from '../domain/metrics-scope.js';
import type { Store } from '../domain/ports.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import { readEngineStats, replicationLagBytes, type EngineStats } from '../engines/engine-stats.js';
import type { Endpoint } from '../engines/client.js';
import { clusterNodes } from './nodes.js';

export interface NodeSample {
  clusterId: string;
  /** The node's id: the instance's id, or `<instance id>-sentinel` for the Sentinel beside a data node. */
  instanceId: string;
  /** null: the node did not answer. */
  stats: EngineStats | null;
  /** Replicas whose primary answered too. */
  lagBytes?: number;
}

export interface ClusterSample {
  clusterId: string;
  nodes: NodeSample[];
  lastBackupAgeSeconds: number | null;
}

export interface EngineMetricsOptions {
  store: Pick<Store, 'clustersInStates' | 'clusterDetail' | 'clusterSecrets' | 'backupsOf' | 'findCluster'>;
  /** How long a cluster's reading is served again (CACHESTORE_METRICS_CACHE_MS). */
  cacheMs: number;
  /** Nodes read at once, over every scrape in progress. */
  concurrency?: number;
  now?: () => number;
  /** Reads one node; tests of this module may pass another reader. */
  read?: (ep: Endpoint) => Promise<EngineStats>;
}

const LIVE_STATES: ServiceState[] = SERVICE_STATES.filter((s) => s !== 'TERMINATED');

export class EngineMetrics {
  private readonly cache = new Map<string, { at: number; sample: Promise<ClusterSample> }>();
  private readonly now: () => number;
  private readonly read: (ep: Endpoint) => Promise<EngineStats>;
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly o: EngineMetricsOptions) {
    this.now = o.now ?? Date.now;
    this.read = o.read ?? ((ep) => readEngineStats(ep));
  }

  /**
   * The clusters the scope sees (not terminated), or only `clusterId`; undefined when that
   * cluster is not one the scope sees (another account's, or no such cluster).
   */
  async clusters(scope: MetricsScope, clusterId?: string): Promise<Cluster[] | undefined> {
    const accountId = scope.kind === 'account' ? scope.accountId : null;
    if (clusterId !== undefined) {
      const c = await this.o.store.findCluster(accountId, clusterId);
      return c ? [c] : undefined;
    }
    const all = await this.o.store.clustersInStates(LIVE_STATES);
    return accountId === null ? all : all.filter((c) => c.accountId === accountId);
  }

  /** Every given cluster's reading: from the cache when it is fresh enough. */
  async collect(clusters: Cluster[]): Promise<ClusterSample[]> {
    const now = this.now();
    // Readings of clusters nobody asked for within the window go, so the cache stays bounded.
    for (const [id, e] of this.cache) if (now - e.at >= this.o.cacheMs) this.cache.delete(id);
    return Promise.all(
      clusters.map((c) => {
        const hit = this.cache.get(c.id);
        if (hit) return hit.sample;
        const sample = this.sample(c).catch(() => ({ clusterId: c.id, nodes: [], lastBackupAgeSeconds: null }));
        if (this.o.cacheMs > 0) this.cache.set(c.id, { at: now, sample });
        return sample;
      }),
    );
  }

  private async sample(cluster: Cluster): Promise<ClusterSample> {
    const { store } = this.o;
    const backups = await store.backupsOf(cluster.id);
    const out: ClusterSample = { clusterId: cluster.id, nodes: [], lastBackupAgeSeconds: lastBackupAgeSeconds(backups, this.now()) };
    if (!enginesShouldRun(cluster.serviceState)) return out;
    const detail = await store.clusterDetail(null, cluster.id);
    if (!detail) return out;
    const nodes = clusterNodes(detail, await store.clusterSecrets(cluster.id));
    out.nodes = await Promise.all(nodes.all.map(async (n) => ({ clusterId: cluster.id, instanceId: n.nodeId, stats: await this.limited(n) })));
    // Lag against the primary's offset read in the same reading.
    const primary = out.nodes.find((n) => n.stats?.role === 'primary');
    const primaryOffset = primary?.stats?.replicationOffset;
    if (primaryOffset !== undefined) {
      for (const n of out.nodes) {
        const offset = n.stats?.role === 'replica' ? n.stats.replicationOffset : undefined;
        if (offset !== undefined) n.lagBytes = replicationLagBytes(primaryOffset, offset);
      }
    }
    return out;
  }

  /** Reads a node when fewer than `concurrency` reads are in flight; null when it does not answer. */
  private async limited(n: NodeSpec): Promise<EngineStats | null> {
    // A finished read hands its slot straight to the next waiter, so the bound holds exactly.
    if (this.active >= (this.o.concurrency ?? 8)) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await this.read(endpointOf(n));
    } catch {
      return null;
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
