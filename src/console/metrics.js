// The cluster page's charts: Prometheus text exposition from GET /metrics parsed into samples,
// kept as a short history per series and instance, drawn as SVG sparkline paths. Pure: no DOM.

/** Sample lines of the text format: `name{a="b",c="d"} value [timestamp]`; comments and blanks skipped. */
export function parseExposition(text) {
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) continue;
    const value = parseValue(m[4]);
    if (value === undefined) continue;
    out.push({ name: m[1], labels: parseLabels(m[3] ?? ''), value });
  }
  return out;
}

function parseValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return Number.isNaN(n) ? undefined : n;
}

function parseLabels(s) {
  const labels = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
  let m;
  while ((m = re.exec(s))) labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
  return labels;
}

/** The charts the cluster page shows, in order; counters are drawn as their rate per second. */
export const CHARTS = [
  { metric: 'cachestore_engine_used_memory_bytes', title: 'Used memory', unit: 'bytes', kind: 'gauge' },
  { metric: 'cachestore_engine_ops_per_second', title: 'Operations per second', unit: 'ops/s', kind: 'gauge' },
  { metric: 'cachestore_engine_connected_clients', title: 'Connected clients', unit: 'clients', kind: 'gauge' },
  { metric: 'cachestore_engine_keyspace_hits_total', title: 'Keyspace hits', unit: 'hits/s', kind: 'counter' },
  { metric: 'cachestore_engine_keyspace_misses_total', title: 'Keyspace misses', unit: 'misses/s', kind: 'counter' },
];

/** A rolling history of the charted series, per instance: the last `keep` scrapes. */
export class MetricHistory {
  constructor(keep = 60) {
    this.keep = keep;
    /** metric -> instance_id -> [{ t, v }] (v is the rate for counters) */
    this.series = new Map();
    /** metric -> instance_id -> last raw { t, v } of a counter */
    this.lastRaw = new Map();
  }

  /** Adds one scrape taken at `t` (ms); only the charted metrics of cluster `clusterId`. */
  add(samples, t, clusterId) {
    for (const chart of CHARTS) {
      for (const s of samples) {
        if (s.name !== chart.metric || (clusterId && s.labels.cluster_id !== clusterId)) continue;
        const instance = s.labels.instance_id ?? '';
        let v = s.value;
        if (chart.kind === 'counter') {
          const raws = this.lastRaw.get(chart.metric) ?? new Map();
          this.lastRaw.set(chart.metric, raws);
          const prev = raws.get(instance);
          raws.set(instance, { t, v });
          // A counter that went down was reset (engine restarted): no rate for that step.
          if (!prev || t <= prev.t || v < prev.v) continue;
          v = ((v - prev.v) * 1000) / (t - prev.t);
        }
        const byInstance = this.series.get(chart.metric) ?? new Map();
        this.series.set(chart.metric, byInstance);
        const points = byInstance.get(instance) ?? [];
        byInstance.set(instance, points);
        points.push({ t, v });
        if (points.length > this.keep) points.splice(0, points.length - this.keep);
      }
    }
  }

  /** [{ instance, points }] of one metric, instances by name. */
  of(metric) {
    const byInstance = this.series.get(metric) ?? new Map();
    return [...byInstance.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([instance, points]) => ({ instance, points }));
  }
}

/**
 * An SVG path ("M x y L x y ...") through `points` in a width x height box: time left to right
 * over the points' own span, values bottom to top from 0 to `max` (default the largest value).
 */
export function sparklinePath(points, width, height, max) {
  if (points.length === 0) return '';
  const top = max ?? Math.max(...points.map((p) => p.v));
  const t0 = points[0].t;
  const span = points[points.length - 1].t - t0;
  const x = (t) => (span === 0 ? width : ((t - t0) / span) * width);
  const y = (v) => (top > 0 ? height - (Math.min(v, top) / top) * height : height);
  const fmt = (n) => Number(n.toFixed(1));
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${fmt(x(p.t))} ${fmt(y(p.v))}`).join(' ');
}

/** A value as a person reads it: 1.5 MiB, 12.3 ops/s. */
export function formatValue(v, unit) {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
}
