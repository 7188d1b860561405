// The chart panel's model: Prometheus text exposition parsed, kept per instance, counters turned
// into rates, and drawn as sparkline paths.
import { describe, expect, it } from 'vitest';
import { formatValue, MetricHistory, parseExposition, sparklinePath } from './metrics.js';

const SCRAPE = (hits: number, used: number) => `# HELP cachestore_engine_used_memory_bytes Memory the engine uses.
# TYPE cachestore_engine_used_memory_bytes gauge
cachestore_engine_used_memory_bytes{cluster_id="c1",instance_id="i-b"} ${used}
cachestore_engine_used_memory_bytes{cluster_id="c1",instance_id="i-a"} 2048
cachestore_engine_used_memory_bytes{cluster_id="c2",instance_id="i-z"} 999
# TYPE cachestore_engine_keyspace_hits_total counter
cachestore_engine_keyspace_hits_total{cluster_id="c1",instance_id="i-a"} ${hits} 1700000000000

cachestore_engine_ops_per_second{cluster_id="c1",instance_id="i-a"} 1.5e2
`;

describe('the metrics text parser', () => {
  it('reads names, labels and values, skipping comments and blank lines', () => {
    const s = parseExposition(SCRAPE(10, 1024));
    expect(s).toHaveLength(5);
    expect(s[0]).toEqual({ name: 'cachestore_engine_used_memory_bytes', labels: { cluster_id: 'c1', instance_id: 'i-b' }, value: 1024 });
    expect(s[3]).toEqual({ name: 'cachestore_engine_keyspace_hits_total', labels: { cluster_id: 'c1', instance_id: 'i-a' }, value: 10 });
    expect(s[4].value).toBe(150);
  });

  it('reads escaped label values, special values, and lines without labels; drops broken lines', () => {
    const s = parseExposition('up 1\nx{a="q\\"uote",b="back\\\\slash"} +Inf\nbroken{a="1"\ny{a="1"} NaN\nz{} not-a-number\n');
    expect(s.map((x) => x.name)).toEqual(['up', 'x', 'y']);
    expect(s[1].labels).toEqual({ a: 'q"uote', b: 'back\\slash' });
    expect(s[1].value).toBe(Infinity);
    expect(s[2].value).toBeNaN();
  });
});

describe('the chart model', () => {
  it("keeps one series per instance of the page's cluster, and counters as rates per second", () => {
    const m = new MetricHistory(3);
    m.add(parseExposition(SCRAPE(100, 1000)), 0, 'c1');
    m.add(parseExposition(SCRAPE(150, 2000)), 5000, 'c1');
    m.add(parseExposition(SCRAPE(250, 3000)), 10000, 'c1');
    const mem = m.of('cachestore_engine_used_memory_bytes');
    // Another cluster's instance is not drawn; instances in name order.
    expect(mem.map((s) => s.instance)).toEqual(['i-a', 'i-b']);
    expect(mem[1].points).toEqual([{ t: 0, v: 1000 }, { t: 5000, v: 2000 }, { t: 10000, v: 3000 }]);
    // A counter has a rate from its second scrape: 50 hits in 5 s, then 100 in 5 s.
    expect(m.of('cachestore_engine_keyspace_hits_total')[0].points).toEqual([{ t: 5000, v: 10 }, { t: 10000, v: 20 }]);
  });

  it('forgets the oldest points past its length, and skips the step where a counter was reset', () => {
    const m = new MetricHistory(2);
    for (const [i, hits] of [100, 200, 5, 25].entries()) m.add(parseExposition(SCRAPE(hits, i)), i * 1000, 'c1');
    expect(m.of('cachestore_engine_used_memory_bytes')[1].points.map((p) => p.v)).toEqual([2, 3]);
    expect(m.of('cachestore_engine_keyspace_hits_total')[0].points).toEqual([{ t: 1000, v: 100 }, { t: 3000, v: 20 }]);
  });

  it('draws time left to right and values bottom to top in the box', () => {
    const d = sparklinePath([{ t: 0, v: 0 }, { t: 50, v: 5 }, { t: 100, v: 10 }], 200, 40);
    expect(d).toBe('M0 40 L100 20 L200 0');
    expect(sparklinePath([], 200, 40)).toBe('');
    // One point, or all zero: a flat line at the bottom, never NaN.
    expect(sparklinePath([{ t: 5, v: 0 }], 200, 40)).toBe('M200 40');
    expect(sparklinePath([{ t: 0, v: 4 }, { t: 10, v: 8 }], 100, 10, 16)).toBe('M0 7.5 L100 5');
  });

  it('formats bytes and rates for the legend', () => {
    expect(formatValue(1536, 'bytes')).toBe('1.5 KiB');
    expect(formatValue(3 * 2 ** 20, 'bytes')).toBe('3.0 MiB');
    expect(formatValue(12, 'bytes')).toBe('12 B');
    expect(formatValue(2.25, 'ops/s')).toBe('2.3 ops/s');
  });
});
