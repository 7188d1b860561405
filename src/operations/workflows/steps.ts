// The steps workflows are made of. Each ensures a state of the world and may run again.
import { waitReplicaSynced } from '../../engines/replication.js';
import { endpointOf, type NodeSpec } from '../../drivers/driver.js';
import { each, killAll, READY_TIMEOUT_MS, SYNC_TIMEOUT_MS, type Step, type WorkflowContext } from '../workflow.js';

/** Configures, launches and waits for data nodes; replicas until their initial sync is done. */
export async function startDataNodes(ctx: WorkflowContext, nodes: NodeSpec[]): Promise<void> {
  await each(nodes, (n) => ctx.driver.configure(n));
  // The primary answers before its replicas start: a replica that finds no primary retries only
  // once a second.
  const primaries = nodes.filter((n) => !n.replicaOf);
  const replicas = nodes.filter((n) => n.replicaOf);
  for (const group of [primaries, replicas]) {
    await each(group, (n) => ctx.driver.launch(n));
    await each(group, (n) => ctx.driver.waitReady(n, READY_TIMEOUT_MS));
  }
  await each(replicas, (n) => waitReplicaSynced(endpointOf(n), n.replicaOf!, SYNC_TIMEOUT_MS));
}

export async function startSentinels(ctx: WorkflowContext): Promise<void> {
  const s = ctx.nodes.sentinels;
  await each(s, (n) => ctx.driver.configure(n));
  await each(s, (n) => ctx.driver.launch(n));
  await each(s, (n) => ctx.driver.waitReady(n, READY_TIMEOUT_MS));
}

/**
 * Puts the kernel's allow-list rules in line with the store (before a new cluster's engines
 * listen, and after a list changes). Where rules cannot be enforced, the cluster's events say so.
 */
export async function enforceAllowList(ctx: WorkflowContext): Promise<void> {
  await ctx.allowLists.rebuild();
  const why = ctx.allowLists.unavailable;
  const list = ctx.cluster.allowableIpAddresses;
  if (why && list.length > 0) await ctx.event(`allow-list (${list.join(', ')}) recorded but NOT enforced: ${why}`);
}

export const steps = {
  allowList: { name: 'allow-list', run: enforceAllowList } as Step,
  // Where volumes cannot be made, the cluster's events say its sizes are recorded only.
  volumesNote: {
    name: 'data-volumes',
    async run(ctx) {
      const why = ctx.driver.volumesUnavailable;
      if (why) await ctx.event(`data volumes are NOT real: ${why}; the DATA block storage size is recorded only`);
    },
  } as Step,
  startData: { name: 'start-data-nodes', run: (ctx) => startDataNodes(ctx, ctx.nodes.data) } as Step,
  startSentinels: { name: 'start-sentinels', run: startSentinels } as Step,
  // Sentinels go first, so they do not fail over while the data nodes stop on purpose.
  stopSentinels: { name: 'stop-sentinels', run: (ctx) => each(ctx.nodes.sentinels, (n) => ctx.driver.stop(n, { save: false })) } as Step,
  stopReplicas: { name: 'stop-replicas', run: (ctx) => each(ctx.nodes.data.filter((n) => n.replicaOf), (n) => ctx.driver.stop(n, { save: true })) } as Step,
  // The primary stops last and saves the complete dataset.
  stopPrimary: { name: 'stop-primary', run: (ctx) => each(ctx.nodes.data.filter((n) => !n.replicaOf), (n) => ctx.driver.stop(n, { save: true })) } as Step,
  killAll: { name: 'kill', run: killAll } as Step,
  removeData: { name: 'remove-data', run: (ctx) => each(ctx.nodes.all, (n) => ctx.driver.removeData(n)) } as Step,
};

/** What a failed create or restore does: a cluster that never came up keeps nothing (no process, no files, no address). */
export async function discardNewCluster(ctx: WorkflowContext): Promise<void> {
  await killAll(ctx);
  await steps.removeData.run(ctx);
}
