// Whether data nodes' disks are full: the engine's own write status (INFO persistence) and the
// free space of its volume, decided by domain/disk-full.ts. The reconciler records what it finds
// (events, instance and cluster states); Set Block Storage Size waits here for engines to write
// again after their volumes grew.
import { diskVerdict, parsePersistence, type DiskVerdict, type PersistenceStatus } from '../domain/disk-full.js';
import { endpointOf, type Driver, type NodeSpec } from '../drivers/driver.js';
import { withClient } from '../engines/replication.js';

async function persistence(node: NodeSpec): Promise<PersistenceStatus | null> {
  try {
    return parsePersistence(await withClient(endpointOf(node), (c) => c.info('persistence'), 1000, false));
  } catch {
    return null;
  }
}

/** Each data node's verdict, by instance id. */
export async function diskVerdicts(driver: Driver, nodes: NodeSpec[]): Promise<Map<string, DiskVerdict>> {
  const out = new Map<string, DiskVerdict>();
  await Promise.all(
    nodes
      .filter((n) => n.kind === 'data')
      .map(async (n) => {
        const usage = await driver.volumeUsage(n).catch(() => null);
        out.set(n.instanceId, usage ? diskVerdict(await persistence(n), usage) : { full: false, detail: 'no volume of its own' });
      }),
  );
  return out;
}

/** The engine's own last words about its disk (its log lines that name the failure). */
export async function diskErrorLines(driver: Driver, node: NodeSpec): Promise<string[]> {
  const lines = await driver.lastLogLines(node, 50).catch(() => []);
  return lines.filter((l) => /No space left|Error writing|Short write|MISCONF|Can't save|write error/i.test(l)).slice(-2);
}

/** Waits until none of `nodes` is full any more (an engine retries its disk writes every second). */
export async function waitDisksWritable(driver: Driver, nodes: NodeSpec[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await diskVerdicts(driver, nodes);
    const full = [...v.entries()].filter(([, d]) => d.full).map(([id]) => id);
    if (full.length === 0 || Date.now() > deadline) return full;
    await new Promise((r) => setTimeout(r, 200));
  }
}
