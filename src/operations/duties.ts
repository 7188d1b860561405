// The duties one service process runs for all (the elected leader, leader-election.ts; with
// SQLite the only process): the watch of every engine and Sentinel with its healing and forced
// failovers (reconciler, primary watch, liveness links, Sentinel events, disk watch), the backup
// schedule and the maintenance windows. Two processes doing them at once would heal one death
// twice, fail over twice, and fight over what the store records.
//
// Every process still runs requests (worker.ts: the request's lease decides which) and applies the
// allow-lists to its machine's kernel. The leader is told of requests other processes finished by
// reading the ledger every `followMs` (it looks at their clusters, as after its own requests).
import type { Store } from '../domain/ports.js';
import type { BackupScheduler } from './backup-scheduler.js';
import type { MaintenanceScheduler } from './maintenance-scheduler.js';
import type { Reconciler } from './reconciler.js';
import type { Logger } from './worker.js';

export interface DutiesOptions {
  store: Store;
  reconciler: Reconciler;
  scheduler: BackupScheduler;
  maintenance: MaintenanceScheduler;
  logger: Logger;
  /** Ends what backup verifications interrupted by a dead process left (the driver's sweepScratch). */
  sweepScratch(): Promise<number>;
  /** How often to read the requests other processes finished; 0: there are none (SQLite). */
  followMs: number;
  now(): Date;
}

/** Finished requests looked at once more than this before the latest one seen (commits arrive out of order). */
const FOLLOW_OVERLAP_MS = 5000;

export class Duties {
  private follow: NodeJS.Timeout | null = null;
  private following: Promise<void> | null = null;
  private since = '';
  /** Requests already looked at, by id, with when they finished. */
  private readonly seen = new Map<string, string>();
  private running = false;

  constructor(private readonly o: DutiesOptions) {}

  /** Starts them: a look at every cluster first (the engines that died meanwhile are found now). */
  async take(): Promise<void> {
    this.running = true;
    // Scratch engines of a backup verification whose process died (its backup resumes elsewhere).
    const scratch = await this.o.sweepScratch().catch(() => 0);
    if (scratch > 0) this.o.logger.info({ directories: scratch }, 'removed what interrupted backup verifications left');
    this.since = this.o.now().toISOString();
    this.seen.clear();
    this.o.reconciler.resume();
    await this.o.reconciler.check();
    this.o.reconciler.start();
    this.o.scheduler.start();
    this.o.maintenance.start();
    if (this.o.followMs > 0) this.schedule();
  }

  async drop(): Promise<void> {
    this.running = false;
    if (this.follow) clearTimeout(this.follow);
    this.follow = null;
    await this.following;
    await this.o.scheduler.stop();
    await this.o.maintenance.stop();
    await this.o.reconciler.stop();
  }

  /** A request of the cluster finished (here, or in another process). */
  finished(clusterId: string): void {
    if (!this.running) return;
    void this.o.reconciler.checkCluster(clusterId);
    // Work waiting for a window may go now (Unset Maintenance, or the request that kept it waiting ended).
    this.o.maintenance.checkCluster(clusterId);
  }

  private schedule(): void {
    this.follow = setTimeout(() => {
      this.following = this.followOthers()
        .catch((err: unknown) => this.o.logger.warn({ err }, 'reading the finished requests failed'))
        .finally(() => {
          this.following = null;
          if (this.running) this.schedule();
        });
    }, this.o.followMs);
    this.follow.unref();
  }

  private async followOthers(): Promise<void> {
    const rows = await this.o.store.requestsFinishedSince(this.since);
    for (const r of rows) {
      if (this.seen.has(r.id)) continue;
      this.seen.set(r.id, r.finishedAt);
      this.finished(r.clusterId);
    }
    const latest = rows.at(-1)?.finishedAt;
    if (!latest) return;
    const since = new Date(Date.parse(latest) - FOLLOW_OVERLAP_MS).toISOString();
    if (since <= this.since) return;
    this.since = since;
    for (const [id, at] of this.seen) if (at < since) this.seen.delete(id);
  }
}
