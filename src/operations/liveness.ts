// One idle connection to each data node the service runs, so that its death is told, not polled
// (issue 15): when the engine dies the kernel closes the connection at once, and a 'close' with
// the driver confirming the process gone is a death. Nothing is sent while the engine lives (the
// connection subscribes to a channel nobody publishes on, so the engine's `timeout`, which the
// tenant may set, never closes it: subscribed clients are exempt). Sentinels need no link of
// their own: the event subscription (sentinel-watch.ts) is one, and reports its close the same way.
//
// A link that reported a death stays down until `ensure` is called for its cluster again (every
// look at the cluster does, e.g. after it started the node again); a failed revive reports
// nothing (the death was reported already), so a look and a revive can never loop.
import { Socket } from 'node:net';
import { afterClose, DEFAULT_CLOSE_POLICY, type ClosePolicy } from '../domain/liveness.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import type { Logger } from './worker.js';

/** RESP for AUTH and SUBSCRIBE, written once per connection. */
function hello(node: NodeSpec): string {
  const ep = endpointOf(node);
  const cmd = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return cmd('AUTH', ep.username ?? 'default', ep.password ?? '') + cmd('SUBSCRIBE', 'cachestore:liveness');
}

/** A link that stayed up this long is no longer counted as closed "again" when it closes. */
const STABLE_MS = 10_000;

class Link {
  socket: Socket | null = null;
  up = false;
  /**
   * What the link last knew of the process: alive until a death was reported, alive again once
   * a connection is up. A death is reported only when this turns false, so a close during a
   * reconnect is reported too, and a revive that fails is not reported twice.
   */
  private believedAlive = true;
  /** Closed by the service (dropped): no more reconnects or reports. */
  dropped = false;
  /** Asking the driver whether the process still runs, after a close. */
  private checking = false;
  private closesInARow = 0;
  private upSince = 0;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    readonly node: NodeSpec,
    private readonly isRunning: (n: NodeSpec) => Promise<boolean>,
    private readonly onDeath: (n: NodeSpec) => void,
    private readonly policy: ClosePolicy,
    private readonly logger: Logger,
  ) {}

  get down(): boolean {
    return this.socket === null && this.retry === null && !this.checking;
  }

  connect(): void {
    if (this.dropped || this.socket) return;
    const s = new Socket();
    this.socket = s;
    s.setNoDelay(true);
    s.on('data', () => undefined); // replies and messages are of no interest
    s.on('error', () => undefined); // 'close' follows
    s.once('connect', () => {
      this.up = true;
      this.believedAlive = true;
      this.upSince = Date.now();
      s.write(hello(this.node));
    });
    s.once('close', () => void this.closed(s));
    s.connect({ host: this.node.ip, port: this.node.port });
  }

  private async closed(s: Socket): Promise<void> {
    if (this.socket !== s) return;
    this.socket = null;
    const wasUp = this.up;
    this.up = false;
    if (this.dropped) return;
    if (wasUp && Date.now() - this.upSince > STABLE_MS) this.closesInARow = 0;
    this.checking = true;
    const running = await this.isRunning(this.node).catch(() => true);
    this.checking = false;
    if (this.dropped) return;
    const d = afterClose(this.believedAlive, running, running ? ++this.closesInARow : 0, this.policy);
    if (!running) this.believedAlive = false;
    if (d.kind === 'report-death') {
      this.logger.info({ cluster_id: this.node.clusterId, node: this.node.nodeId }, 'engine process died');
      this.onDeath(this.node);
    } else if (d.kind === 'reconnect') {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.connect();
      }, d.delayMs);
      this.retry.unref();
    }
  }

  drop(): void {
    this.dropped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.socket?.destroy();
    this.socket = null;
  }
}

export class ProcessLinks {
  private readonly clusters = new Map<string, Map<string, Link>>();

  constructor(
    private readonly o: {
      isRunning: (n: NodeSpec) => Promise<boolean>;
      onDeath: (n: NodeSpec) => void;
      logger: Logger;
      policy?: ClosePolicy;
    },
  ) {}

  /** Links to exactly these nodes of the cluster; a link that is down is tried again. */
  ensure(clusterId: string, nodes: NodeSpec[]): void {
    let links = this.clusters.get(clusterId);
    if (!links) this.clusters.set(clusterId, (links = new Map()));
    const wanted = new Map(nodes.map((n) => [`${n.nodeId}@${n.ip}:${n.port}/${n.serviceSecret}`, n]));
    for (const [key, link] of links) {
      if (!wanted.has(key)) {
        link.drop();
        links.delete(key);
      }
    }
    for (const [key, node] of wanted) {
      let link = links.get(key);
      if (!link) links.set(key, (link = new Link(node, this.o.isRunning, this.o.onDeath, this.o.policy ?? DEFAULT_CLOSE_POLICY, this.o.logger)));
      if (link.down) link.connect();
    }
  }

  drop(clusterId: string): void {
    for (const link of this.clusters.get(clusterId)?.values() ?? []) link.drop();
    this.clusters.delete(clusterId);
  }

  watching(): string[] {
    return [...this.clusters.keys()];
  }

  /** How many links are connected now (for tests and diagnostics). */
  connected(clusterId: string): number {
    return [...(this.clusters.get(clusterId)?.values() ?? [])].filter((l) => l.up).length;
  }

  close(): void {
    for (const id of [...this.clusters.keys()]) this.drop(id);
  }
}
