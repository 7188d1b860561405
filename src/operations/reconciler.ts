// Keeps the API truthful about processes that live outside the service, and brings back the
// ones that died. At start it re-adopts the engines that kept running while the service was down
// and starts again those that died (a host reboot); then it repeats the check periodically,
// whenever a Sentinel reports a topology change, and when the primary watch sees an engine die.
//
// Between passes it is told rather than asking (issue 15): every data node has a liveness link
// (liveness.ts) and every Sentinel its event subscription (sentinel-watch.ts); a link that closes
// on a process the driver confirms dead is a death, handed to `onProcessDeath` (the primary watch:
// fail over a primary at once, else look at the cluster here). The periodic pass is only a safety
// net for what no event reported, so its default is long.
//
// A dead engine or Sentinel of a cluster that should run (RUNNING, or ERROR because of the death
// itself; not STOPPED, not while an operation runs, not while automatic restarts are held) is
// started again from its own files: at once, then with a backoff; a crash loop holds automatic
// restarts for the cluster until the operator's Start or Restart (domain/self-healing.ts decides).
// A dead data node of an HA cluster that has a primary comes back as its replica; an HA cluster
// whose every data node died is brought back by cluster-recovery.ts.
import { runsBesideTheWorkload } from '../domain/lifecycle.js';
import type { Cluster, ClusterDetail } from '../domain/model.js';
import type { Clock, ClusterSecrets, Store } from '../domain/ports.js';
import { refusesWrites } from '../domain/fencing.js';
import { DEFAULT_RESTART_POLICY, restartDecision, type RestartPolicy } from '../domain/self-healing.js';
import type { Driver, NodeSpec } from '../drivers/driver.js';
import { NodeStartError, recoverWholeCluster, startNode } from './cluster-recovery.js';
import { clusterNodes, DEFAULT_SENTINEL_TIMINGS, masterName, type ClusterNodes, type SentinelTimings } from './nodes.js';
import { DiskAlarms } from './disk-alarms.js';
import { ProcessLinks } from './liveness.js';
import { SentinelWatcher } from './sentinel-watch.js';
import { diskErrorLines, diskVerdicts } from './disk-watch.js';
import { applyObservation, observe, type Observation } from './topology.js';
import type { Logger } from './worker.js';
import type { OperationsMetrics } from './service-metrics.js';

export interface ReconcilerOptions {
  store: Store;
  driver: Driver;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** The first wait of the restart backoff (README); 0 turns automatic restarts off. */
  healAfterMs?: number;
  sentinelTimings?: SentinelTimings;
  /** Called when a reconcile recorded a change of roles or states. */
  onTopologyChange?: () => void;
  /** A watched process died (confirmed by the driver); without it, the cluster is looked at. */
  onProcessDeath?: (node: NodeSpec, cluster: WatchedCluster) => void;
  /**
   * Whether this process may act on engines now (it leads: leader-election.ts); asked before each
   * look, so a leader that stalled past its lease does nothing before its duties are stopped.
   */
  mayAct?: () => boolean;
  /** What it finds, counted for GET /metrics. */
  metrics?: Pick<OperationsMetrics, 'finding'>;
}

/** What the watch knows of a cluster, as of the last look at it. */
export interface WatchedCluster {
  nodes: ClusterNodes;
  name: string;
  ha: boolean;
}

/** A cluster not settled (a replica copying, a live process not answering) is looked at again this often. */
const SYNCING_LOOK_MS = 1000;
/** A primary refusing writes for want of replicas is looked at this often, to say when it accepts again. */
const REFUSING_LOOK_MS = 5000;

type Outcome = 'started' | 'waiting' | 'failed' | 'gave-up';

/** One node's deaths and the starts the service made (deadSince null: seen running since). */
interface Tracked {
  deadSince: number | null;
  starts: number[];
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private readonly perCluster = new Map<string, Promise<void>>();
  /** Restart history per `<cluster id>/<node id>` (or `<cluster id>/all` for a whole HA cluster). */
  private readonly history = new Map<string, Tracked>();
  /** A check of the cluster owed when its backoff ends. */
  private readonly wakeups = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly policy: RestartPolicy | null;
  private stopped = false;
  readonly watcher: SentinelWatcher;
  readonly links: ProcessLinks;
  private readonly diskAlarms: DiskAlarms;
  private readonly watched = new Map<string, WatchedCluster>();
  private first = true;
  /** Data nodes seen with a full disk (`<cluster id>/<instance id>`), so each change is said once. */
  private readonly diskFull = new Set<string>();
  /** Clusters whose primary was seen refusing writes for want of replicas (its fence). */
  private readonly refusing = new Set<string>();

