// Which operation may run in which cluster state, what the cluster shows while it runs, and
// where it ends. One table, so the rules read in one place.
import { InvalidStateError } from './errors.js';
import type { Cluster, OperationKind, ServiceState } from './model.js';

interface Transition {
  from: readonly ServiceState[];
  during: ServiceState;
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
