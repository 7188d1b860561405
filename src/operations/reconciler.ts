// Keeps the API truthful about processes that live outside the service. At start it re-adopts
// the engines that kept running while the service was down and marks those that died; then it
// repeats the check periodically and whenever a Sentinel reports a topology change.
// Standalone engines are never restarted behind the user's back. A dead data node of an HA
// cluster that still has a primary is healed: after `healAfterMs` it is started again as a
// replica of the current primary (what a managed service does with a failed node).
import { runsBesideTheWorkload } from '../domain/lifecycle.js';
import type { Cluster } from '../domain/model.js';
import type { Clock, Store } from '../domain/ports.js';
import type { Driver, NodeSpec } from '../drivers/driver.js';
import { clusterNodes, DEFAULT_SENTINEL_TIMINGS, type SentinelTimings } from './nodes.js';
import { SentinelWatcher } from './sentinel-watch.js';
import { applyObservation, observe } from './topology.js';
import type { Logger } from './worker.js';

export interface ReconcilerOptions {
  store: Store;
  driver: Driver;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** 0 turns healing off. */
  healAfterMs?: number;
  sentinelTimings?: SentinelTimings;
  /** Called when a reconcile recorded a change of roles or states. */
  onTopologyChange?: () => void;
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private readonly perCluster = new Map<string, Promise<void>>();
  private readonly deadSince = new Map<string, number>();
  readonly watcher: SentinelWatcher;
  private first = true;

  constructor(private readonly o: ReconcilerOptions) {
    this.watcher = new SentinelWatcher((id) => void this.checkCluster(id), o.logger);
  }

  start(): void {
    if (this.timer || this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher.close();
    await this.checking;
    await Promise.allSettled([...this.perCluster.values()]);
  }

  /** One pass over every RUNNING or ERROR cluster; concurrent calls share the pass in progress. */
  check(): Promise<void> {
    this.checking ??= this.pass().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  /** Reconciles one cluster now (after a Sentinel event, or after an operation ended). */
  checkCluster(id: string): Promise<void> {
    const running = this.perCluster.get(id);
    if (running) return running;
    const p = (async () => {
      const cluster = await this.o.store.findCluster(null, id);
      if (cluster) await this.reconcile(cluster);
    })()
      .catch((err) => this.o.logger.error({ err, cluster_id: id }, 'reconcile failed'))
      .finally(() => this.perCluster.delete(id));
    this.perCluster.set(id, p);
    return p;
  }

  private async pass(): Promise<void> {
    let engines = 0;
    try {
      const clusters = await this.o.store.clustersInStates(['RUNNING', 'ERROR']);
      const live = new Set(clusters.map((c) => c.id));
      for (const id of this.watcher.watching()) if (!live.has(id)) this.watcher.drop(id);
      for (const cluster of clusters) engines += await this.reconcile(cluster);
    } catch (err) {
      this.o.logger.error({ err }, 'reconcile pass failed');
    }
    if (this.first) this.o.logger.info({ running_engines: engines }, 're-adopted running engines');
    this.first = false;
  }

  /** Returns how many of the cluster's processes run. */
  private async reconcile(cluster: Cluster): Promise<number> {
    const { store, driver } = this.o;
    if (cluster.serviceState !== 'RUNNING' && cluster.serviceState !== 'ERROR') {
      this.watcher.drop(cluster.id);
      return 0;
    }
    // An operation in progress owns the cluster; it sets the states when it ends. Backups and
    // backup settings change no process, so the reconciler goes on beside them.
    const active = await store.activeRequest(cluster.id);
    if (active && !runsBesideTheWorkload(active.operation)) return 0;
    const detail = await store.clusterDetail(null, cluster.id);
    if (!detail) return 0;
    const nodes = clusterNodes(detail, await store.clusterSecrets(cluster.id), this.o.sentinelTimings ?? DEFAULT_SENTINEL_TIMINGS);
    const at = () => this.o.clock.now().toISOString();

    if (!cluster.haEnabled) {
      if (cluster.serviceState !== 'RUNNING') return 0;
      const dead: NodeSpec[] = [];
      for (const n of nodes.data) if (!(await driver.isRunning(n))) dead.push(n);
      if (dead.length === 0) return nodes.data.length;
      // Only if nothing else changed the cluster meanwhile (a stop, say).
      if (!(await store.compareAndSetClusterState(cluster.id, 'RUNNING', 'ERROR', at()))) return 0;
      for (const n of dead) {
        await store.setInstanceState(n.instanceId, 'ERROR');
        const name = detail.instances.find((i) => i.id === n.instanceId)?.name;
        await store.addEvent(cluster.id, null, `engine process of instance ${name} is not running; cluster is ERROR (Start or Restart it)`, at());
      }
      return nodes.data.length - dead.length;
    }

    this.watcher.ensure(cluster.id, nodes.sentinels);
    const obs = await observe(nodes);
    const applied = await applyObservation(store, detail, obs, { at: at(), previous: cluster.serviceState, setClusterState: true });
    for (const c of applied.changes) await store.addEvent(cluster.id, null, c, at());
    if (applied.changes.length > 0) this.o.onTopologyChange?.();
    await this.heal(cluster, obs.primary, nodes.data.filter((n) => !obs.data.find((d) => d.node === n)?.info), nodes.sentinels);
    return obs.data.filter((d) => d.info).length + obs.sentinels.filter((s) => s.alive).length;
  }

  private async heal(cluster: Cluster, primary: NodeSpec | null, deadData: NodeSpec[], sentinels: NodeSpec[]): Promise<void> {
    const healAfter = this.o.healAfterMs ?? 0;
    if (healAfter <= 0 || !primary) return;
    const now = Date.now();
    const candidates = [...deadData, ...sentinels];
    for (const n of candidates) {
      // A process that runs (a data node may just be too busy to answer) is left alone.
      if (await this.o.driver.isRunning(n)) {
        this.deadSince.delete(n.nodeId);
        continue;
      }
      const since = this.deadSince.get(n.nodeId) ?? now;
      this.deadSince.set(n.nodeId, since);
      if (now - since < healAfter) continue;
      const node = n.kind === 'data' ? { ...n, replicaOf: { ip: primary.ip, port: primary.port } } : { ...n, sentinel: { ...n.sentinel!, master: { ip: primary.ip, port: primary.port } } };
      try {
        await this.o.driver.configure(node);
        await this.o.driver.launch(node);
        this.deadSince.delete(n.nodeId);
        await this.o.store.addEvent(cluster.id, null, `restarted the dead ${n.kind === 'data' ? 'data node' : 'Sentinel'} on ${n.ip}:${n.port}${n.kind === 'data' ? ' as a replica of the primary' : ''}`, this.o.clock.now().toISOString());
        this.o.logger.info({ cluster_id: cluster.id, node: n.nodeId }, 'healed a dead node');
      } catch (err) {
        this.o.logger.warn({ cluster_id: cluster.id, node: n.nodeId, err: String(err) }, 'healing a node failed');
      }
    }
  }
}