  constructor(private readonly o: ReconcilerOptions) {
    // A Sentinel subscription that closes: a death if the driver finds the Sentinel gone.
    const sentinelClosed = (node: NodeSpec) =>
      void o.driver.isRunning(node).then((running) => (running ? undefined : this.died(node)), () => undefined);
    this.watcher = new SentinelWatcher((id) => void this.checkCluster(id), o.logger, undefined, undefined, sentinelClosed);
    this.links = new ProcessLinks({ isRunning: (n) => o.driver.isRunning(n), onDeath: (n) => this.died(n), logger: o.logger });
    this.diskAlarms = new DiskAlarms({ driver: o.driver, onAlarm: (id) => void this.lookAgain(id) });
    const first = o.healAfterMs ?? 0;
    this.policy = first > 0 ? { ...DEFAULT_RESTART_POLICY, firstDelayMs: first, maxDelayMs: Math.max(first, DEFAULT_RESTART_POLICY.maxDelayMs) } : null;
  }

  start(): void {
    if (this.timer || this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.wakeups.values()) clearTimeout(w.timer);
    this.wakeups.clear();
    this.watcher.close();
    this.links.close();
    this.diskAlarms.close();
    await this.checking;
    await Promise.allSettled([...this.perCluster.values()]);
    // Another process leads from here: what this one knew is stale by the time it leads again.
    this.watched.clear();
    this.history.clear();
    this.lastFailed.clear();
    this.diskFull.clear();
    this.refusing.clear();
  }

  /** After stop(): watch and heal again (this process leads again); the caller runs check() and start(). */
  resume(): void {
    this.stopped = false;
    this.first = true;
  }

