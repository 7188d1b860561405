// Which service process runs the duties only one may run at a time (the watch of the engines and
// its healing, the schedulers): the holder of a leadership lease, one row in the shared store with
// the holder, a term (raised at each change of holder) and an expiry. The holder renews it well
// inside its length; the others try to take it when it has expired. The lease rather than a
// PostgreSQL advisory lock: a leader that stalls (a paused process, a store it cannot reach) with
// its connection still open keeps an advisory lock forever, while its lease runs out; and one
// code path serves SQLite too. These are the decisions; the loop is operations/leader-election.ts.

export interface LeadershipTimings {
  /** How long a lease lasts after a renewal: the longest the duties stay unowned after a leader dies. */
  leaseMs: number;
  /** How often the leader renews it, and the others look whether it expired. */
  renewMs: number;
  /**
   * The leader counts its lease as ending this much before the store does, so it stops its duties
   * before anyone else can take them (covers the time its renewal took, and clock skew between
   * machines).
   */
  marginMs: number;
}

export const DEFAULT_LEADERSHIP: LeadershipTimings = { leaseMs: 5000, renewMs: 1000, marginMs: 1500 };

/** The timings for a lease of `leaseMs` (CACHESTORE_LEADER_LEASE_MS): renewed five times in it, the last 30% a margin. */
export function leadershipTimings(leaseMs: number): LeadershipTimings {
  return { leaseMs, renewMs: Math.floor(leaseMs / 5), marginMs: Math.floor(leaseMs * 0.3) };
}

/** The lease row as the store holds it (holder null: nobody has held it yet, or it was given up). */
export interface LeaseRow {
  holder: string | null;
  term: number;
  untilMs: number;
}

/** Whether `me` may take the lease now: nobody holds it, it has expired, or it is mine already. */
export function mayTake(row: LeaseRow | undefined, me: string, nowMs: number): boolean {
  return row === undefined || row.holder === null || row.holder === me || row.untilMs <= nowMs;
}

/**
 * Until when (local clock) the leader may act, after a renewal it SENT at `renewalSentMs` and the
 * store accepted: the store counts the lease from the moment it ran the update, which is no
 * earlier than the sending, so a leader that stops at this deadline has stopped before the lease
 * is anybody else's.
 */
export function actsUntil(renewalSentMs: number, t: LeadershipTimings): number {
  return renewalSentMs + t.leaseMs - t.marginMs;
}

/** What the loop does on a tick, from whether it leads now and what its renewal or attempt found. */
export type LeadershipChange = 'take-duties' | 'drop-duties' | 'none';

export function leadershipChange(leading: boolean, holdsLease: boolean, nowMs: number, deadlineMs: number): LeadershipChange {
  const valid = holdsLease && nowMs < deadlineMs;
  if (valid && !leading) return 'take-duties';
  if (!valid && leading) return 'drop-duties';
  return 'none';
}

/** Timings that make sense: a renewal (and a spare) fit inside the part of the lease the leader acts in. */
export function checkTimings(t: LeadershipTimings): string | null {
  if (t.renewMs <= 0 || t.leaseMs <= 0 || t.marginMs < 0) return 'lease, renewal and margin must be positive';
  if (t.leaseMs - t.marginMs < 2 * t.renewMs) return `the lease (${t.leaseMs} ms) less its margin (${t.marginMs} ms) must hold two renewals (${t.renewMs} ms each)`;
  return null;
}
