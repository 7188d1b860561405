// The series GET /metrics exposes (README "Metrics"), in Prometheus' text format via prom-client.
// The service's own series live in one registry for the life of the process; the engine series
// are built per scrape from a reading (engine-metrics.ts), so a terminated cluster's series
// vanish and nothing is kept for clusters nobody scrapes. Labels are bounded: operation is the
// contract's operationId (or "unmatched"), status an HTTP code, kind/step names from the
// workflow definitions, finding one of the reconciler's kinds; engine series carry only
// cluster_id and instance_id (and role on the role gauge).
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { BackupHistory, OperationRequest } from '../domain/model.js';
import type { ClusterSample } from './engine-metrics.js';

/** What the worker and the reconciler report (operations/worker.ts, operations/reconciler.ts). */
export interface OperationsMetrics {
  /** A workflow step finished. */
  step(kind: string, step: string, seconds: number): void;
  /** A request ended. */
  finished(request: OperationRequest, outcome: 'COMPLETED' | 'FAILED'): void;
  /** Something the reconciler found and recorded (a bounded kind, see FINDINGS). */
  finding(kind: Finding): void;
}

/** What the reconciler finds; `failover` is a new primary it did not make itself. */
export const FINDINGS = [
  'failover', 'instance-state-changed', 'cluster-state-changed', 'sentinel-not-answering', 'engine-not-running',
  'node-restarted', 'node-restart-failed', 'crash-loop', 'disk-full', 'disk-has-room', 'cluster-recovered', 'cluster-recovery-failed',
] as const;
export type Finding = (typeof FINDINGS)[number];

/** Few buckets: every request observes one (issue 17 measures the hot path). */
export const HTTP_BUCKETS = [0.005, 0.025, 0.1, 0.5, 2.5];

/** One operation's answers: counts by status, and its latency histogram (per bucket, not cumulative). */
interface OperationCounts {
  statuses: Map<number, number>;
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * The two HTTP series, counted in plain numbers on the hot path and turned into prom-client's
 * values only when scraped. prom-client's own Counter and Histogram hash the label set on every
 * call (about 2 µs each on the loaded bench machine, 40 times a Map update): with one of each per
 * request that was a measurable share of Show Cluster's time. The registry renders these objects
 * like its own metrics (it calls `get()`).
 */
class HttpSeries {
  private readonly ops = new Map<string, OperationCounts>();

  record(operation: string, status: number, seconds: number): void {
    let o = this.ops.get(operation);
    if (!o) this.ops.set(operation, (o = { statuses: new Map(), buckets: HTTP_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    o.statuses.set(status, (o.statuses.get(status) ?? 0) + 1);
    const i = HTTP_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) o.buckets[i]++;
    o.sum += seconds;
    o.count++;
  }

  register(registry: Registry): void {
    type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]) =>
      registry.registerMetric({ name, help, type, get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) } as unknown as Metric);
    metric('cachestore_http_requests_total', 'HTTP requests answered, by contract operation and status', 'counter', () =>
      [...this.ops].flatMap(([operation, o]) => [...o.statuses].map(([status, value]) => ({ labels: { operation, status }, value }))),
    );
    const name = 'cachestore_http_request_duration_seconds';
    metric(name, 'Time to answer an HTTP request, by contract operation', 'histogram', () =>
      [...this.ops].flatMap(([operation, o]): Sample[] => {
        let cumulative = 0;
        return [
          ...HTTP_BUCKETS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { operation, le }, value: (cumulative += o.buckets[i]) })),
          { metricName: `${name}_bucket`, labels: { operation, le: '+Inf' }, value: o.count },
          { metricName: `${name}_sum`, labels: { operation }, value: o.sum },
          { metricName: `${name}_count`, labels: { operation }, value: o.count },
        ];
      }),
    );
  }
}

export class ServiceMetrics implements OperationsMetrics {
  readonly registry = new Registry();
  private readonly http = new HttpSeries();
  private readonly steps = new Histogram({
    name: 'cachestore_workflow_step_duration_seconds',
    help: 'Time a workflow step took, by operation kind and step',
    labelNames: ['kind', 'step'],
    buckets: [0.1, 0.5, 2, 10, 60, 300],
    registers: [this.registry],
  });
  private readonly failovers = new Counter({ name: 'cachestore_failovers_total', help: 'New primaries the service found that no switchover made (Sentinel failovers)', registers: [this.registry] });
  private readonly switchovers = new Counter({ name: 'cachestore_switchovers_total', help: 'Switchovers (Switchover requests) completed', registers: [this.registry] });
  private readonly backups = new Counter({ name: 'cachestore_backups_total', help: 'Backup requests ended, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly backupSizes = new Histogram({
    name: 'cachestore_backup_size_bytes',
    help: 'Size of completed backups',
    buckets: [2 ** 20, 2 ** 24, 2 ** 28, 2 ** 32, 2 ** 36],
    registers: [this.registry],
  });
  private readonly backupDurations = new Histogram({
    name: 'cachestore_backup_duration_seconds',
    help: 'Time from the start of a backup to its end, completed or failed',
    buckets: [1, 10, 60, 600, 3600],
    registers: [this.registry],
  });
  private readonly findings = new Counter({ name: 'cachestore_reconciler_findings_total', help: 'What the reconciler found and recorded, by kind', labelNames: ['finding'], registers: [this.registry] });