  /** One pass over every RUNNING or ERROR cluster; concurrent calls share the pass in progress. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.checking ??= this.pass().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  /** Reconciles one cluster now (after a Sentinel event, or after an operation ended). */
  checkCluster(id: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
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

  /** A fresh look at the cluster, after any look already under way (which may predate the news). */
  private async lookAgain(id: string): Promise<void> {
    if (this.stopped) return;
    await this.perCluster.get(id);
    if (!this.stopped) await this.checkCluster(id);
  }

  private async pass(): Promise<void> {
    let engines = 0;
    try {
      const clusters = await this.o.store.clustersInStates(['RUNNING', 'ERROR']);
      const live = new Set(clusters.map((c) => c.id));
      for (const id of new Set([...this.watcher.watching(), ...this.links.watching()])) if (!live.has(id)) this.unwatch(id);
      for (const cluster of clusters) {
        // One cluster at a time, through checkCluster so a check already running is shared.
        const p = this.perCluster.get(cluster.id);
        if (p) await p;
        else engines += await this.reconcileGuarded(cluster);
      }
    } catch (err) {
      this.o.logger.error({ err }, 'reconcile pass failed');
    }
    if (this.first) this.o.logger.info({ running_engines: engines }, 're-adopted running engines');
    this.first = false;
  }

  private async reconcileGuarded(cluster: Cluster): Promise<number> {
    let n = 0;
    const p = this.reconcile(cluster)
      .then((x) => void (n = x))
      .catch((err) => this.o.logger.error({ err, cluster_id: cluster.id }, 'reconcile failed'))
      .finally(() => this.perCluster.delete(cluster.id));
    this.perCluster.set(cluster.id, p);
    await p;
    return n;
  }

  /** An operation that changes processes is in progress on the cluster (not a backup). */
  private async operationRuns(clusterId: string): Promise<boolean> {
    const active = await this.o.store.activeRequest(clusterId);
    return active !== undefined && !runsBesideTheWorkload(active.operation);
  }

  private at(): string {
    return this.o.clock.now().toISOString();
  }

  /** Returns how many of the cluster's processes run. */
  private async reconcile(cluster: Cluster): Promise<number> {
    const { store } = this.o;
    if (this.stopped || (this.o.mayAct && !this.o.mayAct())) return 0;
    if (cluster.serviceState !== 'RUNNING' && cluster.serviceState !== 'ERROR') {
      this.unwatch(cluster.id);
      this.forget(cluster.id);
      return 0;
    }
    // An operation in progress owns the cluster; it sets the states when it ends. Backups and
    // backup settings change no process, so the reconciler goes on beside them.
    if (await this.operationRuns(cluster.id)) {
      this.forget(cluster.id);
      return 0;
    }
    const detail = await store.clusterDetail(null, cluster.id);
    if (!detail) return 0;
    const secrets = await store.clusterSecrets(cluster.id);
    const nodes = clusterNodes(detail, secrets, this.o.sentinelTimings ?? DEFAULT_SENTINEL_TIMINGS);
    const healing = this.policy !== null && (await store.autoRestartHold(cluster.id)) === null;
    this.watch(cluster, detail, nodes);
    if (!cluster.haEnabled) return this.reconcileStandalone(cluster, detail, nodes, healing);

    const full = await this.lookAtDisks(cluster, detail, nodes);
    let obs = await this.observeAndRecord(detail, cluster.serviceState, nodes, full);
    // Nothing tells when a replica has finished copying its primary, or when a process that runs
    // but did not answer (a busy machine, a hung engine) answers again: look again until then,
    // rather than leave its state wrong until the next full pass.
    const fence = await this.noteFence(cluster, detail, obs);
    if (fence === 'soon' || (await this.unsettled(obs))) this.wakeAt(cluster.id, Date.now() + SYNCING_LOOK_MS);
    else if (fence === 'refusing') this.wakeAt(cluster.id, Date.now() + REFUSING_LOOK_MS);
    if (healing && (await this.healHa(cluster, detail, nodes, obs, secrets))) {
      // The whole cluster was started again: record what runs now.
      const fresh = await store.clusterDetail(null, cluster.id);
      const current = await store.findCluster(null, cluster.id);
      if (fresh && current) obs = await this.observeAndRecord(fresh, current.serviceState, clusterNodes(fresh, secrets, this.o.sentinelTimings ?? DEFAULT_SENTINEL_TIMINGS));
    }
    return obs.data.filter((d) => d.info).length + obs.sentinels.filter((s) => s.alive).length;
  }

  /**
   * An event when the primary starts refusing writes for want of replicas (its fence: README,
   * Partitions and fencing), and when it accepts them again. Returns 'refusing' while it refuses,
   * 'soon' while it still accepts with too few live linked replicas (it refuses within the
   * fence's bound: look again shortly so the event is not missed), else 'accepting'.
   */
  private async noteFence(cluster: Cluster, detail: ClusterDetail, obs: Observation): Promise<'refusing' | 'soon' | 'accepting'> {
    const p = obs.primary && obs.data.find((d) => d.node === obs.primary);
    const min = Number(p?.node.parameters?.['min-replicas-to-write'] ?? 0);
    const refusing = p?.info ? refusesWrites(p.info.goodReplicas, min) : false;
    const linked = obs.data.filter((d) => d.info?.role === 'slave' && d.info.linkUp && d.info.masterHost === p?.node.ip).length;
    const name = detail.instances.find((i) => i.id === p?.node.instanceId)?.name;
    if (refusing && !this.refusing.has(cluster.id)) {
      this.refusing.add(cluster.id);
      const lag = p!.node.parameters?.['min-replicas-max-lag'];
      await this.o.store.addEvent(
        cluster.id,
        null,
        `the primary ${name} refuses writes (NOREPLICAS): fewer than ${min} replica(s) acknowledged it within ${lag} s; ` +
          `it is fenced so that no write it acknowledges can be lost to a failover; it accepts writes again when a replica is linked`,
        this.at(),
      );
    } else if (!refusing && this.refusing.delete(cluster.id) && p?.info) {
      await this.o.store.addEvent(cluster.id, null, `the primary ${name} accepts writes again: enough replicas are linked to it`, this.at());
    }
    if (refusing) return 'refusing';
    return p?.info?.goodReplicas !== undefined && linked < min ? 'soon' : 'accepting';
  }

  /** A replica still copying its primary, or a process that runs but did not answer. */
  private async unsettled(obs: Observation): Promise<boolean> {
    if (obs.primary && obs.data.some((d) => d.info?.role === 'slave' && !d.info.linkUp)) return true;
    for (const n of [...obs.data.filter((d) => !d.info).map((d) => d.node), ...obs.sentinels.filter((x) => !x.alive).map((x) => x.node)]) {
      if (await this.o.driver.isRunning(n)) return true;
    }
    return false;
  }

  /** Keeps a liveness link to every process of the cluster (links that are down are tried again). */
  private watch(cluster: Cluster, detail: ClusterDetail, nodes: ClusterNodes): void {
    this.watched.set(cluster.id, { nodes, name: masterName(detail), ha: cluster.haEnabled });
    if (cluster.haEnabled) this.watcher.ensure(cluster.id, nodes.sentinels);
    this.links.ensure(cluster.id, nodes.data);
    if (this.o.driver.volumesUnavailable === null) this.diskAlarms.ensure(cluster.id, nodes.data);
  }

  private unwatch(clusterId: string): void {
    this.watcher.drop(clusterId);
    this.links.drop(clusterId);
    this.diskAlarms.drop(clusterId);
    this.watched.delete(clusterId);
  }

  /** A watched process died. */
  private died(node: NodeSpec): void {
    if (this.stopped) return;
    const cluster = this.watched.get(node.clusterId);
    if (cluster && this.o.onProcessDeath) this.o.onProcessDeath(node, cluster);
    else void this.checkCluster(node.clusterId);
  }

  private async observeAndRecord(detail: ClusterDetail, previous: Cluster['serviceState'], nodes: ClusterNodes, diskFull?: Set<string>): Promise<Observation> {
    const obs = await observe(nodes);
    const applied = await applyObservation(this.o.store, detail, obs, { at: this.at(), previous, setClusterState: true, diskFull });
    for (const c of applied.changes) await this.o.store.addEvent(detail.cluster.id, null, c, this.at());
    for (const f of applied.findings) this.o.metrics?.finding(f);
    if (applied.changes.length > 0) this.o.onTopologyChange?.();
    return obs;
  }

  private async reconcileStandalone(cluster: Cluster, detail: ClusterDetail, nodes: ClusterNodes, healing: boolean): Promise<number> {
    const { store, driver } = this.o;
    const dead: NodeSpec[] = [];
    for (const n of nodes.data) {
      if (await driver.isRunning(n)) this.sawAlive(cluster.id, n);
      else dead.push(n);
    }
    const name = (n: NodeSpec) => detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
    if (dead.length === 0) {
      const full = await this.lookAtDisks(cluster, detail, nodes);
      if (full.size > 0) {
        if (cluster.serviceState === 'RUNNING' && (await store.compareAndSetClusterState(cluster.id, 'RUNNING', 'ERROR', this.at()))) {
          for (const id of full) await store.setInstanceState(id, 'ERROR');
          await store.addEvent(cluster.id, null, 'cluster is ERROR: its data volume is full and the engine refuses writes', this.at());
        }
        return nodes.data.length;
      }
      const wasFull = this.diskFull.delete(`${cluster.id}/`);
      if (cluster.serviceState === 'ERROR' && wasFull) {
        // It was ERROR because its disk was full, and the engine writes again.
        await this.markRunning(cluster.id, nodes.data);
        return nodes.data.length;
      }
      // Started again by an earlier look (or by hand) and serving: the ERROR that the death
      // caused is over. An ERROR an operation left stays until the operator acts.
      if (cluster.serviceState === 'ERROR' && healing && (await Promise.all(nodes.data.map((n) => driver.isHealthy(n)))).every(Boolean)) {
        await this.markRunning(cluster.id, nodes.data);
      }
      return nodes.data.length;
    }
    if (cluster.serviceState === 'RUNNING') {
      // Only if nothing else changed the cluster meanwhile (a stop, say).
      if (!(await store.compareAndSetClusterState(cluster.id, 'RUNNING', 'ERROR', this.at()))) return 0;
      for (const n of dead) {
        await store.setInstanceState(n.instanceId, 'ERROR');
        this.o.metrics?.finding('engine-not-running');
        const then = healing ? 'starting it again from its data' : 'cluster is ERROR (Start or Restart it)';
        await store.addEvent(cluster.id, null, `engine process of instance ${name(n)} is not running; ${then}`, this.at());
      }
    }
    if (!healing) return nodes.data.length - dead.length;
    const outcomes: Outcome[] = [];
    for (const n of dead) outcomes.push(await this.restart(cluster, n, n, `the engine of instance ${name(n)}`, true, ' from its data'));
    if (outcomes.every((o) => o === 'started')) await this.markRunning(cluster.id, nodes.data);
    return nodes.data.length - outcomes.filter((o) => o !== 'started').length;
  }

  /**
   * Which data nodes have a full disk now (instance ids); an event when a node's disk becomes
   * full (with the engine's own log lines) and when it has room again.
   */
  private async lookAtDisks(cluster: Cluster, detail: ClusterDetail, nodes: ClusterNodes): Promise<Set<string>> {
    const full = new Set<string>();
    if (this.o.driver.volumesUnavailable !== null) return full;
    const verdicts = await diskVerdicts(this.o.driver, nodes.data);
    for (const n of nodes.data) {
      const v = verdicts.get(n.instanceId);
      const key = `${cluster.id}/${n.instanceId}`;
      const name = detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
      if (v?.full) {
        full.add(n.instanceId);
        if (this.diskFull.has(key)) continue;
        this.diskFull.add(key);
        this.o.metrics?.finding('disk-full');
        // Remembered for the cluster too: a standalone cluster made ERROR by it goes back to RUNNING.
        this.diskFull.add(`${cluster.id}/`);
        const lines = await diskErrorLines(this.o.driver, n);
        await this.o.store.addEvent(
          cluster.id,
          null,
          `instance ${name}: ${v.detail}${lines.length ? `; the engine says: ${lines.join(' | ')}` : ''}. ` +
            `Grow its DATA block storage group (Set Block Storage Size) or delete data`,
          this.at(),
        );
        this.o.logger.warn({ cluster_id: cluster.id, node: n.nodeId }, 'data volume full');
      } else if (v && this.diskFull.delete(key)) {
        this.o.metrics?.finding('disk-has-room');
        await this.o.store.addEvent(cluster.id, null, `instance ${name}: its data volume has room again (${v.detail}); the engine writes again`, this.at());
      }
    }
    return full;
  }

  private async markRunning(clusterId: string, data: NodeSpec[]): Promise<void> {
    if (!(await this.o.store.compareAndSetClusterState(clusterId, 'ERROR', 'RUNNING', this.at()))) return;
    for (const n of data) await this.o.store.setInstanceState(n.instanceId, 'RUNNING');
    await this.o.store.addEvent(clusterId, null, 'cluster is RUNNING', this.at());
    this.o.onTopologyChange?.();
  }

  /** Returns true when it started the whole cluster again. */
  private async healHa(cluster: Cluster, detail: ClusterDetail, nodes: ClusterNodes, obs: Observation, secrets: ClusterSecrets): Promise<boolean> {
    const { driver } = this.o;
    const name = (n: NodeSpec) => detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
    // A process that runs (a data node may just be too busy to answer) is left alone.
    const deadData: NodeSpec[] = [];
    for (const d of obs.data) {
      if (d.info || (await driver.isRunning(d.node))) this.sawAlive(cluster.id, d.node);
      else deadData.push(d.node);
    }
    const deadSentinels: NodeSpec[] = [];
    for (const s of obs.sentinels) {
      if (s.alive || (await driver.isRunning(s.node))) this.sawAlive(cluster.id, s.node);
      else deadSentinels.push(s.node);
    }
    if (deadData.length > 0 && deadData.length === nodes.data.length) return this.recoverAll(cluster, detail, nodes, secrets);
    this.sawAliveKey(`${cluster.id}/all`);
    const primary = obs.primary;
    // Without a primary, live replicas wait for Sentinel to promote one: a dead node started now
    // could not know whom to follow. Dead Sentinels come back so that the failover can happen.
    if (primary) {
      for (const n of deadData) {
        const spec = { ...n, replicaOf: { ip: primary.ip, port: primary.port } };
        await this.restart(cluster, n, spec, `data node ${name(n)}`, false, ' from its data as a replica of the primary');
      }
    }
    for (const s of deadSentinels) {
      const spec = primary ? { ...s, sentinel: { ...s.sentinel!, master: { ip: primary.ip, port: primary.port } } } : s;
      const label = s.nodeId === s.instanceId ? `the Sentinel of instance ${name(s)}` : `the Sentinel beside instance ${name(s)}`;
      await this.restart(cluster, s, spec, label, false, primary ? ', watching the primary' : '');
    }
    return false;
  }

  /**
   * Starts one dead node again when the backoff allows; gives up after a crash loop. `stopsCluster`:
   * the cluster serves nothing without this node (a standalone engine), so giving up leaves it ERROR.
   */
  private async restart(cluster: Cluster, node: NodeSpec, spec: NodeSpec, label: string, stopsCluster: boolean, as: string): Promise<Outcome> {
    const policy = this.policy!;
    const key = `${cluster.id}/${node.nodeId}`;
    const now = Date.now();
    const h = this.deadSeen(key, now);
    const d = restartDecision({ deadSince: h.deadSince ?? now, starts: h.starts }, now, policy);
    if (d.kind === 'wait') {
      this.wakeAt(cluster.id, d.untilMs);
      return 'waiting';
    }
    if (d.kind === 'give-up') {
      await this.giveUp(cluster, node, label, d.starts, stopsCluster);
      return 'gave-up';
    }
    // An operation begun since this look owns the cluster now (a Stop must not race a start).
    if (await this.operationRuns(cluster.id)) return 'waiting';
    h.starts.push(now);
    try {
      await startNode(this.o.driver, spec);
      h.deadSince = null;
      await this.o.store.addEvent(cluster.id, null, `started ${label} again${as}${d.attempt > 1 ? ` (start ${d.attempt})` : ''}`, this.at());
      this.o.logger.info({ cluster_id: cluster.id, node: node.nodeId, attempt: d.attempt }, 'restarted a dead node');
      this.o.metrics?.finding('node-restarted');
      // A start that does not last is seen at the next look; make it soon.
      this.wakeAt(cluster.id, now + policy.firstDelayMs);
      return 'started';
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      await this.o.store.addEvent(cluster.id, null, `starting ${label} again failed (start ${d.attempt}): ${msg}`, this.at());
      this.o.logger.warn({ cluster_id: cluster.id, node: node.nodeId, err: msg }, 'restarting a dead node failed');
      this.o.metrics?.finding('node-restart-failed');
      this.wakeNext(cluster.id, h, now);
      return 'failed';
    }
  }

  /** Returns true when it started processes (whether or not all of them came up). */
  private async recoverAll(cluster: Cluster, detail: ClusterDetail, nodes: ClusterNodes, secrets: ClusterSecrets): Promise<boolean> {
    const policy = this.policy!;
    const key = `${cluster.id}/all`;
    const now = Date.now();
    const h = this.deadSeen(key, now);
    const d = restartDecision({ deadSince: h.deadSince ?? now, starts: h.starts }, now, policy);
    if (d.kind === 'wait') {
      this.wakeAt(cluster.id, d.untilMs);
      return false;
    }
    const name = (n: NodeSpec) => detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
    if (d.kind === 'give-up') {
      const culprit = this.lastFailed.get(key) ?? nodes.data.find((n) => n.replicaOf === null) ?? nodes.data[0];
      await this.giveUp(cluster, culprit, `the data nodes (${name(culprit)} as the primary)`, d.starts, true);
      return false;
    }
    if (await this.operationRuns(cluster.id)) return false;
    h.starts.push(now);
    await this.o.store.addEvent(cluster.id, null, 'every data node of the cluster is down; choosing the primary from what each one stored, before any of them starts', this.at());
    try {
      const r = await recoverWholeCluster({ store: this.o.store, driver: this.o.driver, timings: this.o.sentinelTimings ?? DEFAULT_SENTINEL_TIMINGS, nowMs: now }, detail, nodes, secrets);
      h.deadSince = null;
      this.lastFailed.delete(key);
      const others = nodes.data.filter((n) => n.nodeId !== r.primary.nodeId).map(name);
      await this.o.store.addEvent(
        cluster.id,
        null,
        `started the cluster again from its data: ${name(r.primary)} is the primary (${r.choice.why})` +
          `${others.length ? `, ${others.join(' and ')} its replica${others.length > 1 ? 's' : ''}` : ''}; Sentinels restored with epoch ${r.epoch}`,
        this.at(),
      );
      for (const p of r.problems) await this.o.store.addEvent(cluster.id, null, p, this.at());
      this.o.logger.info({ cluster_id: cluster.id, primary: r.primary.nodeId }, 'started a whole HA cluster again');
      this.o.metrics?.finding('cluster-recovered');
      this.wakeAt(cluster.id, now + policy.firstDelayMs);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (err instanceof NodeStartError) this.lastFailed.set(key, err.node);
      await this.o.store.addEvent(cluster.id, null, `starting the cluster again failed (start ${d.attempt}): ${msg}`, this.at());
      this.o.logger.warn({ cluster_id: cluster.id, err: msg }, 'restarting a whole HA cluster failed');
      this.o.metrics?.finding('cluster-recovery-failed');
      this.wakeNext(cluster.id, h, now);
    }
    return true;
  }

  /** The node whose start failed last in a whole-cluster recovery, for its log lines. */
  private readonly lastFailed = new Map<string, NodeSpec>();

  private async giveUp(cluster: Cluster, node: NodeSpec, label: string, starts: number, stopsCluster: boolean): Promise<void> {
    const { store, driver } = this.o;
    const lines = await driver.lastLogLines(node, 5).catch(() => []);
    const minutes = Math.round(this.policy!.windowMs / 60_000);
    const reason = `${label} did not stay up after ${starts} starts within ${minutes} min; its last log lines: ${lines.length ? lines.join(' | ') : '(none)'}`;
    await store.holdAutoRestart(cluster.id, `crash loop: ${reason}`, this.at());
    if (stopsCluster) await store.compareAndSetClusterState(cluster.id, 'RUNNING', 'ERROR', this.at());
    if (node.kind === 'data' || node.nodeId === node.instanceId) await store.setInstanceState(node.instanceId, 'ERROR');
    await store.addEvent(cluster.id, null, `gave up restarting: ${reason}. Automatic restarts of this cluster stop until it is started or restarted`, this.at());
    this.o.logger.warn({ cluster_id: cluster.id, node: node.nodeId }, 'crash loop: gave up restarting');
    this.o.metrics?.finding('crash-loop');
    this.forget(cluster.id);
  }

  private deadSeen(key: string, now: number): Tracked {
    let h = this.history.get(key);
    if (!h) this.history.set(key, (h = { deadSince: now, starts: [] }));
    h.deadSince ??= now;
    h.starts = h.starts.filter((t) => now - t < this.policy!.windowMs);
    return h;
  }

  private sawAlive(clusterId: string, n: NodeSpec): void {
    this.sawAliveKey(`${clusterId}/${n.nodeId}`);
  }

  private sawAliveKey(key: string): void {
    const h = this.history.get(key);
    if (h) h.deadSince = null;
  }

  /** Drops what is remembered of a cluster (stopped, terminated, or an operation took it over). */
  private forget(clusterId: string): void {
    for (const k of [...this.history.keys()]) if (k.startsWith(`${clusterId}/`)) this.history.delete(k);
    for (const k of [...this.lastFailed.keys()]) if (k.startsWith(`${clusterId}/`)) this.lastFailed.delete(k);
    const w = this.wakeups.get(clusterId);
    if (w) clearTimeout(w.timer);
    this.wakeups.delete(clusterId);
  }

  /** After a failed start: look again when the next start is due, or at once to give up. */
  private wakeNext(clusterId: string, h: Tracked, now: number): void {
    const next = restartDecision({ deadSince: h.deadSince ?? now, starts: h.starts }, now, this.policy!);
    this.wakeAt(clusterId, next.kind === 'wait' ? next.untilMs : now);
  }

  private wakeAt(clusterId: string, atMs: number): void {
    if (this.stopped) return;
    const current = this.wakeups.get(clusterId);
    if (current && current.at <= atMs) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => {
      this.wakeups.delete(clusterId);
      // A look already running may have begun before the moment this one is owed: look after it.
      void (this.perCluster.get(clusterId) ?? Promise.resolve()).then(() => (this.stopped ? undefined : this.checkCluster(clusterId)));
    }, Math.max(0, atMs - Date.now()));
    timer.unref();
    this.wakeups.set(clusterId, { at: atMs, timer });
  }
}
