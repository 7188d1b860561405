// Bringing back an HA cluster whose every data node died (a host reboot, or all of them at
// once): nothing is started until the primary is chosen from what the nodes left on disk, so no
// node takes a write it would later have to give up. Then the primary starts, the others start
// as its replicas, the store records the roles, and the Sentinels start again from configs that
// name that primary with an epoch above any they had, so no stale Sentinel fails back.
import { choosePrimary, type PrimaryChoice } from '../domain/self-healing.js';
import type { ClusterDetail } from '../domain/model.js';
import type { ClusterSecrets, Store } from '../domain/ports.js';
import { endpointOf, type Driver, type NodeSpec } from '../drivers/driver.js';
import { waitReplicaSynced } from '../engines/replication.js';
import { clusterNodes, type ClusterNodes, type SentinelTimings } from './nodes.js';
import { READY_TIMEOUT_MS, SYNC_TIMEOUT_MS } from './workflow.js';

/** A node that would not start, so the caller can show its log. */
export class NodeStartError extends Error {
  constructor(
    readonly node: NodeSpec,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Configures, launches and waits for a node; one still loading its data counts as started. */
export async function startNode(driver: Driver, node: NodeSpec): Promise<void> {
  try {
    await driver.configure(node);
    await driver.launch(node);
    await driver.waitReady(node, READY_TIMEOUT_MS).catch(async (err) => {
      if (!(await driver.isRunning(node))) throw err;
    });
  } catch (err) {
    throw new NodeStartError(node, err);
  }
}

export interface WholeClusterRecovery {
  primary: NodeSpec;
  choice: PrimaryChoice;
  epoch: number;
  /** What did not start (a replica or a Sentinel: healed later like any dead node). */
  problems: string[];
}

export async function recoverWholeCluster(
  deps: { store: Store; driver: Driver; timings: SentinelTimings; nowMs: number },
  detail: ClusterDetail,
  nodes: ClusterNodes,
  secrets: ClusterSecrets,
): Promise<WholeClusterRecovery> {
  const { store, driver } = deps;
  const name = (n: NodeSpec) => detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
  // Sentinels still alive would act on nodes coming up one by one; they start again at the end.
  await Promise.all(nodes.sentinels.map((s) => driver.kill(s)));
  const data = await Promise.all(nodes.data.map(async (n) => ({ n, state: await driver.persistedState(n) })));
  const sentinels = await Promise.all(nodes.sentinels.map((s) => driver.persistedState(s)));
  const epochOf = (n: NodeSpec) => {
    const named = sentinels.filter((s) => s.sentinel?.master?.ip === n.ip && s.sentinel.master.port === n.port && s.sentinel.configEpoch > 0);
    return named.length > 0 ? Math.max(...named.map((s) => s.sentinel!.configEpoch)) : null;
  };
  const choice = choosePrimary(
    data.map(({ n, state }) => ({ nodeId: n.nodeId, lastWriteAt: state.lastWriteAt, hasData: state.hasData, sentinelEpoch: epochOf(n), storePrimary: n.replicaOf === null })),
  );
  const chosen = nodes.data.find((n) => n.nodeId === choice.nodeId)!;
  const primary: NodeSpec = { ...chosen, replicaOf: null };
  await startNode(driver, primary);

  const problems: string[] = [];
  const at = { ip: primary.ip, port: primary.port };
  // Each replica starts and copies the primary before the Sentinels come: they then find a
  // cluster whose replicas can take over.
  await Promise.all(
    nodes.data
      .filter((n) => n !== chosen)
      .map(async (n) => {
        try {
          await startNode(driver, { ...n, replicaOf: at });
          await waitReplicaSynced(endpointOf(n), at, SYNC_TIMEOUT_MS);
        } catch (err) {
          problems.push(`data node ${name(n)} did not start as a replica: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
  );
  for (const n of nodes.data) await store.setInstanceRole(n.instanceId, n === chosen ? 'MASTER' : 'REPLICA');

  // Above every epoch any Sentinel of the cluster reached, and above the switchover's (seconds).
  const seen = sentinels.flatMap((s) => (s.sentinel ? [s.sentinel.configEpoch, s.sentinel.currentEpoch] : []));
  const epoch = Math.max(Math.floor(deps.nowMs / 1000), ...seen.map((e) => e + 1));
  const fresh = await store.clusterDetail(null, detail.cluster.id);
  if (fresh) {
    const renewed = clusterNodes(fresh, secrets, deps.timings);
    await Promise.all(
      renewed.sentinels.map((s) =>
        startNode(driver, { ...s, sentinel: { ...s.sentinel!, epoch } }).catch((err) => problems.push(`Sentinel on ${s.ip}:${s.port} did not start: ${err.message}`)),
      ),
    );
  }
  return { primary, choice, epoch, problems };
}
