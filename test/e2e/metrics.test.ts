// GET /metrics against a real service and real engines: the exposition parses, each node shows
// with its role and its engine's own numbers (memory after real writes, hits and misses of real
// GETs), HTTP series count real requests, a signed scrape sees only its account's clusters, the
// scrape token is needed for the rest, a backup, a switchover and a failover are counted, a
// SIGKILLed replica is `up 0` (no 5xx), one reading serves overlapping scrapes, and every series
// the Grafana dashboard asks for exists.
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/operations/engine-metrics.js';
import { readEngineStats } from '../../src/engines/engine-stats.js';
import { SignedClient } from '../support/client.js';
import { connectTo } from '../support/dataset.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, settle, startHarness, type Harness } from '../support/harness.js';
import { one, parseExposition, select, valueOr0, type Exposition } from '../support/prometheus.js';
import { sigkillEngine } from '../support/engines.js';
import { waitFor } from '../support/writer.js';

const OTHER_ACCOUNT = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
let h: Harness;
let other: SignedClient;
let token: string;
const ids = { standalone: '', ha: '', others: '' };
/** Instance ids by role, from the store. */
const nodes = { standalone: '', haPrimary: '', haReplica: '', haReplica2: '', haReplica2Name: '', haSentinel: '', standaloneIp: '' };

