// List Commands against real engines (both engines): the catalogue, which commands the tenant
// may have renamed or disabled and which the service owns, and the name each answers to on the
// engines; Update and Synchronize Commands answer 501 in the error shape until renaming is built.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODIFIABLE_COMMANDS, SERVICE_OWNED_COMMANDS } from '../../src/engines/commands-catalog.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  h = await startHarness();
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s commands', (product) => {
  let id: string;
  const word = product.startsWith('Redis') ? 'Redis' : 'Valkey';

  beforeAll(async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: `commands${word}`, instance_name_prefix: `cm${word[0].toLowerCase()}` }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    id = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
  });

  it('lists the catalogue: modifiable commands, the service-owned ones not modifiable, each under the name the engine answers to', async () => {
    const r = await h.client.get(`/v1/clusters/${id}/commands`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.total_count).toBe(r.body.contents.length);
    const byName = new Map(r.body.contents.map((c: any) => [c.name, c]));
    expect(r.body.contents.filter((c: any) => c.modifiable).map((c: any) => c.name).sort()).toEqual(MODIFIABLE_COMMANDS.map((c) => c.name).sort());
    expect(r.body.contents.filter((c: any) => !c.modifiable).map((c: any) => c.name).sort()).toEqual(SERVICE_OWNED_COMMANDS.map((c) => c.name).sort());
    for (const n of ['CONFIG', 'SLAVEOF', 'REPLICAOF', 'DEBUG', 'SHUTDOWN', 'MODULE', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'SYNC', 'PSYNC', 'MIGRATE', 'FAILOVER', 'ACL']) {
      expect((byName.get(n) as any)?.modifiable, n).toBe(false);
    }
    for (const n of ['PING', 'INFO', 'AUTH', 'CLIENT', 'MULTI', 'EXEC']) expect(byName.has(n), n).toBe(false);
    for (const c of r.body.contents) expect(c.applied_value, c.name).toBe(c.name);
    expect(new Set(r.body.contents.map((c: any) => c.id)).size).toBe(r.body.contents.length);
  });

  it('Update and Synchronize Commands answer 501 saying why, and change nothing', async () => {
    const list = (await h.client.get(`/v1/clusters/${id}/commands`)).body.contents;
    const flushall = list.find((c: any) => c.name === 'FLUSHALL');
    const u = expectErrorShape(await h.client.request('PUT', `/v1/clusters/${id}/commands`, { commands: [{ id: flushall.id, name: 'FLUSHALL', new_value: 'NOFLUSH' }] }), 501, 'NotImplemented');
    expect(u.detail).toMatch(/^Update Commands is not implemented yet: .*rolling restart/);
    const s = expectErrorShape(await h.client.post(`/v1/clusters/${id}/commands/sync`), 501, 'NotImplemented');
    expect(s.detail).toMatch(/^Synchronize Commands is not implemented yet/);
    expect((await h.client.get(`/v1/clusters/${id}/commands`)).body.contents.find((c: any) => c.name === 'FLUSHALL').applied_value).toBe('FLUSHALL');
    expect(await h.service.store.activeRequest(id)).toBeUndefined();
  });

  it('shows no applied name while no engine answers (stopped), and 404 for an unknown cluster', async () => {
    const r = await h.client.post(`/v1/clusters/${id}/stop`);
    expect(r.status).toBe(202);
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    const list = await h.client.get(`/v1/clusters/${id}/commands`);
    expect(list.status).toBe(200);
    for (const c of list.body.contents) expect(c.applied_value, c.name).toBeNull();
    expectErrorShape(await h.client.get(`/v1/clusters/${'0'.repeat(32)}/commands`), 404, 'NotFound');
    expectErrorShape(await h.client.request('PUT', `/v1/clusters/${'0'.repeat(32)}/commands`, { commands: [] }), 404, 'NotFound');
  });
});