  constructor(private readonly backupOf: (request: OperationRequest) => Promise<BackupHistory | undefined> = async () => undefined) {
    this.http.register(this.registry);
    for (const outcome of ['completed', 'failed']) this.backups.labels(outcome).inc(0);
  }

  /** One answered HTTP request (called from the app's onResponse hook). */
  httpRequest(operation: string, status: number, seconds: number): void {
    this.http.record(operation, status, seconds);
  }

  step(kind: string, step: string, seconds: number): void {
    this.steps.labels(kind, step).observe(seconds);
  }

  finished(request: OperationRequest, outcome: 'COMPLETED' | 'FAILED'): void {
    if (request.operation === 'switchover' && outcome === 'COMPLETED') this.switchovers.inc();
    if (request.operation !== 'backup') return;
    this.backups.labels(outcome === 'COMPLETED' ? 'completed' : 'failed').inc();
    // Size and duration from the backup's own record (it says when it started and ended).
    void this.backupOf(request)
      .then((b) => {
        if (!b) return;
        if (b.state === 'COMPLETED' && b.sizeBytes !== null) this.backupSizes.observe(b.sizeBytes);
        const ended = b.endedAt ? Date.parse(b.endedAt) : NaN;
        const started = Date.parse(b.startedAt);
        if (Number.isFinite(ended) && Number.isFinite(started)) this.backupDurations.observe(Math.max(0, (ended - started) / 1000));
      })
      .catch(() => undefined);
  }

  finding(kind: Finding): void {
    this.findings.labels(kind).inc();
    if (kind === 'failover') this.failovers.inc();
  }

  /** The service's own series, as text. */
  async serviceText(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The engine series of a reading, as text (a registry per scrape: no series outlives its cluster). */
export async function engineText(samples: ClusterSample[]): Promise<string> {
  const registry = new Registry();
  const g = (name: string, help: string, labelNames: string[] = ['cluster_id', 'instance_id']) => new Gauge({ name, help, labelNames, registers: [registry] });
  const up = g('cachestore_engine_up', '1 when the engine or Sentinel answered the scrape, 0 when it did not');
  const role = g('cachestore_engine_role', 'The role the node reports (1), by role: primary, replica or sentinel', ['cluster_id', 'instance_id', 'role']);
  const values: Array<[Gauge, (s: NonNullable<ClusterSample['nodes'][number]['stats']>) => number | undefined]> = [
    [g('cachestore_engine_used_memory_bytes', 'Memory the engine uses (used_memory)'), (s) => s.usedMemoryBytes],
    [g('cachestore_engine_maxmemory_bytes', 'The engine\'s memory limit (maxmemory; 0: none)'), (s) => s.maxMemoryBytes],
    [g('cachestore_engine_ops_per_second', 'Commands per second the engine reports (instantaneous_ops_per_sec)'), (s) => s.opsPerSecond],
    [g('cachestore_engine_connected_clients', 'Client connections, the service\'s own included'), (s) => s.connectedClients],
    [g('cachestore_engine_keyspace_hits_total', 'Key lookups that found the key, since the engine started'), (s) => s.keyspaceHits],
    [g('cachestore_engine_keyspace_misses_total', 'Key lookups that did not find the key, since the engine started'), (s) => s.keyspaceMisses],
    [g('cachestore_engine_evicted_keys_total', 'Keys evicted for maxmemory, since the engine started'), (s) => s.evictedKeys],
  ];
  const lag = g('cachestore_engine_replication_lag_bytes', "Bytes of the primary's replication stream a replica has not processed");
  const backupAge = g('cachestore_cluster_last_backup_age_seconds', 'Seconds since the newest completed backup of the cluster ended', ['cluster_id']);
  for (const c of samples) {
    if (c.lastBackupAgeSeconds !== null) backupAge.labels(c.clusterId).set(c.lastBackupAgeSeconds);
    for (const n of c.nodes) {
      const labels = [n.clusterId, n.instanceId];
      up.labels(...labels).set(n.stats ? 1 : 0);
      if (!n.stats) continue;
      role.labels(...labels, n.stats.role).set(1);
      for (const [gauge, pick] of values) {
        const v = pick(n.stats);
        if (v !== undefined) gauge.labels(...labels).set(v);
      }
      if (n.lagBytes !== undefined) lag.labels(...labels).set(n.lagBytes);
    }
  }
  return registry.metrics();
}

/** The exposition format's content type, as prom-client writes it. */
export const METRICS_CONTENT_TYPE = new Registry().contentType;
