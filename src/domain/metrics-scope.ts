// Which clusters and values GET /metrics reports: pure decisions, tested beside this file.
import type { BackupHistory, ServiceState } from './model.js';

/**
 * States in which a cluster's engines are meant to run, so a node that does not answer is news
 * (cachestore_engine_up 0). A cluster being created, started, stopped or terminated has nodes
 * going up or down on purpose; a stopped, failed or terminated one has none: their engines are
 * not read (no connection attempts, no false alarms).
 */
const ENGINES_SHOULD_RUN: ReadonlySet<ServiceState> = new Set<ServiceState>(['RUNNING', 'ERROR', 'EDITING', 'SYNCHRONIZING', 'UPGRADING', 'MIGRATING']);

export function enginesShouldRun(state: ServiceState): boolean {
  return ENGINES_SHOULD_RUN.has(state);
}

/** Seconds since the newest completed backup ended; null when the cluster has none. */
export function lastBackupAgeSeconds(backups: ReadonlyArray<Pick<BackupHistory, 'state' | 'endedAt'>>, nowMs: number): number | null {
  let newest = -Infinity;
  for (const b of backups) {
    if (b.state !== 'COMPLETED' || !b.endedAt) continue;
    const t = Date.parse(b.endedAt);
    if (Number.isFinite(t) && t > newest) newest = t;
  }
  return newest === -Infinity ? null : Math.max(0, (nowMs - newest) / 1000);
}

/** Who is scraping: the scrape token sees everything, a signed request its own account only. */
export type MetricsScope = { kind: 'operator' } | { kind: 'account'; accountId: string };

/** The `cluster_id` query parameter: absent, or one plain id (a repeated or empty one is refused). */
export function clusterFilter(query: Record<string, unknown>): { ok: true; clusterId: string | undefined } | { ok: false; problem: string } {
  const v = query.cluster_id;
  if (v === undefined) return { ok: true, clusterId: undefined };
  if (typeof v !== 'string' || v === '' || v.length > 128) return { ok: false, problem: 'cluster_id must be one cluster id (sent once, at most 128 characters)' };
  return { ok: true, clusterId: v };
}
