// Maintenance windows: Set / Unset Maintenance (requests in the ledger, like Set / Unset
// Backup), the release of work that waits for a window, and the engine patch upgrades that
// the schedule submits. Which work waits, and when it runs, is decided by maintenance-window.ts;
// README "Maintenance windows" has the rules.
import type { EngineVersion } from './catalog.js';
import { notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { InvalidStateError } from './errors.js';
import { TRANSITIONS } from './lifecycle.js';
import { describeWindow, dueAction, hasWindow, isNewerPatch, optionFromSetBody, waitingLabel, type SetMaintenanceBody } from './maintenance-window.js';
import type { Cluster, OperationRequest } from './model.js';
import { UniqueViolation, type Clock, type Store } from './ports.js';
import type { Principal } from './principal.js';

/** Who the schedule's requests are recorded as (the same user as scheduled backups). */
const SCHEDULER_USER = 'cachestore-scheduler';

export interface MaintenanceServiceDeps {
  store: Store;
  clusters: ClusterService;
  /** The schedule's clock: windows open on it. */
  clock: Clock;
  /** Called when waiting work was released, so a worker takes it at once. */
  onReleased: () => void;
}

/** What happened to one waiting request at a look. */
export type Release = 'released' | 'waiting' | 'failed';

export class MaintenanceService {
  constructor(private readonly deps: MaintenanceServiceDeps) {}

  private async cluster(p: Principal, id: string): Promise<Cluster> {
    const c = await this.deps.store.findCluster(p.accountId, id);
    if (!c) throw notFound(id);
    return c;
  }

  async set(p: Principal, id: string, body: SetMaintenanceBody): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    // Throws a 400 naming the field.
    const option = optionFromSetBody(body);
    return this.deps.clusters.begin(p, cluster, 'set-maintenance', { option });
  }

  /** No window any more: work that waits for one runs at once (once this request completed). */
  async unset(p: Principal, id: string): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    return this.deps.clusters.begin(p, cluster, 'unset-maintenance', null);
  }

  /**
   * One look at the waiting work of a cluster (every cluster: null): each request whose window
   * is open now, or whose cluster has no window any more, is released to the workers.
   */
  async release(clusterId: string | null): Promise<Record<string, Release>> {
    const out: Record<string, Release> = {};
    for (const r of await this.deps.store.parkedRequests(clusterId)) {
      try {
        out[r.id] = await this.releaseOne(r);
      } catch (err) {
        // Busy (another request of the cluster is active): it is looked at again.
        if (!(err instanceof UniqueViolation)) throw err;
        out[r.id] = 'waiting';
      }
    }
    return out;
  }

  private async releaseOne(r: OperationRequest): Promise<Release> {
    const { store } = this.deps;
    const now = this.deps.clock.now();
    const at = now.toISOString();
    const detail = await store.clusterDetail(null, r.clusterId);
    const cluster = detail?.cluster;
    const action = dueAction(cluster?.serviceState ?? null, now, cluster?.timezone ?? 'UTC', cluster?.maintenanceOption ?? null);
    if (action === 'fail-gone' || !cluster) {
      await store.finishRequest(r.id, 'FAILED', `the cluster was ${cluster?.serviceState ?? 'removed'} before its maintenance window; nothing was applied`, at);
      return 'failed';
    }
    const option = cluster.maintenanceOption;
    if (action === 'wait') {
      // The window may have changed since the request was recorded: it shows the one it waits for.
      const label = waitingLabel(cluster.timezone, option!);
      if (r.step !== label) await store.setParkedStep(r.id, label, at);
      return 'waiting';
    }
    if (action === 'fail-stopped') {
      const why = `cluster '${cluster.name}' is STOPPED; ${r.operation} needs it RUNNING. Nothing was applied: send the request again once it runs`;
      await store.finishRequest(r.id, 'FAILED', why, at);
      await store.addEvent(cluster.id, r.id, `${r.operation} failed: ${why}`, at);
      return 'failed';
    }
    const windowed = hasWindow(option);
    // The rolling restart ends with the node that is primary now, not the one when it was asked.
    const payload = r.payload && 'primary' in r.payload ? { ...r.payload, primary: detail!.instances.find((i) => i.roleType === 'MASTER')?.id ?? null } : (r.payload ?? null);
    // Another request runs, or the cluster is ERROR: it waits for the next look.
    if (!(await store.unparkRequest(r.id, cluster.id, TRANSITIONS[r.operation].during, payload, at))) return 'waiting';
    await store.addEvent(
      cluster.id,
      r.id,
      windowed ? `maintenance window ${describeWindow(cluster.timezone, option)} is open: ${r.operation} runs now` : `no maintenance window set: ${r.operation} runs now`,
      at,
    );
    this.deps.onReleased();
    return 'released';
  }

  /**
   * Engine patch upgrades: each RUNNING cluster whose engine is installed in a newer patch of
   * the version it runs gets an upgrade request (a rolling restart onto it), in its window.
   * Returns the requests submitted; a busy cluster is tried at the next look.
   */
  async upgradeTick(installed: EngineVersion[]): Promise<string[]> {
    const { store } = this.deps;
    const submitted: string[] = [];
    for (const cluster of await store.clustersInStates(['RUNNING'])) {
      const newer = installed.find((v) => v.engine === cluster.engine && isNewerPatch(v.softwareVersion, cluster.softwareVersion));
      if (!newer) continue;
      if ((await store.parkedRequests(cluster.id)).some((r) => r.operation === 'upgrade-engine')) continue;
      const active = await store.activeRequest(cluster.id);
      if (active) continue;
      const p: Principal = { accountId: cluster.accountId, userId: SCHEDULER_USER };
      const detail = await store.clusterDetail(null, cluster.id);
      const primary = detail?.instances.find((i) => i.roleType === 'MASTER')?.id ?? null;
      try {
        const r = await this.deps.clusters.beginInWindow(p, cluster, 'upgrade-engine', { from: cluster.softwareVersion, to: newer.softwareVersion, primary }, true);
        await store.addEvent(cluster.id, r.requestId, `engine ${newer.name} is installed (the cluster runs ${cluster.softwareVersion}): upgrade requested`, this.deps.clock.now().toISOString());
        submitted.push(r.requestId);
      } catch (err) {
        if (!(err instanceof InvalidStateError) && !(err instanceof UniqueViolation)) throw err;
      }
    }
    return submitted;
  }
}
