// What GET /metrics reports of one engine or Sentinel, read from its INFO at scrape time (never
// polled in the background: issue 15). One INFO per node per scrape window; see
// operations/engine-metrics.ts for the cache and the concurrency bound.
import type { Endpoint } from './client.js';
import { parseInfo, withClient } from './replication.js';

export type EngineRole = 'primary' | 'replica' | 'sentinel';

export interface EngineStats {
  role: EngineRole;
  /** Absent on a Sentinel (its INFO has no memory or keyspace sections). */
  usedMemoryBytes?: number;
  maxMemoryBytes?: number;
  opsPerSecond?: number;
  connectedClients?: number;
  keyspaceHits?: number;
  keyspaceMisses?: number;
  evictedKeys?: number;
  /** master_repl_offset on a primary, slave_repl_offset on a replica. */
  replicationOffset?: number;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** INFO's fields (parseInfo) → the values the metrics report. */
export function engineStats(info: Record<string, string>): EngineStats {
  const role: EngineRole = info.redis_mode === 'sentinel' || info.server_mode === 'sentinel' ? 'sentinel' : info.role === 'slave' || info.role === 'replica' ? 'replica' : 'primary';
  const stats: EngineStats = { role, connectedClients: num(info.connected_clients) };
  if (role === 'sentinel') return stats;
  return {
    ...stats,
    usedMemoryBytes: num(info.used_memory),
    maxMemoryBytes: num(info.maxmemory),
    opsPerSecond: num(info.instantaneous_ops_per_sec),
    keyspaceHits: num(info.keyspace_hits),
    keyspaceMisses: num(info.keyspace_misses),
    evictedKeys: num(info.evicted_keys),
    replicationOffset: num(role === 'replica' ? info.slave_repl_offset : info.master_repl_offset),
  };
}

/** How many bytes of the primary's stream a replica has not processed (never negative). */
export function replicationLagBytes(primaryOffset: number, replicaOffset: number): number {
  return Math.max(0, primaryOffset - replicaOffset);
}

/** One INFO through the given (the service's own) endpoint; throws when the node does not answer. */
export async function readEngineStats(ep: Endpoint, timeoutMs = 500): Promise<EngineStats> {
  return withClient(ep, async (c) => engineStats(parseInfo(await c.info())), timeoutMs);
}
