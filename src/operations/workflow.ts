// What a workflow is: named, idempotent steps run in order. The worker records each finished
// step in the ledger; after a crash it runs the same workflow again from the step after the
// last recorded one, so every step must be safe to repeat ("ensure", not "do").
import type { Cluster, ClusterDetail, OperationRequest } from '../domain/model.js';
import type { Store, Lease } from '../domain/ports.js';
import type { BackupStorage } from '../backups/storage.js';
import type { Driver, NodeSpec } from '../drivers/driver.js';
import type { AllowLists } from './allow-lists.js';
import type { ClusterNodes } from './nodes.js';

export interface WorkflowContext {
  request: OperationRequest;
  cluster: Cluster;
  detail: ClusterDetail;
  /** The cluster's processes as the store describes them now. */
  nodes: ClusterNodes;
  store: Store;
  driver: Driver;
  backups: BackupTools;
  /** The kernel's allow-list rules, rebuilt from the store. */
  allowLists: AllowLists;
  now(): string;
  /** The worker's hold on the request: state writes that end the request are fenced by it. */
  lease: Lease;
  event(message: string): Promise<void>;
  /** Reads the cluster again (after a step changed roles in the store). */
  reload(): Promise<void>;
}

/** What backup and restore workflows work with. */
export interface BackupTools {
  /** Backup files and their write logs (storage.logs). */
  storage: BackupStorage;
}

export interface Step {
  name: string;
  run(ctx: WorkflowContext): Promise<void>;
}

export interface Workflow {
  steps: Step[];
  /** Best-effort clean-up after a failed step, so nothing is left half-started. */
  onFailure(ctx: WorkflowContext, error: Error): Promise<void>;
  /**
   * Sets the final states itself (instead of the operation's success state for everything),
   * for workflows whose outcome is what they found (Synchronize Cluster State).
   */
  finish?(ctx: WorkflowContext): Promise<void>;
}

/** How long an engine may take from launch to answering PING. */
export const READY_TIMEOUT_MS = 15_000;
/** How long a replica may take to finish its initial sync. */
export const SYNC_TIMEOUT_MS = 60_000;

export async function each(nodes: NodeSpec[], fn: (n: NodeSpec) => Promise<void>): Promise<void> {
  await Promise.all(nodes.map(fn));
}

/** Ends every process of the cluster; used by failure handlers so nothing stays half-started. */
export async function killAll(ctx: WorkflowContext): Promise<void> {
  await each(ctx.nodes.all, (n) => ctx.driver.kill(n));
}
