// README "Allow-lists": where nftables cannot be used the service says so and never claims an
// enforcement it does not do. This file runs the service with a PATH that holds the engines but
// not nft (/usr/sbin is left out), as on a machine without the nftables package.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBody, engineVersions, settle, startHarness, type Harness } from '../support/harness.js';
import { eventMessages, instancesOf } from '../support/observe.js';
import { probe } from '../support/probe.js';

let h: Harness;
const savedPath = process.env.PATH;

beforeAll(async () => {
  process.env.PATH = '/usr/local/bin:/usr/bin:/bin';
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
  process.env.PATH = savedPath;
});

it('records the list, says in the cluster events that it is not enforced, and leaves the cluster reachable', async () => {
  const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith('Redis'))!;
  const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'unenforced', instance_name_prefix: 'unf', allowable_ip_addresses: ['10.9.0.0/16'] }));
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const id = r.body.resource.id;
  await settle(h.client, r.body.request_id, id);
  const show = (await h.client.get(`/v1/clusters/${id}`)).body;
  expect(show.allowable_ip_addresses).toEqual(['10.9.0.0/16']);
  expect(await eventMessages(h.client, id)).toContain('allow-list (10.9.0.0/16) recorded but NOT enforced: the nft program (package nftables) is not installed');
  // Nothing filters: a source outside the list gets its answer.
  const prefix = h.config.subnets.find((x) => x.id === 'local-subnet')!.cidr.split('.').slice(0, 3).join('.');
  expect(await probe(`${prefix}.201`, instancesOf(show)[0].service_ip_address, 6378)).toBe('PONG');

  // Each start says it again for every cluster with a list.
  const before = (await eventMessages(h.client, id)).length;
  await h.restartService();
  const after = await eventMessages(h.client, id);
  expect(after.slice(before)).toContain('allow-list (10.9.0.0/16) recorded but NOT enforced: the nft program (package nftables) is not installed');
});
