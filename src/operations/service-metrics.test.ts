import { describe, expect, it } from 'vitest';
import { one, parseExposition, select } from '../../test/support/prometheus.js';
import { engineText, ServiceMetrics } from './service-metrics.js';

describe('the HTTP series (counted on the hot path, rendered at scrape)', () => {
  it('counts answers by operation and status, and renders a cumulative histogram with +Inf, sum and count', async () => {
    const m = new ServiceMetrics();
    for (const s of [0.003, 0.03, 0.004]) m.httpRequest('cachestoreShowCluster', 200, s);
    m.httpRequest('cachestoreShowCluster', 401, 3);
    m.httpRequest('unmatched', 404, 0.0001);
    const e = parseExposition(await m.serviceText());
    expect(e.types.get('cachestore_http_requests_total')).toBe('counter');
    expect(e.types.get('cachestore_http_request_duration_seconds')).toBe('histogram');
    expect(one(e, 'cachestore_http_requests_total', { operation: 'cachestoreShowCluster', status: '200' })).toBe(3);
    expect(one(e, 'cachestore_http_requests_total', { operation: 'cachestoreShowCluster', status: '401' })).toBe(1);
    expect(one(e, 'cachestore_http_requests_total', { operation: 'unmatched', status: '404' })).toBe(1);
    const show = { operation: 'cachestoreShowCluster' };
    const buckets = select(e, 'cachestore_http_request_duration_seconds_bucket', show).map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([['0.005', 2], ['0.025', 2], ['0.1', 3], ['0.5', 3], ['2.5', 3], ['+Inf', 4]]);
    expect(one(e, 'cachestore_http_request_duration_seconds_count', show)).toBe(4);
    expect(one(e, 'cachestore_http_request_duration_seconds_sum', show)).toBeCloseTo(3.037, 9);
  });
});

describe('the engine series of a reading', () => {
  it('gives a dead node up 0 and nothing else, a live one its role and values, a replica its lag', async () => {
    const e = parseExposition(
      await engineText([
        {
          clusterId: 'c1',
          lastBackupAgeSeconds: 42,
          nodes: [
            { clusterId: 'c1', instanceId: 'p', stats: { role: 'primary', usedMemoryBytes: 100, maxMemoryBytes: 1000, keyspaceHits: 5 } },
            { clusterId: 'c1', instanceId: 'r', stats: { role: 'replica', usedMemoryBytes: 90 }, lagBytes: 7 },
            { clusterId: 'c1', instanceId: 'dead', stats: null },
          ],
        },
        { clusterId: 'c2', lastBackupAgeSeconds: null, nodes: [] },
      ]),
    );
    expect(one(e, 'cachestore_engine_up', { instance_id: 'dead' })).toBe(0);
    expect(e.samples.filter((s) => s.labels.instance_id === 'dead').map((s) => s.name)).toEqual(['cachestore_engine_up']);
    expect(select(e, 'cachestore_engine_role', { cluster_id: 'c1' }).map((s) => [s.labels.instance_id, s.labels.role, s.value])).toEqual([
      ['p', 'primary', 1],
      ['r', 'replica', 1],
    ]);
    expect(one(e, 'cachestore_engine_keyspace_hits_total', { instance_id: 'p' })).toBe(5);
    expect(select(e, 'cachestore_engine_keyspace_hits_total', { instance_id: 'r' })).toEqual([]);
    expect(one(e, 'cachestore_engine_replication_lag_bytes', { instance_id: 'r' })).toBe(7);
    expect(one(e, 'cachestore_cluster_last_backup_age_seconds', { cluster_id: 'c1' })).toBe(42);
    expect(select(e, 'cachestore_cluster_last_backup_age_seconds', { cluster_id: 'c2' })).toEqual([]);
  });
});