beforeAll(async () => {
  h = await startHarness({
    // Readings are kept 100 ms (not 5 s), so a test sees what it just did without waiting long.
    CACHESTORE_METRICS_CACHE_MS: '100',
    // No automatic restart: the SIGKILLed replica stays dead for the scrape to see.
    CACHESTORE_HEAL_AFTER_MS: '0',
  });
  token = readFileSync(join(h.dataDir, 'metrics-token'), 'utf8').trim();
  await h.service.store.saveCredential({ accessKey: 'metrics-other-key', secretKey: 'metrics-other-secret', accountId: OTHER_ACCOUNT, userId: 'd'.repeat(32) });
  other = new SignedClient(h.baseUrl, { accessKey: 'metrics-other-key', secretKey: 'metrics-other-secret' });
  const [engine] = await engineVersions(h.client);
  const made = await Promise.all([
    h.client.post('/v1/clusters', createBody(engine, { name: 'metricsone' })),
    h.client.post('/v1/clusters', haBody(engine, 2, { name: 'metricsha' })),
    other.post('/v1/clusters', createBody(engine, { name: 'metricsother' })),
  ]);
  for (const r of made) expect(r.status, JSON.stringify(r.body)).toBe(202);
  [ids.standalone, ids.ha, ids.others] = made.map((r) => r.body.resource.id as string);
  await Promise.all([
    settle(h.client, made[0].body.request_id, ids.standalone, 60_000),
    settle(h.client, made[1].body.request_id, ids.ha, 90_000),
    settle(other, made[2].body.request_id, ids.others, 60_000),
  ]);
  const standalone = (await h.service.store.clusterDetail(null, ids.standalone))!.instances;
  nodes.standalone = standalone[0].id;
  nodes.standaloneIp = standalone[0].serviceIpAddress;
  const ha = (await h.service.store.clusterDetail(null, ids.ha))!.instances;
  nodes.haPrimary = ha.find((i) => i.roleType === 'MASTER')!.id;
  const replicas = ha.filter((i) => i.roleType === 'REPLICA');
  nodes.haReplica = replicas[0].id;
  nodes.haReplica2 = replicas[1].id;
  nodes.haReplica2Name = replicas[1].name;
  nodes.haSentinel = ha.find((i) => i.roleType === 'SENTINEL')!.id;
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

async function scrape(path = '/metrics', auth = `Bearer ${token}`): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(h.baseUrl + path, { headers: { authorization: auth } });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

async function scraped(): Promise<Exposition> {
  const r = await scrape();
  expect(r.status, r.text).toBe(200);
  return parseExposition(r.text);
}

/** Scrapes until `pick` gives a value (readings are kept 100 ms). */
function until<T>(what: string, pick: (e: Exposition) => T | undefined | false): Promise<T> {
  return waitFor(what, async () => pick(await scraped()), 20_000, 50);
}

describe('GET /metrics with the scrape token', () => {
  it('keeps a random token in the data dir, readable by the owner only', async () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect((await stat(join(h.dataDir, 'metrics-token'))).mode & 0o777).toBe(0o600);
  });

  it('answers the text exposition with every node of every cluster and its role', async () => {
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const e = parseExposition(r.text);
    expect(e.types.get('cachestore_http_request_duration_seconds')).toBe('histogram');
    expect(e.types.get('cachestore_engine_up')).toBe('gauge');
    const role = (cluster: string, instance: string) => select(e, 'cachestore_engine_role', { cluster_id: cluster, instance_id: instance }).map((s) => s.labels.role);
    expect(role(ids.standalone, nodes.standalone)).toEqual(['primary']);
    expect(role(ids.ha, nodes.haPrimary)).toEqual(['primary']);
    expect(role(ids.ha, nodes.haReplica)).toEqual(['replica']);
    expect(role(ids.ha, nodes.haReplica2)).toEqual(['replica']);
    expect(role(ids.ha, nodes.haSentinel)).toEqual(['sentinel']);
    // The Sentinels beside the data nodes, each its own series.
    expect(role(ids.ha, `${nodes.haPrimary}-sentinel`)).toEqual(['sentinel']);
    expect(role(ids.ha, `${nodes.haReplica}-sentinel`)).toEqual(['sentinel']);
    // Every account's clusters, each node up.
    const up = select(e, 'cachestore_engine_up');
    expect(new Set(up.map((s) => s.labels.cluster_id))).toEqual(new Set([ids.standalone, ids.ha, ids.others]));
    // HA: three data nodes, a Sentinel beside each, and the SENTINEL group's instance.
    expect(up.length).toBe(1 + 7 + 1);
    expect(up.every((s) => s.value === 1)).toBe(true);
    // maxmemory as the server type sets it, and a replica's lag (a number of bytes, 0 or more).
    expect(one(e, 'cachestore_engine_maxmemory_bytes', { instance_id: nodes.standalone })).toBeGreaterThan(0);
    expect(one(e, 'cachestore_engine_replication_lag_bytes', { instance_id: nodes.haReplica })).toBeGreaterThanOrEqual(0);
    expect(select(e, 'cachestore_engine_replication_lag_bytes', { instance_id: nodes.haPrimary })).toEqual([]);
  });

  it("shows the engine's used memory grow after ~1 MB is written", async () => {
    const before = one(await scraped(), 'cachestore_engine_used_memory_bytes', { instance_id: nodes.standalone });
    const c = connectTo(nodes.standaloneIp);
    await c.connect();
    try {
      const p = c.pipeline();
      for (let i = 0; i < 64; i++) p.set(`mem:${i}`, 'x'.repeat(16 * 1024));
      await p.exec();
    } finally {
      c.disconnect();
    }
    const after = await until('used memory to grow', (e) => {
      const v = one(e, 'cachestore_engine_used_memory_bytes', { instance_id: nodes.standalone });
      return v >= before + 1_000_000 && v;
    });
    expect(after - before).toBeLessThan(4_000_000);
  });

  it('counts keyspace hits and misses of real GETs', async () => {
    const e0 = await scraped();
    const labels = { instance_id: nodes.standalone };
    const hits0 = one(e0, 'cachestore_engine_keyspace_hits_total', labels);
    const misses0 = one(e0, 'cachestore_engine_keyspace_misses_total', labels);
    const c = connectTo(nodes.standaloneIp);
    await c.connect();
    try {
      await c.set('seen', '1');
      for (let i = 0; i < 5; i++) await c.get('seen');
      for (let i = 0; i < 3; i++) await c.get(`unseen:${i}`);
    } finally {
      c.disconnect();
    }
    const e = await until('hits and misses to show', (x) => one(x, 'cachestore_engine_keyspace_misses_total', labels) >= misses0 + 3 && x);
    expect(one(e, 'cachestore_engine_keyspace_hits_total', labels)).toBe(hits0 + 5);
    expect(one(e, 'cachestore_engine_keyspace_misses_total', labels)).toBe(misses0 + 3);
  });

  it('counts a Show Cluster in the HTTP series, by operationId and status, never by URL', async () => {
    const labels = { operation: 'cachestoreShowCluster', status: '200' };
    const e0 = await scraped();
    const n0 = valueOr0(e0, 'cachestore_http_requests_total', labels);
    const d0 = valueOr0(e0, 'cachestore_http_request_duration_seconds_count', { operation: 'cachestoreShowCluster' });
    expect((await h.client.get(`/v1/clusters/${ids.standalone}`)).status).toBe(200);
    // An unknown path is "unmatched", not its URL.
    expect((await fetch(`${h.baseUrl}/v1/no-such-thing/${ids.standalone}`)).status).toBe(404);
    const e = await scraped();
    expect(one(e, 'cachestore_http_requests_total', labels)).toBe(n0 + 1);
    expect(one(e, 'cachestore_http_request_duration_seconds_count', { operation: 'cachestoreShowCluster' })).toBe(d0 + 1);
    expect(one(e, 'cachestore_http_requests_total', { operation: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(select(e, 'cachestore_http_requests_total').every((s) => /^[A-Za-z]+$/.test(s.labels.operation))).toBe(true);
    // The create requests ran their workflows' steps.
    expect(select(e, 'cachestore_workflow_step_duration_seconds_count', { kind: 'create' }).length).toBeGreaterThan(0);
  });
});

describe('who may scrape', () => {
  it('answers 401 in the error shape without a credential, or with a wrong token', async () => {
    const bare = await fetch(`${h.baseUrl}/metrics`);
    const e = expectErrorShape({ status: bare.status, body: await bare.json() }, 401, 'Unauthorized');
    expect(e.detail).toMatch(/metrics-token/);
    const wrong = await scrape('/metrics', 'Bearer not-the-token');
    expectErrorShape({ status: wrong.status, body: JSON.parse(wrong.text) }, 401, 'Unauthorized');
    expect(wrong.text).not.toContain(token);
    for (const auth of ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${token} extra`, `${token}`]) {
      const r = await scrape('/metrics', auth);
      expectErrorShape({ status: r.status, body: JSON.parse(r.text) }, 401, 'Unauthorized');
    }
  });

  it('answers bad cluster_id values with 4xx in the error shape, never 5xx', async () => {
    const long = await scrape(`/metrics?cluster_id=${'x'.repeat(129)}`);
    expectErrorShape({ status: long.status, body: JSON.parse(long.text) }, 400, 'ValidationError');
    for (const id of ['%00', '%E2%98%83', "'%20OR%201=1--", 'unknown']) {
      const r = await scrape(`/metrics?cluster_id=${id}`);
      expectErrorShape({ status: r.status, body: JSON.parse(r.text) }, 404, 'NotFound');
    }
  });

  it("gives a signed scrape its own account's engine series only, and none of the service's", async () => {
    const r = await other.get('/metrics');
    expect(r.status).toBe(200);
    const e = parseExposition(r.body as string);
    expect(new Set(e.samples.map((s) => s.labels.cluster_id))).toEqual(new Set([ids.others]));
    expect(e.samples.filter((s) => !s.name.startsWith('cachestore_engine_') && !s.name.startsWith('cachestore_cluster_'))).toEqual([]);
    expect(e.types.has('cachestore_http_requests_total')).toBe(false);
    // The bootstrap account sees its two clusters, not the other's.
    const mine = parseExposition((await h.client.get('/metrics')).body as string);
    expect(new Set(select(mine, 'cachestore_engine_up').map((s) => s.labels.cluster_id))).toEqual(new Set([ids.standalone, ids.ha]));
  });

  it('narrows to one cluster with ?cluster_id, and answers 404 for a cluster of another account', async () => {
    const r = await h.client.get(`/metrics?cluster_id=${ids.ha}`);
    expect(r.status).toBe(200);
    expect(new Set(parseExposition(r.body as string).samples.map((s) => s.labels.cluster_id))).toEqual(new Set([ids.ha]));
    expectErrorShape(await other.get(`/metrics?cluster_id=${ids.ha}`), 404, 'NotFound');
    expectErrorShape(await other.get(`/metrics?cluster_id=a&cluster_id=b`), 400, 'ValidationError');
  });
});

describe('operations in the service series', () => {
  it('counts a backup, its size and duration, and shows the age of the last one', async () => {
    const e0 = await scraped();
    const done0 = valueOr0(e0, 'cachestore_backups_total', { outcome: 'completed' });
    expect(select(e0, 'cachestore_cluster_last_backup_age_seconds', { cluster_id: ids.standalone })).toEqual([]);
    const r = await h.client.post(`/v1/clusters/${ids.standalone}/backup-histories`);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await settle(h.client, r.body.request_id, ids.standalone, 90_000);
    const e = await until('the backup to be counted', (x) => one(x, 'cachestore_backup_size_bytes_count') === 1 && x);
    expect(one(e, 'cachestore_backups_total', { outcome: 'completed' })).toBe(done0 + 1);
    const stored = (await h.service.store.backupsOf(ids.standalone)).find((b) => b.requestId === r.body.request_id)!;
    expect(one(e, 'cachestore_backup_size_bytes_sum')).toBe(stored.sizeBytes);
    expect(one(e, 'cachestore_backup_duration_seconds_count')).toBe(1);
    const age = one(e, 'cachestore_cluster_last_backup_age_seconds', { cluster_id: ids.standalone });
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(120);
    expect(select(e, 'cachestore_workflow_step_duration_seconds_count', { kind: 'backup' }).length).toBeGreaterThan(0);
  }, 120_000);

  it('counts a switchover as a switchover, not as a failover', async () => {
    const e0 = await scraped();
    const sw0 = one(e0, 'cachestore_switchovers_total');
    const fo0 = one(e0, 'cachestore_failovers_total');
    const r = await h.client.post(`/v1/clusters/${ids.ha}/switchover`, { switch_host_name: nodes.haReplica2Name });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await settle(h.client, r.body.request_id, ids.ha, 60_000);
    const e = await until('the switchover to be counted and seen', (x) =>
      one(x, 'cachestore_switchovers_total') === sw0 + 1 && select(x, 'cachestore_engine_role', { instance_id: nodes.haReplica2, role: 'primary' }).length === 1 && x);
    expect(one(e, 'cachestore_failovers_total')).toBe(fo0);
    expect(select(e, 'cachestore_engine_role', { instance_id: nodes.haPrimary }).map((x) => x.labels.role)).toEqual(['replica']);
  }, 90_000);
});

describe('reading the engines', () => {
  it('shares one reading between overlapping scrapes: one INFO per node', async () => {
    let reads = 0;
    const m = new EngineMetrics({ store: h.service.store, cacheMs: 60_000, read: (ep) => (reads++, readEngineStats(ep)) });
    const clusters = (await m.clusters({ kind: 'operator' }))!;
    const [a, b] = await Promise.all([m.collect(clusters), m.collect(clusters)]);
    await m.collect(clusters);
    expect(reads).toBe(9);
    expect(b).toEqual(a);
  });

  it('reports a SIGKILLed replica as up 0, the rest of the cluster up, and no error', async () => {
    await sigkillEngine(nodes.haReplica);
    const e = await until('the replica to be down', (x) => one(x, 'cachestore_engine_up', { instance_id: nodes.haReplica }) === 0 && x);
    expect(one(e, 'cachestore_engine_up', { instance_id: nodes.haPrimary })).toBe(1);
    expect(select(e, 'cachestore_engine_role', { instance_id: nodes.haReplica })).toEqual([]);
    expect(select(e, 'cachestore_engine_used_memory_bytes', { instance_id: nodes.haReplica })).toEqual([]);
    expect(select(e, 'cachestore_http_requests_total', { operation: 'cachestoreExtMetrics', status: '500' })).toEqual([]);
  });

  it("counts a failover when the primary dies and a replica takes over", async () => {
    const fo0 = one(await scraped(), 'cachestore_failovers_total');
    // After the switchover the second replica is primary; the first primary is its replica.
    await sigkillEngine(nodes.haReplica2);
    const e = await until('the failover to be counted', (x) => one(x, 'cachestore_failovers_total') === fo0 + 1 && x);
    expect(one(e, 'cachestore_reconciler_findings_total', { finding: 'failover' })).toBeGreaterThanOrEqual(1);
    const roles = await until('the new primary to report itself', (x) => select(x, 'cachestore_engine_role', { instance_id: nodes.haPrimary, role: 'primary' }).length === 1 && x);
    expect(one(roles, 'cachestore_engine_up', { instance_id: nodes.haReplica2 })).toBe(0);
  }, 60_000);
});

describe('the Grafana dashboard', () => {
  it('asks only for series the service exposes', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/cachestore-dashboard.json', import.meta.url), 'utf8'));
    const exprs: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') for (const [k, v] of Object.entries(n)) (k === 'expr' || k === 'definition') && typeof v === 'string' ? exprs.push(v) : walk(v);
    };
    walk(dashboard);
    expect(exprs.length).toBeGreaterThan(15);
    const e = await scraped();
    const families = new Set(e.types.keys());
    const asked = new Set(exprs.flatMap((x) => x.match(/cachestore_[a-z_]+/g) ?? []));
    const base = (n: string) => (families.has(n) ? n : n.replace(/_(bucket|sum|count)$/, ''));
    expect([...asked].filter((n) => !families.has(base(n)))).toEqual([]);
    // And the other way: every family the service exposes is on the dashboard.
    expect([...families].filter((f) => ![...asked].some((n) => base(n) === f))).toEqual([]);
  });
});
