// A create whose engine fails at start ends FAILED with the reason, and leaves nothing behind:
// no process, no files, no address, no data volume (mount or loop device). The failing engine is a fault-injection wrapper around the
// real binary (it answers --version like the real one, and exits 1 when asked to run), since a
// real engine cannot be made to fail at start on demand here.
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';
import { loopDevicesUnder, mountsUnder } from '../support/volumes.js';

let h: Harness;
let bin: string;

beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'failing-engine-'));
  await writeFile(
    join(bin, 'redis-server'),
    '#!/bin/sh\nif [ "$1" = "--version" ]; then exec /usr/bin/redis-server --version; fi\necho "FATAL: injected start failure" >&2\nexit 1\n',
  );
  await chmod(join(bin, 'redis-server'), 0o755);
  await symlink('/usr/bin/redis-sentinel', join(bin, 'redis-sentinel'));
  // With real data volumes (made before the engine starts): a failed create leaves none behind.
  h = await startHarness({ CACHESTORE_ENGINE_PATH: bin, CACHESTORE_VOLUMES: 'auto' });
});
afterAll(async () => {
  await h?.stop();
  await rm(bin, { recursive: true, force: true });
});

it('ends FAILED with the reason and leaves no process, file or address behind', async () => {
  const [engine] = await engineVersions(h.client);
  const body = createBody(engine, { name: 'doomed' });
  const r = await h.client.post('/v1/clusters', body);
  expect(r.status).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id)).toBe('FAILED');
  const details = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
  expect(details.error).toMatch(/did not start.*injected start failure/);
  const show = (await h.client.get(`/v1/clusters/${r.body.resource.id}`)).body;
  expect(show.service_state).toBe('FAILED');
  expect(show.instance_groups[0].instances[0].service_state).toBe('FAILED');
  expect(await readdir(join(h.dataDir, 'engines')).catch(() => [])).toEqual([]);
  expect(await mountsUnder(h.dataDir)).toEqual([]);
  expect(await loopDevicesUnder(h.dataDir)).toEqual([]);
  const events = (await h.client.get(`/v1/clusters/${r.body.resource.id}/events`)).body.contents.map((e: any) => e.message).join('\n');
  expect(events).toMatch(/create failed/);

  // The address is free again: a new cluster may ask for exactly it.
  const ip = show.instance_groups[0].instances[0].service_ip_address;
  const again = createBody(engine, { name: 'doomedtoo' }) as any;
  again.instance_groups[0].instances[0].service_ip_address = ip;
  const r2 = await h.client.post('/v1/clusters', again);
  expect(r2.status).toBe(202);
  expect(await h.client.waitRequest(r2.body.request_id)).toBe('FAILED');
  // A FAILED cluster can be terminated.
  const t = await h.client.delete(`/v1/clusters/${r.body.resource.id}`);
  expect(t.status).toBe(202);
  expect(await h.client.waitRequest(t.body.request_id)).toBe('COMPLETED');
});
