// Authentication over HTTP, one account never seeing another's clusters or requests, and one
// mutation at a time per cluster.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignedClient, signature } from '../support/client.js';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';
import { expectErrorShape } from '../support/errors.js';

let h: Harness;
let other: SignedClient;
let clusterId: string;
let createRequestId: string;
const OTHER_ACCOUNT = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

beforeAll(async () => {
  h = await startHarness();
  await h.service.store.saveCredential({ accessKey: 'other-key', secretKey: 'other-secret', accountId: OTHER_ACCOUNT, userId: 'c'.repeat(32) });
  other = new SignedClient(h.baseUrl, { accessKey: 'other-key', secretKey: 'other-secret' });
  const [engine] = await engineVersions(h.client);
  const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'tenantone' }));
  expect(r.status).toBe(202);
  clusterId = r.body.resource.id;
  createRequestId = r.body.request_id;
  expect(await h.client.waitRequest(createRequestId)).toBe('COMPLETED');
});
afterAll(async () => {
  await h?.stop();
});

/** Sends with exactly these header names (case kept), bypassing fetch's normalisation. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(h.baseUrl + path);
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authentication', () => {
  it('answers 401 in the error shape to an unsigned request', async () => {
    const res = await fetch(`${h.baseUrl}/v1/clusters`);
    expectErrorShape({ status: res.status, body: await res.json() }, 401, 'Unauthorized');
  });

  it('answers 401 to a tampered signature and to a signature made with the wrong secret', async () => {
    const url = `${h.baseUrl}/v1/clusters`;
    const headers = h.client.headers('GET', url);
    const tampered = { ...headers, 'Scp-Signature': headers['Scp-Signature'].replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
    const r1 = await fetch(url, { headers: tampered });
    expect(r1.status).toBe(401);
    const wrong = new SignedClient(h.baseUrl, { accessKey: h.service.credential.accessKey, secretKey: 'not-the-secret' });
    const r2 = await wrong.get('/v1/clusters');
    expect(r2.status).toBe(401);
    expect(JSON.stringify(r2.body)).not.toContain(h.service.credential.secretKey);
  });

  it('answers 401 to a replay older than 15 minutes', async () => {
    const url = `${h.baseUrl}/v1/clusters`;
    const res = await fetch(url, { headers: h.client.headers('GET', url, Date.now() - 16 * 60 * 1000) });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toMatch(/15 minutes/);
  });

  it('verifies the query string exactly as sent, with any header-name case', async () => {
    const path = '/v1/clusters?name=my+name&page=0&size=20&sort=created_at%3Adesc';
    const ts = String(Date.now());
    const sig = signature(h.service.credential.secretKey, 'GET', h.baseUrl + path, ts, h.service.credential.accessKey);
    for (const names of [
      ['Scp-Accesskey', 'Scp-Signature', 'Scp-Timestamp', 'Scp-Clienttype'],
      ['Scp-AccessKey', 'SCP-SIGNATURE', 'scp-timestamp', 'Scp-ClientType'],
    ]) {
      const r = await rawGet(path, { [names[0]]: h.service.credential.accessKey, [names[1]]: sig, [names[2]]: ts, [names[3]]: 'Openapi', 'Scp-AccountId': '' });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ count: 0, page: 0, size: 20, sort: ['created_at:desc'] });
    }
    // The same signature on another query string is refused.
    const r = await rawGet('/v1/clusters?name=my%20name&page=0&size=20&sort=created_at%3Adesc', {
      'Scp-Accesskey': h.service.credential.accessKey, 'Scp-Signature': sig, 'Scp-Timestamp': ts, 'Scp-Clienttype': 'Openapi',
    });
    expect(r.status).toBe(401);
  });

  it('serves the OpenAPI document without a signature', async () => {
    const res = await fetch(`${h.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect((await res.json()).paths['/v1/clusters']).toBeDefined();
  });
});

describe('tenancy', () => {
  it('records the account and the user on the cluster', async () => {
    const show = await h.client.get(`/v1/clusters/${clusterId}`);
    expect(show.body).toMatchObject({ account_id: 'a'.repeat(32), created_by: h.service.credential.userId, modified_by: h.service.credential.userId });
  });

  it("never shows one account's clusters, requests or events to another", async () => {
    expect((await other.get('/v1/clusters')).body.count).toBe(0);
    expect((await other.get('/v1/clusters?service_state=RUNNING')).body.count).toBe(0);
    const show = await other.get(`/v1/clusters/${clusterId}`);
    expectErrorShape(show, 404, 'NotFound');
    expect((await other.get(`/v1/requests/${createRequestId}`)).status).toBe(400);
    expect((await other.get(`/v1/requests/${createRequestId}/details`)).status).toBe(400);
    expect((await other.get(`/v1/clusters/${clusterId}/events`)).status).toBe(404);
  });

  it("never lets one account change another's cluster", async () => {
    for (const [method, path] of [
      ['POST', `/v1/clusters/${clusterId}/stop`],
      ['POST', `/v1/clusters/${clusterId}/restart`],
      ['POST', `/v1/clusters/${clusterId}/start`],
      ['DELETE', `/v1/clusters/${clusterId}`],
    ]) {
      const r = await other.request(method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    expect((await h.client.get(`/v1/clusters/${clusterId}`)).body.service_state).toBe('RUNNING');
  });

  it('lets both accounts use the same cluster name', async () => {
    const [engine] = await engineVersions(other);
    const r = await other.post('/v1/clusters', createBody(engine, { name: 'tenantone' }));
    expect(r.status).toBe(202);
    expect(await other.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const d = await other.delete(`/v1/clusters/${r.body.resource.id}`);
    expect(await other.waitRequest(d.body.request_id)).toBe('COMPLETED');
  });
});

describe('one mutation at a time', () => {
  it('accepts one of two simultaneous mutations and refuses the other naming the state', async () => {
    const [a, b] = await Promise.all([h.client.post(`/v1/clusters/${clusterId}/stop`), h.client.post(`/v1/clusters/${clusterId}/restart`)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([202, 400]);
    const refused = a.status === 400 ? a : b;
    expectErrorShape(refused, 400);
    expect(JSON.stringify(refused.body.errors[0].detail)).toMatch(/STOPPING|RESTARTING|in progress/);
    const accepted = a.status === 202 ? a : b;
    expect(await h.client.waitRequest(accepted.body.request_id)).toBe('COMPLETED');
  });

  it('refuses an operation the state does not allow, naming the state', async () => {
    const state = (await h.client.get(`/v1/clusters/${clusterId}`)).body.service_state;
    const op = state === 'RUNNING' ? 'start' : 'stop';
    const r = await h.client.post(`/v1/clusters/${clusterId}/${op}`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toContain(state);
  });

  it('refuses a mutation while another is still running, naming the request', async () => {
    // A service whose steps pause, so the create is certainly still running.
    const slow = await startHarness({ CACHESTORE_DEBUG_STEP_DELAY_MS: '500' });
    try {
      const [engine] = await engineVersions(slow.client);
      const r = await slow.client.post('/v1/clusters', createBody(engine, { name: 'slowone' }));
      expect(r.status).toBe(202);
      for (const op of ['stop', 'restart', 'start']) {
        const refused = await slow.client.post(`/v1/clusters/${r.body.resource.id}/${op}`);
        expect(refused.status).toBe(400);
        expect(refused.body.errors[0].detail).toContain('CREATING');
        expect(refused.body.errors[0].detail).toContain(r.body.request_id);
      }
      expect(await slow.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    } finally {
      await slow.stop();
    }
  });
});
