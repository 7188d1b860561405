// The decisions behind clusters that come back by themselves, as pure functions: when a dead
// engine or Sentinel is started again (backoff) and when the service stops trying (crash loop),
// and which node becomes the primary of an HA cluster whose every data node died.

export interface RestartPolicy {
  /** Wait before the first start of a dead node; each further one waits twice as long. */
  firstDelayMs: number;
  /** Longest wait between two starts. */
  maxDelayMs: number;
  /** This many starts within `windowMs`, and the node dead again: a crash loop, give up. */
  maxStarts: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { firstDelayMs: 1000, maxDelayMs: 60_000, maxStarts: 5, windowMs: 10 * 60_000 };

/** What the service remembers about one node's deaths and the starts it made. */
export interface RestartHistory {
  /** When the node was first seen dead since it last ran (ms). */
  deadSince: number;
  /** When the service started it by itself (ms), oldest first. */
  starts: number[];
}

export type RestartDecision =
  | { kind: 'restart'; attempt: number }
  | { kind: 'wait'; untilMs: number }
  | { kind: 'give-up'; starts: number };

/**
 * The wait before start number `attempt` (1-based): 1x, 2x, 4x… the first delay, capped. Even the
 * first start waits a moment: a primary that died is failed over by Sentinel meanwhile, and a
 * node that dies the instant it starts does not spin.
 */
export function backoffDelay(attempt: number, p: RestartPolicy): number {
  return Math.min(p.maxDelayMs, p.firstDelayMs * 2 ** (Math.max(1, attempt) - 1));
}

/** What to do now about a node that is dead (the caller asks only about dead nodes). */
export function restartDecision(h: RestartHistory, nowMs: number, p: RestartPolicy): RestartDecision {
  const recent = h.starts.filter((t) => nowMs - t < p.windowMs);
  if (recent.length >= p.maxStarts) return { kind: 'give-up', starts: recent.length };
  const attempt = recent.length + 1;
  const last = recent.length > 0 ? recent[recent.length - 1] : -Infinity;
  const untilMs = Math.max(h.deadSince, last) + backoffDelay(attempt, p);
  return nowMs >= untilMs ? { kind: 'restart', attempt } : { kind: 'wait', untilMs };
}

/** What one data node of an HA cluster left on disk, and what the records say of its role. */
export interface PrimaryCandidate {
  nodeId: string;
  /** The second of the last write in its write log (AOF `#TS:` annotation); null: none logged. */
  lastWriteAt: number | null;
  /** Whether it has any dataset on disk at all. */
  hasData: boolean;
  /** The highest Sentinel configuration epoch among the Sentinel files that name it primary. */
  sentinelEpoch: number | null;
  /** The store names it the primary (MASTER). */
  storePrimary: boolean;
}

/**
 * How much later (seconds) a replica's last logged write may be than its primary's: a replica
 * logs a write when it applies it, a moment after the primary did, so its annotation can fall in
 * the next second. A write later than this means the node took writes of its own (it was promoted).
 */
export const REPLICA_LAG_MARGIN_S = 2;

export interface PrimaryChoice {
  nodeId: string;
  why: string;
}

/**
 * The primary for an HA cluster whose every data node died. Replication offsets do not survive a
 * restart from the AOF (both engines start at offset 0), so the choice rests on what was written:
 * every write an HA cluster acknowledged was logged by the primary of that moment, and replicas
 * hold a prefix of the primary's stream. The last primary is the one the newest Sentinel
 * configuration names (Sentinel rewrites and syncs its file at every failover, before clients
 * can learn the new primary from it), else the one the store names. It is chosen, unless another
 * node logged writes clearly later than it did: then that node took writes as a primary after
 * the records were written, and the node with the latest write is chosen.
 */
export function choosePrimary(candidates: PrimaryCandidate[]): PrimaryChoice {
  if (candidates.length === 0) throw new Error('an HA cluster without data nodes has no primary to choose');
  // A node with nothing on disk never took a write; one that has data wins over it.
  if (candidates.some((c) => c.hasData)) candidates = candidates.filter((c) => c.hasData);
  const byEpoch = candidates.filter((c) => c.sentinelEpoch !== null).sort((a, b) => b.sentinelEpoch! - a.sentinelEpoch!);
  const recorded = byEpoch[0] ?? candidates.find((c) => c.storePrimary) ?? candidates[0];
  const source = byEpoch[0] ? `the newest Sentinel configuration (epoch ${byEpoch[0].sentinelEpoch})` : 'the service records';
  const written = candidates.filter((c) => c.lastWriteAt !== null).sort((a, b) => b.lastWriteAt! - a.lastWriteAt! || Number(b === recorded) - Number(a === recorded));
  const latest = written[0];
  if (!latest || latest === recorded) return { nodeId: recorded.nodeId, why: `last primary by ${source}${latest ? ', and the latest write' : ''}` };
  // Nothing logged since its last rewrite: its writes are in the rewrite's base, whose time
  // the log does not say, so the records stand.
  if (recorded.lastWriteAt === null) return { nodeId: recorded.nodeId, why: `last primary by ${source}` };
  if (latest.lastWriteAt! - recorded.lastWriteAt <= REPLICA_LAG_MARGIN_S) {
    return { nodeId: recorded.nodeId, why: `last primary by ${source}; no other node logged a write more than ${REPLICA_LAG_MARGIN_S} s after its last one` };
  }
  return { nodeId: latest.nodeId, why: `it logged the latest write, over ${REPLICA_LAG_MARGIN_S} s after the last primary by ${source}, so it took writes as a primary since` };
}
