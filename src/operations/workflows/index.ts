// Every operation's workflow, standalone and HA alike: a standalone cluster simply has no
// replicas and no Sentinels, so those steps do nothing for it.
import type { OperationKind } from '../../domain/model.js';
import { switchover } from '../switchover.js';
import { applyObservation, observe } from '../topology.js';
import { endpointOf } from '../../drivers/driver.js';
import { waitReplicaSynced } from '../../engines/replication.js';
import { each, killAll, SYNC_TIMEOUT_MS, type Workflow, type WorkflowContext } from '../workflow.js';
import { BACKUP_WORKFLOWS, removeBackups } from './backups.js';
import { setCommandsWorkflow, syncCommandsWorkflow } from './commands.js';
import { setServerTypeWorkflow } from './server-type.js';
import { setParametersWorkflow, syncParametersWorkflow } from './parameters.js';
import { discardNewCluster, startDataNodes, steps } from './steps.js';
import { refreshTopology } from './topology-refresh.js';
import { setAllowListWorkflow } from './allow-list.js';
import { setMaintenanceWorkflow, unsetMaintenanceWorkflow, upgradeEngineWorkflow } from './maintenance.js';
import { setBlockStorageSizeWorkflow } from './block-storage.js';

const createWorkflow: Workflow = {
  steps: [steps.allowList, steps.volumesNote, steps.startData, steps.startSentinels],
  onFailure: discardNewCluster,
};

const startWorkflow: Workflow = {
  steps: [steps.startData, steps.startSentinels],
  async onFailure(ctx) {
    await killAll(ctx);
  },
};

const stopWorkflow: Workflow = {
  steps: [steps.stopSentinels, steps.stopReplicas, steps.stopPrimary],
  async onFailure() {
    // An engine refused to stop (e.g. it could not save): it keeps serving, and the request says why.
  },
};

function primaryAtStart(ctx: WorkflowContext): string | undefined {
  return (ctx.request.payload?.primary as string | undefined) ?? ctx.nodes.primary?.instanceId;
}

/**
 * Rolling restart: each replica in turn (the others keep serving), then a switchover to a
 * restarted replica, then the old primary, which comes back as a replica. A standalone cluster
 * has only the last part.
 */
const restartWorkflow: Workflow = {
  steps: [
    {
      name: 'restart-replicas',
      async run(ctx) {
        // Sentinel may have moved the primary since the store last looked.
        await refreshTopology(ctx);
        const first = primaryAtStart(ctx);
        for (const n of ctx.nodes.data.filter((d) => d.instanceId !== first)) {
          // Never stop a replica halfway through copying its primary: what it would save is not
          // the dataset its replication offset claims, and a restart would build on it.
          if (n.replicaOf && (await ctx.driver.isRunning(n))) {
            await waitReplicaSynced(endpointOf(n), n.replicaOf, SYNC_TIMEOUT_MS);
          }
          await ctx.driver.stop(n, { save: true });
          await startDataNodes(ctx, [n]);
        }
      },
    },
    {
      name: 'switchover',
      async run(ctx) {
        const first = primaryAtStart(ctx);
        const target = ctx.nodes.data.find((d) => d.instanceId !== first);
        if (!target || ctx.nodes.primary?.instanceId !== first) return;
        const r = await switchover(ctx, target.instanceId);
        await ctx.event(`switched over to ${ctx.detail.instances.find((i) => i.id === target.instanceId)?.name} (writes paused ${r.pauseMs} ms)`);
      },
    },
    {
      name: 'stop-old-primary',
      run: (ctx) => each(ctx.nodes.data.filter((d) => d.instanceId === primaryAtStart(ctx)), (n) => ctx.driver.stop(n, { save: true })),
    },
    {
      name: 'start-old-primary',
      run: (ctx) => startDataNodes(ctx, ctx.nodes.data.filter((d) => d.instanceId === primaryAtStart(ctx))),
    },
  ],
  async onFailure() {
    // Nodes that run keep serving; Synchronize Cluster State shows which ones do.
  },
  async finish(ctx) {
    await syncFinish(ctx, false);
  },
};

const terminateWorkflow: Workflow = {
  // The data is deleted next, so there is nothing to save first. Backups go with the cluster
  // (README: a restore needs a cluster that exists; take one into a new cluster first).
  steps: [
    steps.killAll,
    steps.removeData,
    {
      name: 'remove-backups',
      async run(ctx) {
        await removeBackups(ctx, await ctx.store.backupsOf(ctx.cluster.id));
        await ctx.backups.storage.logs.removeCluster(ctx.cluster.id);
      },
    },
  ],
  async onFailure() {
    // What could not be removed stays; the cluster shows ERROR and Terminate may be retried.
  },
};

const switchoverWorkflow: Workflow = {
  steps: [
    {
      name: 'switchover',
      async run(ctx) {
        await refreshTopology(ctx);
        const target = ctx.request.payload?.target as string;
        const r = await switchover(ctx, target);
        const name = ctx.detail.instances.find((i) => i.id === target)?.name;
        await ctx.event(r.skipped ? `${name} is already the primary` : `switched over to ${name} (writes paused ${r.pauseMs} ms)`);
      },
    },
  ],
  async onFailure() {
    // The switchover changes nothing until the target has caught up; after that it completes
    // on resume. Nothing to undo.
  },
  async finish(ctx) {
    await syncFinish(ctx, false);
  },
};

/** The outcome is what the probe finds: roles, instance states, and the cluster's state. */
async function syncFinish(ctx: WorkflowContext, fromStopped: boolean): Promise<void> {
  const obs = await observe(ctx.nodes);
  const applied = await applyObservation(ctx.store, ctx.detail, obs, {
    at: ctx.now(),
    previous: fromStopped ? 'STOPPED' : 'RUNNING',
    setClusterState: true,
    lease: ctx.lease,
  });
  for (const c of applied.changes) await ctx.event(c);
}

const syncWorkflow: Workflow = {
  steps: [],
  async onFailure() {},
  async finish(ctx) {
    await syncFinish(ctx, ctx.request.payload?.previous === 'STOPPED');
  },
};

export const WORKFLOWS: Record<OperationKind, Workflow> = {
  create: createWorkflow,
  stop: stopWorkflow,
  start: startWorkflow,
  restart: restartWorkflow,
  terminate: terminateWorkflow,
  switchover: switchoverWorkflow,
  sync: syncWorkflow,
  ...BACKUP_WORKFLOWS,
  // Restart-only parameters go through the rolling restart's own steps.
  'set-parameters': setParametersWorkflow(restartWorkflow.steps, (ctx) => syncFinish(ctx, false)),
  'sync-parameters': syncParametersWorkflow((ctx) => syncFinish(ctx, false)),
  'set-commands': setCommandsWorkflow((ctx) => syncFinish(ctx, false)),
  'sync-commands': syncCommandsWorkflow((ctx) => syncFinish(ctx, false)),
  // io-threads changes go through the rolling restart's own steps.
  'set-server-type': setServerTypeWorkflow(restartWorkflow.steps, (ctx) => syncFinish(ctx, false)),
  'set-security-group-rules': setAllowListWorkflow,
  'set-maintenance': setMaintenanceWorkflow,
  'unset-maintenance': unsetMaintenanceWorkflow,
  // An engine patch upgrade is the rolling restart onto the installed binary.
  'upgrade-engine': upgradeEngineWorkflow(restartWorkflow.steps, (ctx) => syncFinish(ctx, false)),
  'set-block-storage-size': setBlockStorageSizeWorkflow(syncFinish),
};
