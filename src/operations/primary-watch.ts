// Fast failover for the local driver. Sentinel alone needs down-after (1.1 s) to suspect a dead
// primary, and more to agree. But this service knows for certain when a primary's process is
// gone (its pid no longer carries the node's marker), so it checks every `intervalMs` and,
// when a RUNNING HA cluster's primary has died, asks a Sentinel to fail over at once
// (SENTINEL FAILOVER: no waiting for down-after or agreement). The Sentinels' own detection
// stays as it is, for whatever this service does not see (it is down, or the host is).
// The engines of standalone clusters are looked at too, less often (every STANDALONE_EVERY
// ticks): a dead one is reported at once (onDeadEngine) so it is started again within moments.
import { runsBesideTheWorkload } from '../domain/lifecycle.js';
import { withClient } from '../engines/replication.js';
import type { Clock, Store } from '../domain/ports.js';
import { endpointOf, type Driver } from '../drivers/driver.js';
import { clusterNodes, masterName, type ClusterNodes, type SentinelTimings } from './nodes.js';
import type { Logger } from './worker.js';

/** How often the list of clusters to watch is read again from the store. */
const REFRESH_MS = 2000;
/** Standalone engines are checked every this many ticks (about 1 s at the default 100 ms). */
const STANDALONE_EVERY = 10;

export class PrimaryWatch {
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private watched: Array<{ clusterId: string; nodes: ClusterNodes; name: string; standalone: boolean }> = [];
  private ticks = 0;
  private refreshedAt = 0;
  /** clusterId:nodeId of primaries already reported dead, so each death is handled once. */
  private readonly handled = new Set<string>();

  constructor(
    private readonly o: {
      store: Store;
      driver: Driver;
      clock: Clock;
      logger: Logger;
      intervalMs: number;
      timings: SentinelTimings;
      /** A RUNNING standalone cluster's engine died. */
      onDeadEngine?: (clusterId: string) => void;
    },
  ) {}

  start(): void {
    if (this.timer || this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  /** The topology changed (an operation ended, a failover was seen): read it again now. */
  invalidate(): void {
    this.refreshedAt = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async refresh(): Promise<void> {
    const clusters = (await this.o.store.clustersInStates(['RUNNING'])).filter((c) => c.haEnabled || this.o.onDeadEngine);
    const next: typeof this.watched = [];
    // A standalone cluster's one node never changes: read only the new ones (a refresh follows
    // every finished operation, and there can be many standalone clusters).
    const known = new Map(this.watched.filter((w) => w.standalone).map((w) => [w.clusterId, w]));
    for (const c of clusters) {
      const same = !c.haEnabled && known.get(c.id);
      if (same) {
        next.push(same);
        continue;
      }
      const detail = await this.o.store.clusterDetail(null, c.id);
      if (!detail) continue;
      const nodes = clusterNodes(detail, await this.o.store.clusterSecrets(c.id), this.o.timings);
      if (nodes.primary) next.push({ clusterId: c.id, nodes, name: masterName(detail), standalone: !c.haEnabled });
    }
    this.watched = next;
    this.refreshedAt = Date.now();
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (Date.now() - this.refreshedAt > REFRESH_MS) await this.refresh();
      const standalones = this.ticks++ % STANDALONE_EVERY === 0;
      for (const w of this.watched) {
        if (w.standalone && !standalones) continue;
        const primary = w.nodes.primary!;
        const key = `${w.clusterId}:${primary.nodeId}`;
        // Seen running again (healed, or primary again after a switchover): a next death counts.
        if (await this.o.driver.isRunning(primary)) {
          this.handled.delete(key);
          continue;
        }
        if (this.handled.has(key)) continue;
        this.handled.add(key);
        if (w.standalone) {
          this.o.onDeadEngine?.(w.clusterId);
          continue;
        }
        await this.failover(w.clusterId, w.name, w.nodes, primary.ip);
        this.refreshedAt = 0; // the primary changes: read the topology again soon
      }
    } catch (err) {
      this.o.logger.warn({ err: String(err) }, 'primary watch failed');
    } finally {
      this.ticking = false;
    }
  }

  private async failover(clusterId: string, name: string, nodes: ClusterNodes, deadIp: string): Promise<void> {
    // Only a cluster that nothing else is changing: a stop or restart ends primaries on purpose.
    // A backup changes no process: a primary that dies during one is failed over as ever.
    const cluster = await this.o.store.findCluster(null, clusterId);
    if (cluster?.serviceState !== 'RUNNING') return;
    const active = await this.o.store.activeRequest(clusterId);
    if (active && !runsBesideTheWorkload(active.operation)) return;
    for (const s of nodes.sentinels) {
      try {
        await withClient(endpointOf(s), (c) => c.call('SENTINEL', 'FAILOVER', name), 500);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (!/INPROG/.test(msg)) continue; // this Sentinel cannot: ask the next one
      }
      await this.o.store.addEvent(clusterId, null, `the primary's engine on ${deadIp} died; asked Sentinel to fail over at once`, this.o.clock.now().toISOString());
      this.o.logger.info({ cluster_id: clusterId }, 'primary died: forced a Sentinel failover');
      return;
    }
  }
}
