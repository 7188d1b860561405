// README "Switchover", on real engines and Sentinels: afterwards every Sentinel monitors the new
// primary with a configuration epoch above any earlier one, nothing switches the cluster back
// (checked after Sentinel's down-after and failover-timeout have passed), the other replica
// follows the new primary, and a client still connected to the old primary gets READONLY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectTo } from '../support/dataset.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { instancesOf, primaryOf } from '../support/observe.js';
import { waitFor } from '../support/writer.js';

const DOWN_AFTER_MS = 1500;
const FAILOVER_TIMEOUT_MS = 2000;

let h: Harness;

beforeAll(async () => {
  // Healing (300 ms) brings the primary killed below back as a replica, so the switchover has two
  // replicas again. down-after as in ha.test.ts (margin on a loaded machine); a short
  // failover-timeout, so waiting past it stays short.
  h = await startHarness({
    CACHESTORE_HEAL_AFTER_MS: '300',
    CACHESTORE_RECONCILE_INTERVAL_MS: '200',
    CACHESTORE_SENTINEL_DOWN_AFTER_MS: String(DOWN_AFTER_MS),
    CACHESTORE_SENTINEL_FAILOVER_TIMEOUT_MS: String(FAILOVER_TIMEOUT_MS),
  });
});
afterAll(async () => {
  await h?.stop();
});

async function withNode<T>(ip: string, port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = connectTo(ip, port);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}
/** Every Sentinel's view of the cluster: the primary it names and its config-epoch. */
async function sentinels(show: any): Promise<Array<{ at: string; primary: string; epoch: number }>> {
  return Promise.all(
    instancesOf(show).map((i) =>
      withNode(i.service_ip_address, 26378, async (c) => {
        const fields = (await c.call('SENTINEL', 'MASTER', show.name)) as string[];
        const get = (k: string) => fields[fields.indexOf(k) + 1];
        return { at: i.service_ip_address, primary: get('ip'), epoch: Number(get('config-epoch')) };
      }),
    ),
  );
}
async function role(ip: string): Promise<string[]> {
  return withNode(ip, 6378, async (c) => ((await c.call('ROLE')) as unknown[]).map(String));
}

describe.each(['Redis', 'Valkey'])('%s switchover', (kind) => {
  it('leaves every Sentinel on the new primary with a higher epoch, no switch-back, the other replica following, READONLY on the old primary', async () => {
    const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
    const name = `switch${kind.toLowerCase()}`;
    const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name }));
    expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    const id = r.body.resource.id;
    const show = async () => (await h.client.get(`/v1/clusters/${id}`)).body;

    // An earlier failover, so the Sentinels have an epoch above 0 before the switchover.
    const first = primaryOf(await show())!;
    const firstId = (await h.service.store.clusterDetail(null, id))!.instances.find((i) => i.name === first.name)!.id;
    const [pid] = await enginePids(firstId);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const healed = await waitFor('a failover, and the old primary back as a replica', async () => {
      const s = await show();
      const back = instancesOf(s).find((i) => i.name === first.name)!;
      const all = instancesOf(s).every((i) => i.service_state === 'RUNNING');
      return primaryOf(s)!.name !== first.name && back.role_type === 'REPLICA' && all ? s : undefined;
    }, 30_000);
    const before = await sentinels(healed);
    const earlier = Math.max(...before.map((s) => s.epoch));
    expect(earlier).toBeGreaterThan(0);

    const old = primaryOf(healed)!;
    const replicas = instancesOf(healed).filter((i) => i.role_type === 'REPLICA');
    const target = replicas[0];
    const other = replicas[1];
    await waitFor('both replicas linked', async () => (await Promise.all(replicas.map((x) => role(x.service_ip_address)))).every((x) => x[3] === 'connected'));
    // A client that talks to the old primary directly, not through Sentinel.
    const direct = connectTo(old.service_ip_address);
    await direct.connect();
    expect(await direct.set('before', 'switch')).toBe('OK');

    const sw = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: target.name });
    expect(sw.status, JSON.stringify(sw.body)).toBe(202);
    expect(await h.client.waitRequest(sw.body.request_id, 30_000)).toBe('COMPLETED');

    try {
      await expect(direct.set('after', 'switch')).rejects.toThrow(/^READONLY/);
    } finally {
      direct.disconnect();
    }
    const views = await sentinels(await show());
    expect(views).toHaveLength(4);
    for (const v of views) {
      expect(v.primary, `Sentinel on ${v.at}`).toBe(target.service_ip_address);
      expect(v.epoch, `Sentinel on ${v.at}`).toBeGreaterThan(earlier);
    }
    await waitFor('the other replica linked to the new primary', async () => {
      const x = await role(other.service_ip_address);
      return x[0] === 'slave' && x[1] === target.service_ip_address && x[3] === 'connected';
    });
    const oldRole = await role(old.service_ip_address);
    expect([oldRole[0], oldRole[1]]).toEqual(['slave', target.service_ip_address]);

    // Long enough for any Sentinel to suspect, agree and fail over: nothing moves.
    await new Promise((res) => setTimeout(res, DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 1500));
    for (const v of await sentinels(await show())) expect(v.primary, `Sentinel on ${v.at}`).toBe(target.service_ip_address);
    expect((await role(target.service_ip_address))[0]).toBe('master');
    const final = await show();
    expect(final.service_state).toBe('RUNNING');
    expect(primaryOf(final)!.name).toBe(target.name);

    // A terminated cluster takes no switchover.
    const del = await h.client.delete(`/v1/clusters/${id}`);
    expect(await h.client.waitRequest(del.body.request_id)).toBe('COMPLETED');
    const refused = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: other.name });
    expect(expectErrorShape(refused, 400).detail).toMatch(/is TERMINATED; switchover is allowed only when it is RUNNING/);
  });
});
