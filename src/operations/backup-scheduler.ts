// Fires scheduled backups and retention. Every tick looks at each cluster with a backup option
// and submits what is owed (domain/backup-schedule.ts decides). The unique (cluster, slot) index
// makes two service replicas ticking at once submit one backup, not two.
import type { BackupService } from '../domain/backup-service.js';
import type { Clock, Store } from '../domain/ports.js';
import type { Logger } from './worker.js';

export interface BackupSchedulerOptions {
  store: Store;
  backups: BackupService;
  /** The schedule's own clock: tests move it to a backup hour without touching leases. */
  clock: Clock;
  logger: Logger;
  intervalMs: number;
}

export class BackupScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly o: BackupSchedulerOptions) {}

  start(): void {
    if (this.o.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over the clusters; returns the requests it submitted. Never overlaps itself. */
  async tick(): Promise<string[]> {
    if (this.running) {
      await this.running;
    }
    const submitted: string[] = [];
    const pass = (async () => {
      const clusters = await this.o.store.clustersInStates(['RUNNING', 'STOPPED', 'ERROR']);
      const now = this.o.clock.now();
      for (const c of clusters.filter((c) => c.backupOption)) {
        try {
          submitted.push(...(await this.o.backups.tick(c, now)));
        } catch (err) {
          this.o.logger.error({ err, cluster_id: c.id }, 'scheduling backups failed');
        }
      }
    })();
    this.running = pass;
    try {
      await pass;
    } finally {
      this.running = null;
    }
    return submitted;
  }
}
