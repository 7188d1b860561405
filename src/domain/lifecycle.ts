// Which operation may run in which cluster state, what the cluster shows while it runs, and
// where it ends. One table, so the rules read in one place.
import { InvalidStateError } from './errors.js';
import type { Cluster, OperationKind, ServiceState } from './model.js';

interface Transition {
  from: readonly ServiceState[];
  /** null: the cluster keeps its state while the operation runs (backups, settings). */
  during: ServiceState | null;
  success: ServiceState;
  failure: ServiceState;
}

export const TRANSITIONS: Record<OperationKind, Transition> = {
  create: { from: [], during: 'CREATING', success: 'RUNNING', failure: 'FAILED' },
  stop: { from: ['RUNNING', 'ERROR'], during: 'STOPPING', success: 'STOPPED', failure: 'ERROR' },
  start: { from: ['STOPPED', 'ERROR'], during: 'STARTING', success: 'RUNNING', failure: 'ERROR' },
  restart: { from: ['RUNNING', 'ERROR'], during: 'RESTARTING', success: 'RUNNING', failure: 'ERROR' },
  terminate: { from: ['RUNNING', 'STOPPED', 'ERROR', 'FAILED'], during: 'TERMINATING', success: 'TERMINATED', failure: 'ERROR' },
  // For these two the outcome is what a probe finds (operations/topology.ts); RUNNING is the usual one.
  switchover: { from: ['RUNNING'], during: 'EDITING', success: 'RUNNING', failure: 'RUNNING' },
  sync: { from: ['RUNNING', 'ERROR', 'STOPPED'], during: 'SYNCHRONIZING', success: 'RUNNING', failure: 'ERROR' },
  // Backups run beside the workload: the cluster stays RUNNING and serving. Their workflows set
  // no cluster state at the end (success/failure below are not applied).
  backup: { from: ['RUNNING'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  'remove-backups': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  'set-backup': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  'unset-backup': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  // Allow-list changes touch kernel rules only: the engines keep serving.
  'set-security-group-rules': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  // A restore creates a new cluster: it goes the way a create goes.
  restore: { from: [], during: 'CREATING', success: 'RUNNING', failure: 'FAILED' },
  // Parameters change on running engines only; the outcome is what a probe finds afterwards.
  'set-parameters': { from: ['RUNNING'], during: 'EDITING', success: 'RUNNING', failure: 'RUNNING' },
  'sync-parameters': { from: ['RUNNING'], during: 'SYNCHRONIZING', success: 'RUNNING', failure: 'RUNNING' },
  'set-commands': { from: ['RUNNING'], during: 'EDITING', success: 'RUNNING', failure: 'RUNNING' },
  'sync-commands': { from: ['RUNNING'], during: 'SYNCHRONIZING', success: 'RUNNING', failure: 'RUNNING' },
  // Resizes run on a running cluster (online, or a rolling restart); the outcome is what a probe finds.
  'set-server-type': { from: ['RUNNING'], during: 'EDITING', success: 'RUNNING', failure: 'RUNNING' },
  // The maintenance window is a setting: the engines keep serving.
  'set-maintenance': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  'unset-maintenance': { from: ['RUNNING', 'STOPPED', 'ERROR'], during: null, success: 'RUNNING', failure: 'RUNNING' },
  // An engine patch upgrade is a rolling restart onto the installed binary; the outcome is what a probe finds.
  'upgrade-engine': { from: ['RUNNING'], during: 'UPGRADING', success: 'RUNNING', failure: 'RUNNING' },
  // Volumes grow online; also from ERROR (a full disk is the usual reason to grow) and STOPPED.
  // The outcome is what a probe finds afterwards (a stopped cluster stays STOPPED).
  'set-block-storage-size': { from: ['RUNNING', 'ERROR', 'STOPPED'], during: 'EDITING', success: 'RUNNING', failure: 'RUNNING' },
};

/** Throws a 400 naming the state when `op` may not start on `cluster` now. */
export function assertCanStart(cluster: Cluster, op: OperationKind): Transition {
  const t = TRANSITIONS[op];
  if (!t.from.includes(cluster.serviceState)) {
    throw new InvalidStateError(
      `Cluster '${cluster.name}' (${cluster.id}) is ${cluster.serviceState}; ${op} is allowed only when it is ` +
        `${t.from.join(' or ')}.`,
    );
  }
  return t;
}

export function busyError(cluster: Cluster, requestId: string): InvalidStateError {
  return new InvalidStateError(
    `Cluster '${cluster.name}' (${cluster.id}) is ${cluster.serviceState}: request ${requestId} is still in ` +
      `progress. Wait until it finishes (GET /v1/requests/${requestId}), then try again.`,
  );
}

/**
 * Whether an operation leaves the processes alone (backups, backup settings): failover and the
 * reconciler go on beside it, where any other operation owns the cluster until it ends.
 */
export function runsBesideTheWorkload(op: OperationKind): boolean {
  return TRANSITIONS[op].during === null;
}

/**
 * Whether an operation that completes gives automatic restarts back to the cluster after a
 * crash loop or a failed operation held them: the operator brought it up on purpose (or, for a
 * terminate, there is nothing left to hold).
 */
export function releasesAutoRestartHold(op: OperationKind): boolean {
  return op === 'start' || op === 'restart' || op === 'create' || op === 'restore' || op === 'terminate';
}
