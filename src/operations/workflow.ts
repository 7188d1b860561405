// What a workflow is: named, idempotent steps run in order. The worker records each finished
// step in the ledger; after a crash it runs the same workflow again from the step after the
// last recorded one, so every step must be safe to repeat ("ensure", not "do").
import type { Cluster, ClusterDetail, OperationRequest } from '../domain/model.js';
import type { Store } from '../domain/ports.js';
import type { Driver, NodeSpec } from '../drivers/driver.js';

export interface WorkflowContext {
  request: OperationRequest;
  cluster: Cluster;
  detail: ClusterDetail;
  /** The data nodes of the cluster, with what the driver needs to run them. */
  nodes: NodeSpec[];
  store: Store;
  driver: Driver;
  now(): string;
  event(message: string): Promise<void>;
}

export interface Step {
  name: string;
  run(ctx: WorkflowContext): Promise<void>;
}

export interface Workflow {
  steps: Step[];
  /** Best-effort clean-up after a failed step, so nothing is left half-started. */
  onFailure(ctx: WorkflowContext, error: Error): Promise<void>;
}

/** How long an engine may take from launch to answering PING. */
export const READY_TIMEOUT_MS = 15_000;

export const steps = {
  configure: { name: 'configure', run: (ctx) => each(ctx, (n) => ctx.driver.configure(n)) } as Step,
  launch: { name: 'launch', run: (ctx) => each(ctx, (n) => ctx.driver.launch(n)) } as Step,
  ready: { name: 'ready', run: (ctx) => each(ctx, (n) => ctx.driver.waitReady(n, READY_TIMEOUT_MS)) } as Step,
  shutdown: { name: 'shutdown', run: (ctx) => each(ctx, (n) => ctx.driver.stop(n, { save: true })) } as Step,
  kill: { name: 'kill', run: (ctx) => each(ctx, (n) => ctx.driver.kill(n)) } as Step,
  removeData: { name: 'remove-data', run: (ctx) => each(ctx, (n) => ctx.driver.removeData(n)) } as Step,
};

export async function each(ctx: WorkflowContext, fn: (n: NodeSpec) => Promise<void>): Promise<void> {
  await Promise.all(ctx.nodes.map(fn));
}

/** Ends every process of the cluster; used by failure handlers so nothing stays half-started. */
export async function killAll(ctx: WorkflowContext): Promise<void> {
  await each(ctx, (n) => ctx.driver.kill(n));
}
