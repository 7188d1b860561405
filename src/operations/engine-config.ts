// What a cluster's engines run now, for List and Set Parameter Values: CONFIG GET on the data
// node that answers as primary, else on any data node that answers.
import type { EngineConfigReader, Store } from '../domain/ports.js';
import { endpointOf } from '../drivers/driver.js';
import { configGet, knownCommands, usedMemory } from '../engines/parameters.js';
import type { NodeSpec } from '../drivers/driver.js';
import { clusterNodes } from './nodes.js';

export class EngineConfig implements EngineConfigReader {
  constructor(private readonly store: Store) {}

  read(clusterId: string, names: string[]): Promise<Record<string, string> | null> {
    return this.first(clusterId, (n) => configGet(endpointOf(n), names, 1000));
  }

  knownCommands(clusterId: string, names: string[]): Promise<Record<string, boolean> | null> {
    return this.first(clusterId, (n) => knownCommands(endpointOf(n), names, 1000));
  }

  usedMemory(clusterId: string): Promise<number | null> {
    return this.first(clusterId, (n) => usedMemory(endpointOf(n), 1000));
  }

  /** The answer of the first data node that gives one, the store's primary first. */
  private async first<T>(clusterId: string, ask: (n: NodeSpec) => Promise<T>): Promise<T | null> {
    const detail = await this.store.clusterDetail(null, clusterId);
    if (!detail) return null;
    const nodes = clusterNodes(detail, await this.store.clusterSecrets(clusterId));
    // After a failover the reconciler has usually caught up, and every data node runs the same
    // values anyway (Set Parameter Values sets them all).
    const order = [...nodes.data].sort((a, b) => Number(a.replicaOf != null) - Number(b.replicaOf != null));
    for (const n of order) {
      try {
        return await ask(n);
      } catch {
        // Not answering: try the next one.
      }
    }
    return null;
  }
}
