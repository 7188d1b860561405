// Backups against real engines: on-demand backups verified and restored key by key, point-in-time
// restore to a second, histories, settings, the daily schedule and retention on a hand-set clock.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestSlot } from '../../src/domain/backup-schedule.js';
import { listFiles as files } from '../support/files.js';
import { fill, readAll, writeWithinOneSecond } from '../support/dataset.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, ManualClock, serviceEndpoint, startHarness, type Harness } from '../support/harness.js';
import { withClient } from '../../src/engines/replication.js';

type Engine = Awaited<ReturnType<typeof engineVersions>>[number];


/** Steps every backup test needs, bound to one harness. */
function helpers(h: () => Harness) {
  const api = () => h().client;
  return {
    async create(engine: Engine, name: string, overrides: Record<string, unknown> = {}) {
      const r = await api().post('/v1/clusters', createBody(engine, { name, ...overrides }));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await api().waitRequest(r.body.request_id)).toBe('COMPLETED');
      const id = r.body.resource.id as string;
      return { id, ip: await this.primaryIp(id) };
    },
    async primaryIp(id: string): Promise<string> {
      const show = await api().get(`/v1/clusters/${id}`);
      const all = show.body.instance_groups.flatMap((g: any) => g.instances);
      return all.find((i: any) => i.role_type === 'MASTER').service_ip_address;
    },
    async backupNow(id: string) {
      const r = await api().post(`/v1/clusters/${id}/backup-histories`);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const state = await api().waitRequest(r.body.request_id, 60_000);
      return { state, number: r.body.resource.id as string, history: await this.history(id, r.body.resource.id) };
    },
    async history(id: string, number: string) {
      const list = await api().get(`/v1/clusters/${id}/backup-histories?limit=1000`);
      expect(list.status).toBe(200);
      return list.body.contents.find((b: any) => b.backup_history_number === number);
    },
    async restore(id: string, body: Record<string, unknown>) {
      const r = await api().post(`/v1/clusters/${id}/restore`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const state = await api().waitRequest(r.body.request_id, 60_000);
      if (state !== 'COMPLETED') {
        const d = await api().get(`/v1/requests/${r.body.request_id}/details`);
        throw new Error(`restore ended ${state}: ${d.body.error}`);
      }
      const newId = r.body.resource.id as string;
      return { id: newId, ip: await this.primaryIp(newId) };
    },
  };
}

