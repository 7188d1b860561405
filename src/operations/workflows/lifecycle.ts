// The lifecycle workflows of a standalone cluster. Each is a list of idempotent steps; the
// worker moves the cluster to the operation's final state when all of them finished.
import type { OperationKind } from '../../domain/model.js';
import { each, killAll, steps, type Workflow } from '../workflow.js';

export const createWorkflow: Workflow = {
  steps: [steps.configure, steps.launch, steps.ready],
  async onFailure(ctx) {
    // A cluster that never came up keeps nothing: no process, no files, no address.
    await killAll(ctx);
    await each(ctx, (n) => ctx.driver.removeData(n));
  },
};

export const stopWorkflow: Workflow = {
  steps: [steps.shutdown],
  async onFailure() {
    // The engine refused to stop (e.g. it could not save): it keeps serving, and says why.
  },
};

export const startWorkflow: Workflow = {
  steps: [steps.configure, steps.launch, steps.ready],
  async onFailure(ctx) {
    await killAll(ctx);
  },
};

export const restartWorkflow: Workflow = {
  steps: [steps.shutdown, steps.configure, steps.launch, steps.ready],
  async onFailure(ctx) {
    await killAll(ctx);
  },
};

export const terminateWorkflow: Workflow = {
  // The data is deleted next, so there is nothing to save first.
  steps: [steps.kill, steps.removeData],
  async onFailure() {
    // Whatever could not be removed stays; the cluster shows ERROR and Terminate may be retried.
  },
};

export const WORKFLOWS: Record<OperationKind, Workflow> = {
  create: createWorkflow,
  stop: stopWorkflow,
  start: startWorkflow,
  restart: restartWorkflow,
  terminate: terminateWorkflow,
};
