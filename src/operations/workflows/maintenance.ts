// Set / Unset Maintenance store the window (the schedule releases waiting work; README
// "Maintenance windows"), and the engine patch upgrade: a rolling restart (replicas, switchover,
// old primary) onto the engine binary installed now, after which the cluster's recorded
// version is the one that binary reports.
import { PRODUCT_IMAGE } from '../../domain/catalog.js';
import { describeWindow, isNewerPatch, upgradeStepAction, upgradeStepReadsVersion } from '../../domain/maintenance-window.js';
import type { MaintenanceOption } from '../../domain/model.js';
import { engineVersionId } from '../../engines/detect.js';
import type { Step, Workflow, WorkflowContext } from '../workflow.js';

export const setMaintenanceWorkflow: Workflow = {
  steps: [
    {
      name: 'set-maintenance',
      async run(ctx) {
        const option = ctx.request.payload?.option as MaintenanceOption;
        await ctx.store.setMaintenanceOption(ctx.cluster.id, option, ctx.now(), ctx.request.createdBy);
        await ctx.event(`maintenance window: ${describeWindow(ctx.cluster.timezone, option)} (length ${option.periodHour} h)`);
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};

export const unsetMaintenanceWorkflow: Workflow = {
  steps: [
    {
      name: 'unset-maintenance',
      async run(ctx) {
        await ctx.store.setMaintenanceOption(ctx.cluster.id, null, ctx.now(), ctx.request.createdBy);
        await ctx.event('maintenance window removed: work that waited for it runs now, and new work runs at once');
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};

/**
 * The version the driver starts this engine with now (locally: what the installed binary
 * reports), or null when it cannot be read (asked twice: a loaded machine can be slow to run it).
 */
async function installedVersion(ctx: WorkflowContext): Promise<string | null> {
  return (await ctx.driver.runnableVersion(ctx.cluster.engine)) ?? ctx.driver.runnableVersion(ctx.cluster.engine);
}

function unreadable(ctx: WorkflowContext): Error {
  return new Error(
    `the installed ${ctx.cluster.engine} engine's version cannot be read now (its --version did not answer); ` +
      `nodes already restarted run the installed binary, the cluster still records ${ctx.cluster.softwareVersion}, and the next maintenance look asks for the upgrade again`,
  );
}

/**
 * `restartSteps`: the rolling restart's own steps; they run while the installed binary is a
 * newer patch than the version recorded (so a resumed upgrade goes on, and one whose binary
 * went back to the running version restarts nothing).
 */
export function upgradeEngineWorkflow(restartSteps: Step[], finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  const guarded: Step[] = restartSteps.map((s) => ({
    name: s.name,
    async run(ctx) {
      const action = upgradeStepAction(s.name, upgradeStepReadsVersion(s.name) ? await installedVersion(ctx) : null, ctx.cluster.softwareVersion);
      if (action === 'unreadable') throw unreadable(ctx);
      if (action === 'run') await s.run(ctx);
    },
  }));
  return {
    steps: [
      ...guarded,
      {
        name: 'record-engine-version',
        async run(ctx) {
          const v = await installedVersion(ctx);
          if (v === null) throw unreadable(ctx);
          if (!isNewerPatch(v, ctx.cluster.softwareVersion)) {
            await ctx.event(`nothing to upgrade: the installed engine is ${v}, the cluster runs ${ctx.cluster.softwareVersion}`);
            return;
          }
          const from = ctx.cluster.softwareVersion;
          await ctx.store.setClusterEngineVersion(ctx.cluster.id, engineVersionId(PRODUCT_IMAGE[ctx.cluster.engine], v), v, ctx.now(), ctx.request.createdBy);
          await ctx.reload();
          await ctx.event(`engine upgraded from ${from} to ${v}: every node restarted onto the installed binary`);
        },
      },
    ],
    async onFailure() {
      // Nodes already restarted run the new binary; the recorded version stays the old one until
      // the next check upgrades the rest (it restarts every node again).
    },
    finish,
  };
}