describe.each(['Redis', 'Valkey'])('backups and restore on %s', (kind) => {
  let h: Harness;
  let engine: Engine;
  const t = helpers(() => h);
  beforeAll(async () => {
    h = await startHarness();
    engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
    expect(engine, `${kind} is installed`).toBeDefined();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('takes a verified backup on demand and restores it into a new cluster with every key', async () => {
    const src = await t.create(engine, 'source');
    await fill(src.ip, 'k', 2000);
    const before = await readAll(src.ip);

    const b = await t.backupNow(src.id);
    expect(b.state).toBe('COMPLETED');
    expect(b.history).toMatchObject({ backup_state: 'COMPLETED', software_version: engine.software_version });
    expect(b.history.backup_state_detail).toMatch(/^verified: 2000 keys loaded in a scratch engine, digest [0-9a-f]{40}$/);
    expect(b.history.backup_size_gb).toBeGreaterThan(0);
    expect(Date.parse(b.history.backup_end_at)).toBeGreaterThanOrEqual(Date.parse(b.history.backup_start_at));
    // The file in backup storage is the size recorded.
    const stored = await files(h.config.backupDir);
    expect(stored).toEqual([`${src.id}/${b.number}.rdb`]);

    // Writes after the backup are not part of it.
    await fill(src.ip, 'later', 10);
    const restored = await t.restore(src.id, { name: 'restored', instance_name_prefix: 'rst', server_type_name: engine.product_image_type.startsWith('Redis') ? 'redis1v2m4' : 'css1v2m4', backup_history_number: b.number });
    expect(restored.id).not.toBe(src.id);
    expect(await readAll(restored.ip)).toEqual(before);

    const show = (await h.client.get(`/v1/clusters/${restored.id}`)).body;
    expect(show).toMatchObject({ name: 'restored', service_state: 'RUNNING' });
    expect(show.instance_groups[0].server_type_name).toBe(engine.product_image_type.startsWith('Redis') ? 'redis1v2m4' : 'css1v2m4');
    expect(show.instance_groups[0].instances[0].name).toMatch(/^rst-/);
    // The source is untouched and still takes writes.
    expect((await readAll(src.ip)).size).toBe(2010);
    expect((await h.client.get(`/v1/clusters/${src.id}`)).body.service_state).toBe('RUNNING');
  });

  it('restores to a second: keys written up to it are there, keys written after it are not', async () => {
    const src = await t.create(engine, 'pitr');
    const type = engine.product_image_type.startsWith('Redis') ? 'redis1v1m2' : 'css1v1m2';
    await fill(src.ip, 'base', 300);
    expect((await t.backupNow(src.id)).state).toBe('COMPLETED');

    // Second s1: writes that must come back. Second s2 and later: writes that must not.
    const { second: s1, data: atS1 } = await writeWithinOneSecond(src.ip, 'kept', 100);
    await fill(src.ip, 'late', 100);

    // A second backup closes the first one's write log; the log must still reach past s1.
    expect((await t.backupNow(src.id)).state).toBe('COMPLETED');
    const [first, second] = await h.service.store.backupsOf(src.id);
    expect(first.logEndAt).toBe(second.snapshotAt);
    expect(second.logEndAt).toBeNull();
    const { second: s3, data: atS3 } = await writeWithinOneSecond(src.ip, 'after', 50);
    await fill(src.ip, 'last', 50);

    // s1 lies between the backups: the first backup and its (closed) log.
    const r1 = await t.restore(src.id, { name: 'pitrcopy', instance_name_prefix: 'pit', server_type_name: type, backup_recovery_time: new Date(s1 * 1000 + 999).toISOString() });
    const got1 = await readAll(r1.ip);
    expect([...got1.keys()].filter((k) => k.startsWith('late:'))).toEqual([]);
    expect(got1).toEqual(atS1);
    // s3 lies after the second backup: that backup and its live log.
    const r3 = await t.restore(src.id, { name: 'pitrlater', instance_name_prefix: 'pil', server_type_name: type, backup_recovery_time: new Date(s3 * 1000).toISOString() });
    const got3 = await readAll(r3.ip);
    expect([...got3.keys()].filter((k) => k.startsWith('last:'))).toEqual([]);
    expect(got3).toEqual(atS3);

    // Outside what is covered: before the first backup, and in the future.
    const early = await h.client.post(`/v1/clusters/${src.id}/restore`, { name: 'tooearly', instance_name_prefix: 'ear', server_type_name: 'redis1v1m2', backup_recovery_time: new Date(Date.now() - 3600_000).toISOString() });
    const e1 = expectErrorShape(early, 400);
    expect(JSON.stringify(e1.detail)).toMatch(/is not covered by the backups.*can be restored to \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to \d{4}-/);
    const future = await h.client.post(`/v1/clusters/${src.id}/restore`, { name: 'toolate', instance_name_prefix: 'fut', server_type_name: 'redis1v1m2', backup_recovery_time: new Date(Date.now() + 3600_000).toISOString() });
    expect(JSON.stringify(expectErrorShape(future, 400).detail)).toMatch(/is in the future; cluster 'pitr' can be restored to/);
    // Nothing was created by the refused restores.
    const names = (await h.client.get('/v1/clusters?size=100')).body.contents.map((c: any) => c.name);
    expect(names).not.toContain('tooearly');
    expect(names).not.toContain('toolate');
  });
});

describe('backup histories, settings, schedule and retention', () => {
  let h: Harness;
  let engine: Engine;
  const clock = new ManualClock();
  const t = helpers(() => h);
  beforeAll(async () => {
    // The schedule runs only when the test ticks it.
    h = await startHarness({ CACHESTORE_BACKUP_SCHEDULE_MS: '0' }, { scheduleClock: clock });
    [engine] = await engineVersions(h.client);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('lists backups newest first with limit, page and total_count, and removes the ones named', async () => {
    const c = await t.create(engine, 'histories');
    await fill(c.ip, 'k', 50);
    const numbers: string[] = [];
    for (let i = 0; i < 3; i++) numbers.push((await t.backupNow(c.id)).number);

    const page0 = await h.client.get(`/v1/clusters/${c.id}/backup-histories?limit=2&page=0`);
    expect(page0.body.total_count).toBe(3);
    expect(page0.body.contents.map((b: any) => b.backup_history_number)).toEqual([numbers[2], numbers[1]]);
    const page1 = await h.client.get(`/v1/clusters/${c.id}/backup-histories?limit=2&page=1`);
    expect(page1.body.contents.map((b: any) => b.backup_history_number)).toEqual([numbers[0]]);
    expectErrorShape(await h.client.get(`/v1/clusters/${c.id}/backup-histories?limit=-1`), 400);
    expectErrorShape(await h.client.get(`/v1/clusters/${c.id}/backup-histories?page=abc`), 400);
    for (const q of ['page=1e300', 'page=99999999999999999999', 'limit=1e300', 'limit=1000&page=9007199254740991']) {
      expectErrorShape(await h.client.get(`/v1/clusters/${c.id}/backup-histories?${q}`), 400, 'ValidationError');
    }

    const unknown = await h.client.request('PUT', `/v1/clusters/${c.id}/backup-histories`, { backup_history_number: [numbers[0], 'nope1', 'nope2'] });
    expect(JSON.stringify(expectErrorShape(unknown, 400).detail)).toMatch(/not backups of cluster 'histories': nope1, nope2/);
    expectErrorShape(await h.client.request('PUT', `/v1/clusters/${c.id}/backup-histories`, { backup_history_number: [] }), 400);
    expectErrorShape(await h.client.request('PUT', `/v1/clusters/${c.id}/backup-histories`, {}), 400);

    const rm = await h.client.request('PUT', `/v1/clusters/${c.id}/backup-histories`, { backup_history_number: [numbers[0], numbers[2]] });
    expect(rm.status).toBe(202);
    expect(await h.client.waitRequest(rm.body.request_id)).toBe('COMPLETED');
    const left = await h.client.get(`/v1/clusters/${c.id}/backup-histories`);
    expect(left.body.total_count).toBe(1);
    expect(left.body.contents[0].backup_history_number).toBe(numbers[1]);
    expect((await files(h.config.backupDir)).filter((f) => f.startsWith(c.id))).toEqual([`${c.id}/${numbers[1]}.rdb`]);

    // Of another cluster or unknown: 404.
    expectErrorShape(await h.client.get(`/v1/clusters/${'e'.repeat(32)}/backup-histories`), 404, 'NotFound');
  });

  it('sets and unsets the daily backup, fires it at the hour on the clock, and applies retention', async () => {
    const c = await t.create(engine, 'scheduled', { timezone: 'Asia/Seoul' });
    await fill(c.ip, 'k', 20);
    const old = await t.backupNow(c.id);

    expectErrorShape(await h.client.post(`/v1/clusters/${c.id}/backups`, { retention_period_day: '6', starting_time_hour: '3' }), 400);
    expectErrorShape(await h.client.post(`/v1/clusters/${c.id}/backups`, { retention_period_day: '7', starting_time_hour: '24' }), 400);
    const set = await h.client.post(`/v1/clusters/${c.id}/backups`, { retention_period_day: '7', starting_time_hour: '3' });
    expect(set.status).toBe(202);
    expect(await h.client.waitRequest(set.body.request_id)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${c.id}`)).body.init_config_option.backup_option).toEqual({ retention_period_day: '7', starting_time_hour: '3' });

    // Two days on, just past 03:00 in Seoul: one backup is owed, and only one.
    const slot1 = latestSlot(new Date(Date.now() + 2 * 86400_000), 'Asia/Seoul', 3);
    expect(slot1.toISOString()).toMatch(/T18:00:00.000Z$/); // 03:00 KST is 18:00 UTC the day before
    clock.set(new Date(slot1.getTime() + 30_000));
    const fired = await h.service.scheduler.tick();
    expect(fired).toHaveLength(1);
    expect(await h.client.waitRequest(fired[0], 60_000)).toBe('COMPLETED');
    expect(await h.service.scheduler.tick()).toEqual([]);
    let list = (await h.client.get(`/v1/clusters/${c.id}/backup-histories`)).body;
    expect(list.total_count).toBe(2);
    expect(list.contents[0].backup_state).toBe('COMPLETED');

    // Eight more days: a new daily backup, and then the ones older than 7 days go.
    clock.set(new Date(latestSlot(new Date(Date.now() + 10 * 86400_000), 'Asia/Seoul', 3).getTime() + 60_000));
    const next = await h.service.scheduler.tick();
    expect(next).toHaveLength(1); // the backup; retention waits while it runs
    expect(await h.client.waitRequest(next[0], 60_000)).toBe('COMPLETED');
    const retention = await h.service.scheduler.tick();
    expect(retention).toHaveLength(1);
    expect(await h.client.waitRequest(retention[0])).toBe('COMPLETED');
    list = (await h.client.get(`/v1/clusters/${c.id}/backup-histories`)).body;
    expect(list.total_count).toBe(1);
    expect(list.contents[0].backup_history_number).not.toBe(old.number);
    expect((await files(h.config.backupDir)).filter((f) => f.startsWith(c.id))).toEqual([`${c.id}/${list.contents[0].backup_history_number}.rdb`]);

    // Unset: no more scheduled backups; the backup taken stays.
    const unset = await h.client.delete(`/v1/clusters/${c.id}/backups`);
    expect(unset.status).toBe(202);
    expect(await h.client.waitRequest(unset.body.request_id)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${c.id}`)).body.init_config_option.backup_option).toEqual({ retention_period_day: null, starting_time_hour: null });
    // Without backups the engine compacts its log itself again.
    const svc = await serviceEndpoint(h, c.id, c.ip);
    expect(await withClient(svc, (r) => r.config('GET', 'auto-aof-rewrite-percentage'))).toEqual(['auto-aof-rewrite-percentage', '100']);
    // Thirty days on, far past the 7-day retention that applied while backups were set: no
    // backup is taken and the one kept does not expire.
    clock.set(new Date(clock.now().getTime() + 30 * 86400_000));
    expect(await h.service.scheduler.tick()).toEqual([]);
    list = (await h.client.get(`/v1/clusters/${c.id}/backup-histories`)).body;
    expect(list.total_count).toBe(1);
    expect((await files(h.config.backupDir)).filter((f) => f.startsWith(c.id))).toEqual([`${c.id}/${list.contents[0].backup_history_number}.rdb`]);
  });

  it('takes the daily backup of a cluster created with backup_option from the first starting hour after its creation', async () => {
    const c = await t.create(engine, 'createdwith', {
      timezone: 'UTC',
      init_config_option: { database_user_password: 'Secr3t!pass', database_port: 6378, backup_option: { retention_period_day: '14', starting_time_hour: '5' } },
    });
    expect((await h.client.get(`/v1/clusters/${c.id}`)).body.init_config_option.backup_option).toEqual({ retention_period_day: '14', starting_time_hour: '5' });
    // The backup node keeps its whole write log between backups: no automatic AOF rewrite.
    const svc = await serviceEndpoint(h, c.id, c.ip);
    expect(await withClient(svc, (r) => r.config('GET', 'auto-aof-rewrite-percentage'))).toEqual(['auto-aof-rewrite-percentage', '0']);

    // Today's 05:00 UTC came before the cluster did (or is still ahead): nothing is owed yet.
    const now = new Date();
    clock.set(now);
    expect(await h.service.scheduler.tick()).toEqual([]);
    const next = latestSlot(new Date(now.getTime() + 86400_000), 'UTC', 5);
    clock.set(new Date(next.getTime() + 1000));
    const fired = await h.service.scheduler.tick();
    expect(fired).toHaveLength(1);
    expect(await h.client.waitRequest(fired[0], 60_000)).toBe('COMPLETED');
    expect((await h.client.get(`/v1/clusters/${c.id}/backup-histories`)).body.contents[0].backup_state).toBe('COMPLETED');

    // Terminating the cluster deletes its backups and their write logs with it.
    const del = await h.client.delete(`/v1/clusters/${c.id}`);
    expect(await h.client.waitRequest(del.body.request_id)).toBe('COMPLETED');
    expect((await files(h.config.backupDir)).filter((f) => f.startsWith(c.id))).toEqual([]);
    expect(await files(join(h.dataDir, 'wal-archive', c.id))).toEqual([]);
  });

  it('answers bad input on every backup route with a 4xx in the error shape, changing nothing', async () => {
    const c = await t.create(engine, 'badinput');
    const base = `/v1/clusters/${c.id}`;
    const bodies: unknown[] = [null, [], 'x', 42, {}, { retention_period_day: 7, starting_time_hour: 3 }, { retention_period_day: '7' },
      { backup_history_number: 'x' }, { backup_history_number: [1] }, { backup_history_number: [null] }, { name: 'a'.repeat(300) },
      { name: 'ok', instance_name_prefix: 'ok1', server_type_name: 'redis1v1m2', backup_recovery_time: '2026-13-45T99:00:00Z' },
      { name: 'ok', instance_name_prefix: 'ok1', server_type_name: 'redis1v1m2', backup_recovery_time: '0001-01-01T00:00:00Z' },
      { name: 'ok', instance_name_prefix: 'ok1', server_type_name: 'redis1v1m2', backup_history_number: '', allowable_ip_addresses: ['not-an-ip'] },
      { name: 'ok', instance_name_prefix: 'ok1', server_type_name: '', backup_history_number: 'x', tags: [{ key: '' }] }];
    const routes: Array<[string, string]> = [['POST', `${base}/backups`], ['PUT', `${base}/backup-histories`], ['POST', `${base}/restore`], ['POST', `${base}/backup-histories`]];
    for (const [method, path] of routes) {
      for (const body of bodies) {
        const r = await h.client.request(method, path, body);
        if (method === 'POST' && path.endsWith('/backup-histories')) {
          // The on-demand backup takes no body: whatever JSON is sent, it answers as without one;
          // a body that is not JSON at all (a bare string is sent as it is) is a 400 saying so.
          if (typeof body === 'string') {
            expect(expectErrorShape(r, 400, 'ValidationError').detail).toMatch(/not valid JSON/);
            continue;
          }
          expect(r.status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(202);
          expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
          continue;
        }
        expect(r.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expectErrorShape(r, r.status);
      }
    }
    const names = (await h.client.get('/v1/clusters?size=100')).body.contents.map((x: any) => x.name);
    expect(names).not.toContain('ok');
    expect((await h.client.get(base)).body.init_config_option.backup_option).toEqual({ retention_period_day: null, starting_time_hour: null });
  });

  it('refuses restores it cannot do, naming what to change, and creates nothing', async () => {
    const c = await t.create(engine, 'refusals');
    const b = await t.backupNow(c.id);
    const ok = { name: 'copy', instance_name_prefix: 'cpy', server_type_name: 'redis1v1m2', backup_history_number: b.number };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...ok, backup_history_number: undefined }, /give exactly one of backup_history_number/],
      [{ ...ok, backup_recovery_time: new Date().toISOString() }, /give exactly one of backup_history_number/],
      [{ ...ok, backup_history_number: 'nope' }, /'nope' is not a backup of cluster 'refusals'/],
      [{ ...ok, server_type_name: 'css9v9m9' }, /server_type_name.*not a server type/],
      [{ ...ok, name: 'refusals' }, /a cluster named 'refusals' already exists/],
      [{ ...ok, name: 'x' }, /name/],
      [{ ...ok, block_storage_groups: [{ role_type: 'ARCHIVE', size_gb: 16 }] }, /must be OS or DATA/],
      [{ ...ok, backup_recovery_time: 'yesterday', backup_history_number: null }, /backup_recovery_time/],
    ];
    for (const [body, message] of cases) {
      const r = await h.client.post(`/v1/clusters/${c.id}/restore`, body);
      expect(JSON.stringify(expectErrorShape(r, 400).detail), JSON.stringify(body)).toMatch(message);
    }
    const names = (await h.client.get('/v1/clusters?size=100')).body.contents.map((x: any) => x.name);
    expect(names).not.toContain('copy');
    expectErrorShape(await h.client.post(`/v1/clusters/${'e'.repeat(32)}/restore`, ok), 404, 'NotFound');

    // A stopped cluster cannot be backed up (nothing runs to take the snapshot from), but its
    // backups restore, and its backup settings can change.
    const stop = await h.client.post(`/v1/clusters/${c.id}/stop`);
    expect(await h.client.waitRequest(stop.body.request_id)).toBe('COMPLETED');
    const refused = await h.client.post(`/v1/clusters/${c.id}/backup-histories`);
    expect(JSON.stringify(expectErrorShape(refused, 400).detail)).toMatch(/is STOPPED; backup is allowed only when it is RUNNING/);
    const set = await h.client.post(`/v1/clusters/${c.id}/backups`, { retention_period_day: '35', starting_time_hour: '0' });
    expect(await h.client.waitRequest(set.body.request_id)).toBe('COMPLETED');
    const copy = await t.restore(c.id, { ...ok, name: 'fromstopped' });
    expect((await h.client.get(`/v1/clusters/${copy.id}`)).body.service_state).toBe('RUNNING');
  });
});
