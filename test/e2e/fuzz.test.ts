// Contract-driven fuzzing (fast-check): 10,000 generated requests across every operation of the
// contract and the extensions, with valid, near-valid and hostile path parameters, queries and
// bodies. Whatever is sent: no 5xx, every error in the contract's shape, and a rejected request
// changes nothing in the store (an unhandled rejection fails the run on its own: the service runs
// in this process). Mutations only ever name clusters that do not exist, or a Create Cluster with
// an engine version that does not exist, so each must be rejected: the property is "refused
// cleanly", not "accepted".
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTENSION_PATHS } from '../../src/contract/extensions.js';
import { contractOperations } from '../../src/contract/spec.js';
import { VALID_BODIES } from '../support/contract-bodies.js';
import { createBody, engineVersions, settle, startHarness, type Harness } from '../support/harness.js';

const RUNS = 10_000;
const UNKNOWN_ID = '0'.repeat(32);

interface Op {
  operationId: string;
  method: string;
  path: string;
  query: string[];
}

const OPS: Op[] = [
  ...contractOperations().map((o) => ({
    operationId: o.operationId,
    method: o.method.toUpperCase(),
    path: o.path,
    query: o.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name),
  })),
  ...Object.entries(EXTENSION_PATHS).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ operationId: (op as { operationId: string }).operationId, method: method.toUpperCase(), path, query: ['page', 'size', 'limit'] })),
  ),
];

/** Near-valid starting points: bodies the contract accepts (Create Cluster's gets a made-up engine). */
function validBody(operationId: string, engineId: string): Record<string, unknown> | undefined {
  if (operationId === 'cachestoreCreateCluster') {
    return createBody({ id: engineId, product_image_type: 'Redis OSS Sentinel' }, { dbaas_engine_version_id: 'no-such-engine-version' });
  }
  return VALID_BODIES[operationId];
}

const hostileSegment = fc.constantFrom('..', '.', '%2e%2e', ' ', 'null', '-1', '0', 'a'.repeat(300), '\u0000', '💥', "' OR 1=1 --", '<script>', '{cluster_id}');
const pathValue = fc.oneof(
  { weight: 4, arbitrary: fc.constant(UNKNOWN_ID) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: hostileSegment },
);
const queryValue = fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('-1', '0', '1', '20', '99999999999999999999', 'true', '', 'created_at:desc', 'name:asc', 'x:y:z'));
const jsonish = fc.jsonValue({ maxDepth: 3 });

/** A body: none, any JSON, a valid one with one field changed or removed, or not JSON at all. */
function bodyFor(op: Op, engineId: string): fc.Arbitrary<{ kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string }> {
  const valid = validBody(op.operationId, engineId);
  const options: Array<fc.Arbitrary<{ kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string }>> = [
    fc.constant({ kind: 'none' as const }),
    jsonish.map((value) => ({ kind: 'json' as const, value })),
    fc.string({ maxLength: 200 }).map((text) => ({ kind: 'raw' as const, text })),
  ];
  if (valid) {
    const keys = Object.keys(valid);
    options.push(
      fc.constant({ kind: 'json' as const, value: valid }),
      fc.tuple(fc.constantFrom(...keys, 'extra_field'), fc.oneof(jsonish, fc.constant(null))).map(([k, v]) => ({ kind: 'json' as const, value: { ...valid, [k]: v } })),
      fc.constantFrom(...keys).map((k) => {
        const { [k]: _gone, ...rest } = valid;
        return { kind: 'json' as const, value: rest };
      }),
    );
  }
  return fc.oneof(...options);
}

interface Sent {
  method: string;
  path: string;
  status: number;
  body: string;
}

