// Reading the roles as they are now: Sentinel may have moved the primary since the store looked.
import { applyObservation, observe } from '../topology.js';
import type { WorkflowContext } from '../workflow.js';

/** Records the roles as the nodes and Sentinels report them now, and reads the cluster again. */
export async function refreshTopology(ctx: WorkflowContext): Promise<void> {
  if (!ctx.cluster.haEnabled) return;
  const obs = await observe(ctx.nodes);
  await applyObservation(ctx.store, ctx.detail, obs, { at: ctx.now(), previous: 'RUNNING', setClusterState: false });
  await ctx.reload();
}
