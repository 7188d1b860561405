// Test clean-up: ends every engine process that a test's data dir started, also when the test
// failed halfway. Engines are recognised by the marker in their process title.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { processMarker } from '../../src/engines/config.js';
import { findByMarker, signal, waitForExit } from '../../src/drivers/local/processes.js';

export async function killEnginesUnder(dataDir: string): Promise<number> {
  let ids: string[] = [];
  try {
    ids = await readdir(join(dataDir, 'engines'));
  } catch {
    return 0;
  }
  let killed = 0;
  for (const id of ids) {
    const marker = processMarker(id);
    for (const pid of await findByMarker(marker)) {
      signal(pid, 'SIGKILL');
      await waitForExit(pid, marker, 5000);
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