/** Raw HTTP: the path goes on the wire exactly as generated (fetch would normalise it). */
function send(h: Harness, method: string, path: string, body: { kind: string; value?: unknown; text?: string }): Promise<Sent> {
  const url = new URL(h.baseUrl);
  const payload = body.kind === 'json' ? JSON.stringify((body as { value: unknown }).value) : body.kind === 'raw' ? (body as { text: string }).text : undefined;
  const headers: Record<string, string> = { ...h.client.headers(method, `${h.baseUrl}${path}`) };
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    // Framed, also on a GET (Node's client does not frame a GET's body by itself).
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    // A connection of its own: the server may close one after refusing what was sent on it.
    const req = httpRequest({ host: url.hostname, port: url.port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ method, path, status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function isErrorShape(text: string): boolean {
  try {
    const b = JSON.parse(text);
    const e = b?.errors?.[0];
    return Array.isArray(b.errors) && b.errors.length === 1 && typeof e.code === 'string' && typeof e.status === 'number' && /^req-/.test(String(e.request_id)) && e.detail !== undefined;
  } catch {
    return false;
  }
}

let h: Harness;
let engineId: string;
let clusterId: string;
let db: Database.Database;

/** Everything the service keeps, except the ledger of used signatures (it grows by design). */
function snapshot(): string {
  const hash = createHash('sha256');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('used_signatures') ORDER BY name").all() as Array<{ name: string }>;
  for (const { name } of tables) hash.update(name).update(JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()));
  return hash.digest('hex');
}

beforeAll(async () => {
  h = await startHarness();
  engineId = (await engineVersions(h.client))[0].id;
  // One real cluster, so GETs also reach a resource that exists.
  const r = await h.client.post('/v1/clusters', createBody((await engineVersions(h.client))[0], { name: 'fuzztarget' }));
  await settle(h.client, r.body.request_id, r.body.resource.id);
  clusterId = r.body.resource.id;
  db = new Database(join(h.dataDir, 'cachestore.db'), { readonly: true, fileMustExist: true });
}, 60_000);

afterAll(async () => {
  db?.close();
  await h?.stop();
});

describe('fuzzing every operation', () => {
  it(`${RUNS} generated requests: no 5xx, errors in the contract's shape, nothing changed by a refusal`, async () => {
    const perOp = fc.constantFrom(...OPS).chain((op) =>
      fc.record({
        op: fc.constant(op),
        params: fc.array(op.method === 'GET' ? fc.oneof(pathValue, fc.constant(clusterId)) : pathValue, { minLength: 4, maxLength: 4 }),
        rawSegment: fc.boolean(),
        query: fc.dictionary(fc.constantFrom(...op.query, 'unknown_param', 'size', 'page'), queryValue, { maxKeys: 4 }),
        body: bodyFor(op, engineId),
      }),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(perOp, async ({ op, params, rawSegment, query, body }) => {
        let i = 0;
        const path = op.path.replace(/\{[^}]+\}/g, () => {
          const v = params[i++];
          // Now and then a segment as a hostile client writes it, percent signs and all.
          // (Only what an HTTP client can put on the wire raw: printable ASCII, '%' left bare.)
          return rawSegment && i === 1 ? v.replace(/[^\x21-\x7e]|[/?#]/gu, (c) => encodeURIComponent(c)) : encodeURIComponent(v);
        });
        const qs = new URLSearchParams(query).toString();
        const before = snapshot();
        const r = await send(h, op.method, qs ? `${path}?${qs}` : path, body);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const why = `${r.method} ${r.path} -> ${r.status} ${r.body.slice(0, 300)}`;
        expect(r.status, why).toBeLessThan(500);
        if (r.status >= 400) expect(isErrorShape(r.body), why).toBe(true);
        if (op.method !== 'GET') expect(r.status, `a mutation of nothing was accepted: ${why}`).toBeGreaterThanOrEqual(400);
        expect(snapshot(), `the store changed: ${why}`).toBe(before);
      }),
      { numRuns: RUNS },
    );
    // The generators reach past validation: some answers are 404 (the id was checked) and some 200.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
