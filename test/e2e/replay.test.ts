// A captured signed request cannot be sent again: the vendor's signature covers method, URL and
// timestamp but not the body, so without this a replayed Create Cluster with another body made a
// second cluster with the attacker's name and password. State-changing requests are accepted once,
// on every instance of the service (the ledger is in the shared store); GETs may repeat.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, settle, startHarness, type Harness } from '../support/harness.js';

let db: TestDatabase;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  db = await createTestDatabase('postgres');
  if (db.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
  // Two instances of the service on one store, as two replicas behind a load balancer.
  // Replicas on one store share its master key (secrets are sealed with it).
  const shared = { CACHESTORE_DATABASE_URL: db.config.url, CACHESTORE_MASTER_KEY: randomBytes(32).toString('hex') };
  a = await startHarness(shared);
  b = await startHarness(shared);
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.cleanup();
});

/** node:http rather than fetch: fetch will not send a Host header of our choosing. */
function send(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(baseUrl);
  return new Promise<{ status: number; body: any; text: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method, headers: payload === undefined ? headers : { ...headers, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('replayed requests', () => {
  it('a Create Cluster sent again with another body gets 401 and creates nothing', async () => {
    const [engine] = await engineVersions(a.client);
    const url = a.baseUrl + '/v1/clusters';
    const captured = a.client.headers('POST', url);
    const first = await send(a.baseUrl, 'POST', '/v1/clusters', captured, createBody(engine, { name: 'genuine' }));
    expect(first.status, first.text).toBe(202);
    const replay = await send(a.baseUrl, 'POST', '/v1/clusters', captured, createBody(engine, { name: 'attacker' }));
    expectErrorShape(replay, 401);
    expect(replay.body.errors[0].detail).toMatch(/accepted once/);
    await settle(a.client, first.body.request_id, first.body.resource.id);
    const list = await a.client.get('/v1/clusters?size=100');
    expect(list.status).toBe(200);
    expect(list.body.contents.map((c: { name: string }) => c.name)).toEqual(['genuine']);
  }, 60_000);

  it('is refused by another instance of the service sharing the store', async () => {
    // The signature is for instance A's URL; B must see the same host to check it, so both
    // are reached through A's host:port in the signed URL: send to B with A's Host header.
    const path = '/v1/clusters/00000000000000000000000000000000/stop';
    const captured = a.client.headers('POST', a.baseUrl + path);
    const first = await send(a.baseUrl, 'POST', path, captured);
    expectErrorShape(first, 404);
    const hostOfA = new URL(a.baseUrl).host;
    const replay = await send(b.baseUrl, 'POST', path, { ...captured, Host: hostOfA });
    expectErrorShape(replay, 401);
    expect(replay.body.errors[0].detail).toMatch(/accepted once/);
  });

  it('a GET may be sent again: it changes nothing', async () => {
    const path = '/v1/clusters?size=5';
    const captured = a.client.headers('GET', a.baseUrl + path);
    for (let i = 0; i < 3; i++) expect((await send(a.baseUrl, 'GET', path, captured)).status).toBe(200);
  });

  it('a client that signs each request afresh, as the SDK does, is never refused', async () => {
    // 300 mutations back to back: many fall in the same millisecond as the one before, and each
    // still carries a timestamp (and so a signature) of its own.
    const path = '/v1/clusters/00000000000000000000000000000000/start';
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i++) statuses.add((await a.client.post(path, undefined)).status);
    expect([...statuses]).toEqual([404]);
  });
});
