// Test clean-up: ends every engine process that a test's data dir started, also when the test
// failed halfway. Engines are found as the driver finds them (launch record and pid file), and
// by the marker in their title as well, for any the driver would not adopt.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { processMarker } from '../../src/engines/config.js';
import { engineProcessIn } from '../../src/drivers/local/local-driver.js';
import { findByMarker, identify, signal, waitForExit } from '../../src/drivers/local/processes.js';

export async function killEnginesUnder(dataDir: string): Promise<number> {
  let ids: string[] = [];
  try {
    ids = await readdir(join(dataDir, 'engines'));
  } catch {
    return 0;
  }
  let killed = 0;
  for (const id of ids) {
    const found = await engineProcessIn(join(dataDir, 'engines', id));
    const pids = new Set([...(found ? [found.pid] : []), ...(await findByMarker(processMarker(id)))]);
    for (const pid of pids) {
      const proc = await identify(pid);
      if (!proc) continue;
      signal(pid, 'SIGKILL');
      await waitForExit(proc, 5000);
      killed++;
    }
  }
  return killed;
}

/** Pids of engines whose title carries the instance id. */
export function enginePids(instanceId: string): Promise<number[]> {
  return findByMarker(processMarker(instanceId));
}

/** The pid of the node's one engine process; throws when there is none, or more than one. */
export async function onePid(nodeId: string): Promise<number> {
  const pids = await enginePids(nodeId);
  if (pids.length !== 1) throw new Error(`node ${nodeId} has ${pids.length} engine processes, not one: [${pids.join(', ')}]`);
  return pids[0];
}

/** SIGKILLs the node's one engine process (throws when it has none), and returns its pid. */
export async function sigkillEngine(nodeId: string): Promise<number> {
  const pid = await onePid(nodeId);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** The pid of a node's engine as the service recognises it (not by its title), or null. */
export async function enginePidOf(dataDir: string, nodeId: string): Promise<number | null> {
  return (await engineProcessIn(join(dataDir, 'engines', nodeId)))?.pid ?? null;
}
