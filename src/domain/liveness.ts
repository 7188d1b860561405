// Being told of a death instead of asking (issue 15): the service keeps one idle connection to
// each engine and Sentinel it runs, and the connection closing is the signal. A closed connection
// is only a hint (the tenant may CLIENT KILL it, the engine may hit maxclients): whether the
// process is really gone is asked of the driver then, once. These are the decisions; the
// connections live in operations/liveness.ts.

/** What to do when a watch connection closed. */
export type AfterClose =
  /** The process is gone and was believed alive until now: a death to report (once). */
  | { kind: 'report-death' }
  /** The process is gone and its death was reported already (a revive that failed): nothing new. */
  | { kind: 'stay-down' }
  /** The process runs: connect again after `delayMs`. */
  | { kind: 'reconnect'; delayMs: number };

export interface ClosePolicy {
  /** The first wait before connecting again to a process that still runs. */
  firstRetryMs: number;
  /** The longest (connections closed again and again, e.g. by the tenant's CLIENT KILL). */
  maxRetryMs: number;
}

export const DEFAULT_CLOSE_POLICY: ClosePolicy = { firstRetryMs: 100, maxRetryMs: 5000 };

/**
 * `believedAlive`: the link had not reported a death since it last saw the process up (so a death
 * now is news; also a death found when a reconnect fails). `running`: the driver
 * says the process is alive. `closesInARow`: how many times it closed while the process ran,
 * without staying up for long in between (counted by the caller, 1 for the first).
 */
export function afterClose(believedAlive: boolean, running: boolean, closesInARow: number, p: ClosePolicy = DEFAULT_CLOSE_POLICY): AfterClose {
  if (!running) return believedAlive ? { kind: 'report-death' } : { kind: 'stay-down' };
  const n = Math.max(1, closesInARow);
  return { kind: 'reconnect', delayMs: Math.min(p.maxRetryMs, p.firstRetryMs * 2 ** (n - 1)) };
}

/** What a dead process means for its cluster. */
export type OnDeath = 'fail-over' | 'look-at-cluster';

/**
 * A dead data node that the cluster's Sentinels still name as the primary of an HA cluster is
 * failed over at once (when the fast failover is on); every other death (a replica, a Sentinel, a
 * standalone engine, a primary Sentinel has already replaced) is a reason to look at the cluster
 * now: its states are recorded and healing begins. `primaryAddress`: what a Sentinel answers for
 * the master now (null when none answered; then the store's primary stands in).
 */
export function onDeath(
  dead: { kind: 'data' | 'sentinel'; ip: string; port: number; storedPrimary: boolean },
  cluster: { ha: boolean; fastFailover: boolean },
  primaryAddress: { ip: string; port: number } | null,
): OnDeath {
  if (dead.kind !== 'data' || !cluster.ha || !cluster.fastFailover) return 'look-at-cluster';
  const isPrimary = primaryAddress ? primaryAddress.ip === dead.ip && primaryAddress.port === dead.port : dead.storedPrimary;
  return isPrimary ? 'fail-over' : 'look-at-cluster';
}
