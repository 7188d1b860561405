// Keeps the API truthful about processes that live outside the service: at start it re-adopts
// the engines that kept running while the service was down, and marks those that died; then it
// repeats the same check periodically. Engines are never restarted behind the user's back.
import type { Clock, Store } from '../domain/ports.js';
import type { Driver } from '../drivers/driver.js';
import { dataNodes } from './nodes.js';
import type { Logger } from './worker.js';

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(
    private readonly o: { store: Store; driver: Driver; clock: Clock; logger: Logger; intervalMs: number },
  ) {}

  start(): void {
    if (this.timer || this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  /** One pass over every RUNNING cluster; concurrent calls share the pass in progress. */
  check(): Promise<void> {
    this.checking ??= this.pass().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async pass(): Promise<void> {
    const { store, driver, logger } = this.o;
    let adopted = 0;
    try {
      for (const cluster of await store.clustersInStates(['RUNNING'])) {
        const detail = await store.clusterDetail(null, cluster.id);
        if (!detail) continue;
        const nodes = dataNodes(detail, '');
        const dead = [];
        for (const node of nodes) {
          if (await driver.isRunning(node)) adopted++;
          else dead.push(node);
        }
        if (dead.length === 0) continue;
        const at = this.o.clock.now().toISOString();
        // Only if nothing else changed the cluster meanwhile (a stop, say).
        if (!(await store.compareAndSetClusterState(cluster.id, 'RUNNING', 'ERROR', at))) continue;
        for (const node of dead) {
          await store.setInstanceState(node.instanceId, 'ERROR');
          const name = detail.instances.find((i) => i.id === node.instanceId)?.name ?? node.instanceId;
          await store.addEvent(cluster.id, null, `engine process of instance ${name} is not running; cluster is ERROR (Start or Restart it)`, at);
        }
        logger.warn({ cluster_id: cluster.id, dead: dead.length }, 'engine processes found dead');
      }
    } catch (err) {
      logger.error({ err }, 'reconcile pass failed');
    }
    logger.info({ running_engines: adopted }, 'reconcile pass done');
  }
}
