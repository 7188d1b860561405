// Backups of an HA cluster are taken on a replica: the primary keeps serving writes and does not
// even rewrite its log. A restore builds a new HA cluster whose replicas hold the data too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo } from '../../src/engines/replication.js';
import { connectTo, fill, readAll, writeWithinOneSecond } from '../support/dataset.js';
import { engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';

async function aofRewrites(ip: string): Promise<number> {
  const c = connectTo(ip);
  await c.connect();
  try {
    return Number(parseInfo(await c.info('persistence')).aof_rewrites);
  } finally {
    c.disconnect();
  }
}

/** Blocks until every replica has the primary's writes so far. */
async function waitReplicated(primaryIp: string, replicas: number): Promise<void> {
  const c = connectTo(primaryIp);
  await c.connect();
  try {
    expect(Number(await c.call('WAIT', String(replicas), '5000'))).toBe(replicas);
  } finally {
    c.disconnect();
  }
}

describe.each(['Valkey', 'Redis'])('backups of an HA cluster on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('backs up on the replica while the primary serves, and restores an HA cluster from it, also to a second', async () => {
    const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
    const r = await h.client.post('/v1/clusters', haBody(engine, 1, { name: 'habackup' }));
    expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
    const id = r.body.resource.id;
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    const data = show.instance_groups.find((g: any) => g.role_type === 'MASTER_REPLICA').instances;
    const primary = data.find((i: any) => i.role_type === 'MASTER');
    const replica = data.find((i: any) => i.role_type === 'REPLICA');

    await fill(primary.service_ip_address, 'k', 1500);
    await waitReplicated(primary.service_ip_address, 1);
    const before = await readAll(primary.service_ip_address);
    const rewrites = { primary: await aofRewrites(primary.service_ip_address), replica: await aofRewrites(replica.service_ip_address) };

    // Writes go on during the backup; none may fail.
    const writer = connectTo(primary.service_ip_address);
    await writer.connect();
    let writes = 0;
    let failures = 0;
    let writing = true;
    const loop = (async () => {
      while (writing) {
        await writer.set(`during:${writes}`, 'x').then(() => writes++, () => failures++);
      }
    })();
    const b = await h.client.post(`/v1/clusters/${id}/backup-histories`);
    expect(await h.client.waitRequest(b.body.request_id, 60_000)).toBe('COMPLETED');
    writing = false;
    await loop;
    writer.disconnect();
    expect(writes).toBeGreaterThan(0);
    expect(failures).toBe(0);

    expect(await aofRewrites(primary.service_ip_address)).toBe(rewrites.primary);
    expect(await aofRewrites(replica.service_ip_address)).toBe(rewrites.replica + 1);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
    expect(events).toContain(`backup ${b.body.resource.id}: snapshot taken on ${replica.name}`);
    expect((await h.client.get(`/v1/clusters/${id}`)).body.service_state).toBe('RUNNING');

    // Restore by number: a new HA cluster, primary and replica holding what the backup holds
    // (the keys written before it, and the writes the snapshot caught).
    const type = kind === 'Redis' ? 'redis1v1m2' : 'css1v1m2';
    const restore = await h.client.post(`/v1/clusters/${id}/restore`, { name: 'harestored', instance_name_prefix: 'hrs', server_type_name: type, backup_history_number: b.body.resource.id });
    expect(restore.status).toBe(202);
    expect(await h.client.waitRequest(restore.body.request_id, 60_000)).toBe('COMPLETED');
    const copy = (await h.client.get(`/v1/clusters/${restore.body.resource.id}`)).body;
    expect(copy).toMatchObject({ ha_enabled: true, service_state: 'RUNNING', instance_count: 3 });
    const copyData = copy.instance_groups.find((g: any) => g.role_type === 'MASTER_REPLICA').instances;
    const copyPrimary = copyData.find((i: any) => i.role_type === 'MASTER').service_ip_address;
    const copyReplica = copyData.find((i: any) => i.role_type === 'REPLICA').service_ip_address;
    const restored = await readAll(copyPrimary);
    for (const [k, v] of before) expect(restored.get(k), k).toEqual(v);
    await waitReplicated(copyPrimary, 1);
    expect(await readAll(copyReplica)).toEqual(restored);

    // To a second, from the replica's write log.
    const { second: s1, data: expected } = await writeWithinOneSecond(primary.service_ip_address, 'kept', 50, () => waitReplicated(primary.service_ip_address, 1));
    await fill(primary.service_ip_address, 'late', 50);
    await waitReplicated(primary.service_ip_address, 1);
    const pitr = await h.client.post(`/v1/clusters/${id}/restore`, { name: 'hapitr', instance_name_prefix: 'hpt', server_type_name: type, backup_recovery_time: new Date(s1 * 1000).toISOString() });
    expect(pitr.status, JSON.stringify(pitr.body)).toBe(202);
    expect(await h.client.waitRequest(pitr.body.request_id, 60_000)).toBe('COMPLETED');
    const pitrShow = (await h.client.get(`/v1/clusters/${pitr.body.resource.id}`)).body;
    const pitrPrimary = pitrShow.instance_groups.find((g: any) => g.role_type === 'MASTER_REPLICA').instances.find((i: any) => i.role_type === 'MASTER');
    expect(await readAll(pitrPrimary.service_ip_address)).toEqual(expected);
  });
});
