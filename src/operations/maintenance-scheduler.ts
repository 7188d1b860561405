// Opens maintenance windows on the schedule's clock: every look releases waiting work whose
// window is open (or whose cluster has no window any more), and reads the installed engines'
// versions again, so a newer patch (e.g. after `apt-get upgrade`) gets an upgrade request for
// each cluster that runs an older one. A look also follows every finished request of a cluster
// (Unset Maintenance releases its waiting work at once). The decisions are the domain's
// (maintenance-service.ts, maintenance-window.ts).
import type { EngineVersion } from '../domain/catalog.js';
import type { MaintenanceService, Release } from '../domain/maintenance-service.js';
import type { Logger } from './worker.js';

export interface MaintenanceSchedulerOptions {
  maintenance: MaintenanceService;
  logger: Logger;
  intervalMs: number;
  /** The installed engines, read again from their binaries. */
  refreshEngines: () => Promise<EngineVersion[]>;
}

export interface MaintenanceLook {
  released: Record<string, Release>;
  /** Engine upgrade requests submitted. */
  upgrades: string[];
}

export class MaintenanceScheduler {
  private timer: NodeJS.Timeout | null = null;
  private first: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Looks at single clusters in progress (stop waits for them, so none outlives the store). */
  private readonly checks = new Set<Promise<unknown>>();
  private running: Promise<MaintenanceLook> | null = null;

  constructor(private readonly o: MaintenanceSchedulerOptions) {}

  start(): void {
    // Started again after a stop when this process leads again (leader-election.ts).
    this.stopped = false;
    if (this.o.intervalMs <= 0 || this.timer) return;
    const look = () => void this.tick().catch((err: unknown) => this.o.logger.error({ err }, 'maintenance check failed'));
    this.timer = setInterval(look, this.o.intervalMs);
    this.timer.unref();
    // A first look right after start: work whose window opened while the service was down runs now.
    this.first = setTimeout(look, 0);
    this.first.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = null;
    this.first = null;
    await this.running?.catch(() => undefined);
    await Promise.allSettled([...this.checks]);
  }

  /** One look at every cluster. Never overlaps itself. */
  async tick(): Promise<MaintenanceLook> {
    while (this.running) await this.running.catch(() => undefined);
    const pass = (async () => {
      const released = await this.o.maintenance.release(null);
      const upgrades = await this.o.maintenance.upgradeTick(await this.o.refreshEngines());
      return { released, upgrades };
    })();
    this.running = pass;
    try {
      return await pass;
    } finally {
      this.running = null;
    }
  }

  /** A look at one cluster's waiting work (after one of its requests finished). */
  checkCluster(clusterId: string): void {
    if (this.stopped) return;
    const p = this.o.maintenance
      .release(clusterId)
      .catch((err: unknown) => this.o.logger.error({ err, cluster_id: clusterId }, 'releasing waiting work failed'))
      .finally(() => this.checks.delete(p));
    this.checks.add(p);
  }
}
