// Listens to the Sentinels of every HA cluster, so a failover reaches the API within moments
// instead of at the next periodic reconcile: any topology event schedules a reconcile of that
// cluster (debounced), and a second one shortly after, when Sentinel has settled.
// Each subscription is also the Sentinel's liveness link (see liveness.ts): when a connection
// that was up closes, `onClosed` is told (the caller asks the driver whether the Sentinel died),
// and when it is up again after that, the cluster is looked at (events may have been missed).
import { Redis } from 'ioredis';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import type { Logger } from './worker.js';

const INTERESTING = new Set([
  '+switch-master', '+sdown', '-sdown', '+odown', '-odown', '+convert-to-slave', '+failover-end', '+slave', '+reboot',
  '-failover-abort-no-good-slave', '+failover-state-reconf-slaves',
]);

export class SentinelWatcher {
  private readonly subs = new Map<string, { key: string; clients: Redis[] }>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(
    private readonly onTopologyEvent: (clusterId: string) => void,
    private readonly logger: Logger,
    private readonly debounceMs = 100,
    private readonly settleMs = 1500,
    private readonly onClosed: (node: NodeSpec) => void = () => undefined,
  ) {}

  watching(): string[] {
    return [...this.subs.keys()];
  }

  /** Subscribes to the cluster's Sentinels (again, if they changed). */
  ensure(clusterId: string, sentinels: NodeSpec[]): void {
    const key = sentinels.map((s) => `${s.ip}:${s.port}`).sort().join(',');
    const current = this.subs.get(clusterId);
    if (current?.key === key) return;
    if (current) this.drop(clusterId);
    const clients = sentinels.map((s) => {
      const ep = endpointOf(s);
      const c = new Redis({
        host: ep.host,
        port: ep.port,
        username: ep.username,
        password: ep.password,
        connectTimeout: 1000,
        maxRetriesPerRequest: null,
        retryStrategy: (n) => Math.min(200 * n, 2000),
        // ioredis's own resubscribe after a reconnect has no rejection handler: when the
        // connection is dropped while it is in flight (a Sentinel restarting, the watch being
        // dropped) the rejection is unhandled. Subscribe on every 'ready' ourselves instead.
        autoResubscribe: false,
      });
      c.on('error', () => undefined);
      let up = false;
      let wasClosed = false;
      c.on('close', () => {
        if (!up) return; // a reconnect attempt that failed: reported when it went down
        up = false;
        wasClosed = true;
        if (this.subs.get(clusterId)?.clients.includes(c)) this.onClosed(s);
      });
      c.on('pmessage', (_pattern: string, channel: string) => {
        if (INTERESTING.has(channel)) this.schedule(clusterId);
      });
      c.on('ready', () => {
        up = true;
        if (wasClosed) this.schedule(clusterId);
        c.psubscribe('*').catch((err) => this.logger.warn({ err: String(err), sentinel: `${s.ip}:${s.port}` }, 'sentinel subscription failed'));
      });
      return c;
    });
    this.subs.set(clusterId, { key, clients });
  }

  private schedule(clusterId: string): void {
    if (this.timers.has(clusterId)) return;
    const fire = () => this.onTopologyEvent(clusterId);
    const t1 = setTimeout(fire, this.debounceMs);
    const t2 = setTimeout(() => {
      this.timers.delete(clusterId);
      fire();
    }, this.settleMs);
    this.timers.set(clusterId, [t1, t2]);
  }

  drop(clusterId: string): void {
    const current = this.subs.get(clusterId);
    if (!current) return;
    for (const c of current.clients) c.disconnect();
    this.subs.delete(clusterId);
  }

  close(): void {
    for (const id of [...this.subs.keys()]) this.drop(id);
    for (const ts of this.timers.values()) ts.forEach(clearTimeout);
    this.timers.clear();
  }
}
