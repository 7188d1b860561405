// A data node's disk trouble, told as it happens: the service follows each data node's engine
// log (the driver's followLog; inotify for the local driver) and looks at the cluster at once
// when the engine logs a write that failed for want of space, or that it writes again after one
// (domain/disk-full.ts decides). Without it a full disk waited for the periodic pass (5 min).
// Only where the driver gives data nodes volumes: elsewhere the service does not judge disks.
import { diskLogLook } from '../domain/disk-full.js';
import type { Driver, NodeSpec } from '../drivers/driver.js';

interface Follow {
  stop: () => void;
  failing: boolean;
}

export class DiskAlarms {
  private readonly clusters = new Map<string, Map<string, Follow>>();

  constructor(private readonly o: { driver: Driver; onAlarm: (clusterId: string) => void }) {}

  /** Follows exactly these data nodes of the cluster. */
  ensure(clusterId: string, nodes: NodeSpec[]): void {
    let follows = this.clusters.get(clusterId);
    if (!follows) this.clusters.set(clusterId, (follows = new Map()));
    const wanted = new Map(nodes.map((n) => [n.nodeId, n]));
    for (const [id, f] of follows) {
      if (!wanted.has(id)) {
        f.stop();
        follows.delete(id);
      }
    }
    for (const [id, node] of wanted) {
      if (follows.has(id)) continue;
      const f: Follow = { stop: () => undefined, failing: false };
      f.stop = this.o.driver.followLog(node, (lines) => {
        const d = diskLogLook(f.failing, lines);
        f.failing = d.failing;
        if (d.look) this.o.onAlarm(clusterId);
      });
      follows.set(id, f);
    }
  }

  drop(clusterId: string): void {
    for (const f of this.clusters.get(clusterId)?.values() ?? []) f.stop();
    this.clusters.delete(clusterId);
  }

  close(): void {
    for (const id of [...this.clusters.keys()]) this.drop(id);
  }
}
