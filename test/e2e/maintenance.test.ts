// Maintenance windows against real engines, on a hand-set schedule clock: Set / Unset / Show and
// Create Cluster's maintenance_option, bad bodies refused naming the field; a restart-only
// parameter change and a command rename wait for the window (same engine process, old value in
// force, request RUNNING with a step naming the window), survive a restart of the service, run
// once when the clock enters the window or at once after Unset Maintenance; an engine patch
// upgrade (wrappers that report a newer patch, as after `apt-get upgrade`) rolls an HA cluster
// under write load onto the new binary in its window, on both engines, with no acknowledged
// write lost, and Show Cluster then names the new version.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/engines/client.js';
import { configGet } from '../../src/engines/parameters.js';
import { endpointOf } from '../../src/drivers/driver.js';
import { clusterNodes } from '../../src/operations/nodes.js';
import { enginePidOf } from '../support/engines.js';
import { announcePatch, makeEngineWrappers, nextPatch, startedAsVersion, type EngineName } from '../support/engine-wrappers.js';
import { expectErrorShape } from '../support/errors.js';
import { completes, createBody, engineVersions, haBody, ManualClock, startHarness, type Harness } from '../support/harness.js';
import { missingKeys, sentinelTargetOf, startWriter } from '../support/writer.js';

const PASSWORD = 'Secr3t!pass';
type Engine = Awaited<ReturnType<typeof engineVersions>>[number];

// Tuesday 03:00–04:00 in Seoul (UTC+9, no daylight saving) is Monday 18:00–19:00 UTC.
const WINDOW = { start_day_of_week: 'TUE', start_time: '03', start_minute: '00', term_hour: '1' };
const LABEL = 'waiting for the maintenance window Tue 03:00–04:00 Asia/Seoul';
const OUTSIDE = new Date('2026-12-07T12:00:00Z');
const INSIDE = new Date('2026-12-07T18:05:00Z');

const clock = new ManualClock();
let h: Harness;
let wrappers: string;
let engines: Engine[];

beforeAll(async () => {
  wrappers = await mkdtemp(join(tmpdir(), 'cachestore-wrappers-'));
  await makeEngineWrappers(wrappers);
  // The schedule is looked at only when a test says so (tick), on the hand-set clock.
  h = await startHarness(
    {
      CACHESTORE_ENGINE_PATH: wrappers,
      CACHESTORE_MAINTENANCE_CHECK_MS: '0',
      CACHESTORE_BACKUP_SCHEDULE_MS: '0',
      CACHESTORE_RECONCILE_INTERVAL_MS: '500',
      CACHESTORE_HEAL_AFTER_MS: '1500',
      CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500',
    },
    { scheduleClock: clock },
  );
  engines = await engineVersions(h.client);
  expect(engines.map((e) => e.product_image_type).sort()).toEqual(['Redis OSS Sentinel', 'Valkey Sentinel']);
});
afterAll(async () => {
  await h?.stop();
  if (wrappers) await rm(wrappers, { recursive: true, force: true });
});

const engineOf = (product: string) => engines.find((e) => e.product_image_type === product)!;

async function show(id: string): Promise<any> {
  const r = await h.client.get(`/v1/clusters/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function details(requestId: string): Promise<any> {
  const r = await h.client.get(`/v1/requests/${requestId}/details`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function events(id: string): Promise<string[]> {
  return (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
}

/** Sends a mutation that must wait for the window: 202, and the request RUNNING with the window's step. */
async function waits(method: string, path: string, body?: unknown, label = LABEL): Promise<string> {
  const r = await h.client.request(method, path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const d = await details(r.body.request_id);
  expect(d).toMatchObject({ state: 'RUNNING', last_step: label, error: null });
  return r.body.request_id;
}

/** The data nodes' engine pids, by instance id, as the service recognises them. */
async function dataPids(id: string): Promise<Record<string, number>> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const out: Record<string, number> = {};
  for (const i of detail.instances.filter((x) => x.roleType !== 'SENTINEL')) {
    const pid = await enginePidOf(h.dataDir, i.id);
    expect(pid, i.name).not.toBeNull();
    out[i.id] = pid!;
  }
  return out;
}

async function tcpBacklog(id: string): Promise<string[]> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const nodes = clusterNodes(detail, await h.service.store.clusterSecrets(id));
  return Promise.all(nodes.data.map(async (n) => (await configGet(endpointOf(n), ['tcp-backlog']))['tcp-backlog']));
}

async function tenant(id: string): Promise<Redis> {
  const detail = (await h.service.store.clusterDetail(null, id))!;
  const primary = clusterNodes(detail, await h.service.store.clusterSecrets(id)).primary!;
  const c = connect({ host: primary.ip, port: primary.port, password: PASSWORD });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

const answer = (c: Redis, ...args: string[]) => c.call(args[0], ...args.slice(1)).then((r) => String(r), (e: Error) => e.message);

async function terminate(id: string): Promise<void> {
  await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
}

describe('Set / Unset / Show', () => {
  it('create with maintenance_option, set, show and unset a window; bad bodies name the field', async () => {
    const engine = engineOf('Redis OSS Sentinel');
    const created = await completes(
      h.client,
      'POST',
      '/v1/clusters',
      createBody(engine, { name: 'mwround', instance_name_prefix: 'mwr', maintenance_option: { period_hour: '2', starting_day_of_week: 'SUN', starting_time: '0230' } }),
    );
    const id = created.id;
    expect((await show(id)).maintenance_option).toEqual({ period_hour: '2', starting_day_of_week: 'SUN', starting_time: '0230', use_maintenance_option: true });

    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, { start_day_of_week: 'WED', start_time: '4', start_minute: '30', term_hour: '1.5' });
    expect((await show(id)).maintenance_option).toEqual({ period_hour: '1.5', starting_day_of_week: 'WED', starting_time: '0430', use_maintenance_option: true });
    expect(await events(id)).toContain('maintenance window: Wed 04:30–06:00 Asia/Seoul (length 1.5 h)');

    const bad: Array<[Record<string, unknown>, string]> = [
      [{ ...WINDOW, start_time: '24' }, 'body.start_time'],
      [{ ...WINDOW, start_time: 'noon' }, 'body.start_time'],
      [{ ...WINDOW, start_minute: '60' }, 'body.start_minute'],
      [{ ...WINDOW, term_hour: '0.7' }, 'body.term_hour'],
      [{ ...WINDOW, term_hour: '25' }, 'body.term_hour'],
      [{ ...WINDOW, start_day_of_week: 'FUNDAY' }, 'body.start_day_of_week'],
      [{ start_day_of_week: 'TUE', start_time: '03', term_hour: '1' }, 'body.start_minute'],
    ];
    for (const [body, loc] of bad) {
      const e = expectErrorShape(await h.client.post(`/v1/clusters/${id}/maintenance`, body), 400);
      expect(e.detail.map((d: any) => d.loc.join('.')), JSON.stringify(body)).toEqual([loc]);
    }
    // Nothing was recorded by the refusals.
    expect((await show(id)).maintenance_option.starting_time).toBe('0430');
    expectErrorShape(await h.client.post(`/v1/clusters/${'0'.repeat(32)}/maintenance`, WINDOW), 404, 'NotFound');
    expectErrorShape(await h.client.delete(`/v1/clusters/${'0'.repeat(32)}/maintenance`), 404, 'NotFound');

    await completes(h.client, 'DELETE', `/v1/clusters/${id}/maintenance`);
    expect((await show(id)).maintenance_option).toEqual({ period_hour: null, starting_time: null, use_maintenance_option: false });
    await terminate(id);
  });
});

describe('work that waits for the window', () => {
  it('a restart-only parameter change waits, survives a restart of the service, and runs once in the window', async () => {
    clock.set(OUTSIDE);
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engineOf('Redis OSS Sentinel'), { name: 'mwparams', instance_name_prefix: 'mwp' }))).id;
    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, WINDOW);
    const pids = await dataPids(id);
    const values = (await h.client.get(`/v1/clusters/${id}/parameters`)).body.contents;
    const backlog = values.find((p: any) => p.name === 'tcp-backlog');
    const req = await waits('PUT', `/v1/clusters/${id}/parameters`, { parameters: [{ id: backlog.id, old_value: '511', new_value: '2048' }] });

    // A look outside the window changes nothing; the cluster serves, RUNNING, with the old value.
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'waiting' });
    expect((await show(id)).service_state).toBe('RUNNING');
    expect(await tcpBacklog(id)).toEqual(['511']);
    expect(await dataPids(id)).toEqual(pids);
    expect((await events(id)).join('\n')).toContain(`set-parameters ${LABEL}`);
    // A second Set Parameter Values would be checked against values about to change: refused.
    const second = await h.client.request('PUT', `/v1/clusters/${id}/parameters`, { parameters: [{ id: backlog.id, old_value: '511', new_value: '1024' }] });
    expect(expectErrorShape(second, 400).detail).toMatch(new RegExp(`${req} \\(set-parameters\\) ${LABEL}`));

    await h.restartService();
    expect(await details(req)).toMatchObject({ state: 'RUNNING', last_step: LABEL });
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'waiting' });
    expect(await dataPids(id)).toEqual(pids);

    clock.set(INSIDE);
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'released' });
    expect(await h.client.waitRequest(req, 60_000)).toBe('COMPLETED');
    expect(await tcpBacklog(id)).toEqual(['2048']);
    const after = await dataPids(id);
    expect(after[Object.keys(pids)[0]]).not.toBe(pids[Object.keys(pids)[0]]);
    // Once: another look finds nothing to run, and the engine is the same process.
    expect((await h.service.maintenance.tick()).released).toEqual({});
    expect(await dataPids(id)).toEqual(after);
    expect((await events(id)).join('\n')).toContain('maintenance window Tue 03:00–04:00 Asia/Seoul is open: set-parameters runs now');

    // Inside the window, such a change runs at once.
    const now = await completes(h.client, 'PUT', `/v1/clusters/${id}/parameters`, { parameters: [{ id: backlog.id, old_value: '2048', new_value: '1024' }] });
    expect((await details(now.requestId)).last_step).not.toBe(LABEL);
    expect(await tcpBacklog(id)).toEqual(['1024']);
    await terminate(id);
  });

  it('a command rename waits, and Unset Maintenance runs it at once', async () => {
    clock.set(OUTSIDE);
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engineOf('Valkey Sentinel'), { name: 'mwcommands', instance_name_prefix: 'mwc' }))).id;
    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, WINDOW);
    const pids = await dataPids(id);
    const commands = new Map((await h.client.get(`/v1/clusters/${id}/commands`)).body.contents.map((c: any) => [c.name, c]));
    const keys = commands.get('KEYS') as any;
    const req = await waits('PUT', `/v1/clusters/${id}/commands`, { commands: [{ id: keys.id, name: 'KEYS', new_value: 'listkeys' }] });

    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'waiting' });
    let c = await tenant(id);
    try {
      await c.set('k1', 'v');
      expect(await answer(c, 'KEYS', 'k*')).toBe('k1');
      expect(await answer(c, 'LISTKEYS', 'k*')).toMatch(/unknown command/i);
    } finally {
      c.disconnect();
    }
    expect(await dataPids(id)).toEqual(pids);
    expectErrorShape(
      await h.client.request('PUT', `/v1/clusters/${id}/commands`, { commands: [{ id: keys.id, name: 'KEYS', new_value: 'DISABLED' }] }),
      400,
      'InvalidStateError',
    );

    // Unset: the waiting rename runs when the Unset request completes, without a look by the schedule.
    await completes(h.client, 'DELETE', `/v1/clusters/${id}/maintenance`);
    expect(await h.client.waitRequest(req, 60_000)).toBe('COMPLETED');
    expect((await events(id)).join('\n')).toContain('no maintenance window set: set-commands runs now');
    const after = await dataPids(id);
    expect(after[Object.keys(pids)[0]]).not.toBe(pids[Object.keys(pids)[0]]);
    c = await tenant(id);
    try {
      expect(await answer(c, 'KEYS', 'k*')).toMatch(/unknown command/i);
      expect(await answer(c, 'LISTKEYS', 'k*')).toBe('k1');
    } finally {
      c.disconnect();
    }
    expect((await h.service.maintenance.tick()).released).toEqual({});
    expect(await dataPids(id)).toEqual(after);
    await terminate(id);
  });
});

describe('waiting work and the cluster around it', () => {
  it('follows a changed window; fails when the cluster is STOPPED as it comes due, or terminated meanwhile', async () => {
    clock.set(OUTSIDE);
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(engineOf('Redis OSS Sentinel'), { name: 'mwstopped', instance_name_prefix: 'mws' }))).id;
    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, WINDOW);
    const commands = new Map((await h.client.get(`/v1/clusters/${id}/commands`)).body.contents.map((c: any) => [c.name, c]));
    const rename = { commands: [{ id: (commands.get('FLUSHDB') as any).id, name: 'FLUSHDB', new_value: 'cleardb' }] };
    const req = await waits('PUT', `/v1/clusters/${id}/commands`, rename);

    // Another window: the request waits for that one, and says so.
    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, { ...WINDOW, start_day_of_week: 'WED' });
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'waiting' });
    expect((await details(req)).last_step).toBe('waiting for the maintenance window Wed 03:00–04:00 Asia/Seoul');
    // The Tuesday window no longer releases it.
    clock.set(INSIDE);
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'waiting' });

    // Waiting work holds no lock: the cluster stops; when the work comes due it fails, nothing applied.
    await completes(h.client, 'POST', `/v1/clusters/${id}/stop`);
    clock.set(new Date(INSIDE.getTime() + 86400_000));
    expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'failed' });
    const failed = await details(req);
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatch(/is STOPPED; set-commands needs it RUNNING\. Nothing was applied/);

    await completes(h.client, 'POST', `/v1/clusters/${id}/start`);
    clock.set(OUTSIDE);
    const again = await waits('PUT', `/v1/clusters/${id}/commands`, rename, 'waiting for the maintenance window Wed 03:00–04:00 Asia/Seoul');
    await terminate(id);
    // The look that follows the terminate request fails it.
    expect(await h.client.waitRequest(again, 10_000)).toBe('FAILED');
    expect(await details(again)).toMatchObject({ state: 'FAILED', error: 'the cluster was TERMINATED before its maintenance window; nothing was applied' });
    expect((await h.service.store.findCluster(null, id))!.commands).toEqual({});
  });
});

describe.each([
  ['Redis OSS Sentinel', 'redis'],
  ['Valkey Sentinel', 'valkey'],
] as const)('%s engine patch upgrade', (product, engine: EngineName) => {
  it('rolls an HA cluster under write load onto the newer patch in its window: no acknowledged write lost', async () => {
    clock.set(OUTSIDE);
    const ev = engineOf(product);
    const name = `mwup${engine}`;
    const id = (await completes(h.client, 'POST', '/v1/clusters', haBody(ev, 1, { name, instance_name_prefix: `mu${engine[0]}` }))).id;
    await completes(h.client, 'POST', `/v1/clusters/${id}/maintenance`, WINDOW);
    const label = product.startsWith('Redis') ? 'Redis OSS' : 'Valkey';
    const before = await show(id);
    expect(before.dbaas_engine_version_name).toBe(`${label} ${ev.software_version}`);
    const pids = await dataPids(id);
    const newer = nextPatch(ev.software_version);

    await announcePatch(wrappers, engine, newer);
    try {
      const look = await h.service.maintenance.tick();
      expect(look.upgrades).toHaveLength(1);
      const req = look.upgrades[0];
      expect(await details(req)).toMatchObject({ operation: 'upgrade-engine', state: 'RUNNING', last_step: LABEL });
      expect((await events(id)).join('\n')).toContain(`engine ${label} ${newer} is installed (the cluster runs ${ev.software_version}): upgrade requested`);
      // The catalogue offers the installed patch from now on.
      expect((await engineVersions(h.client)).find((e) => e.product_image_type === product)!.software_version).toBe(newer);
      // Once asked, not asked again; nothing restarts before the window.
      expect((await h.service.maintenance.tick()).upgrades).toEqual([]);
      expect(await dataPids(id)).toEqual(pids);
      expect((await show(id)).dbaas_engine_version_name).toBe(`${label} ${ev.software_version}`);

      const target = sentinelTargetOf(before);
      const writer = startWriter(target, `up-${engine}`);
      let result;
      try {
        await new Promise((r) => setTimeout(r, 300));
        clock.set(INSIDE);
        expect((await h.service.maintenance.tick()).released).toEqual({ [req]: 'released' });
        expect(await h.client.waitRequest(req, 120_000), JSON.stringify(await details(req))).toBe('COMPLETED');
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        result = await writer.stop();
      }
      expect(result.acked.length).toBeGreaterThan(50);
      expect(await missingKeys(target, result.acked)).toEqual([]);

      const after = await show(id);
      expect(after.dbaas_engine_version_name).toBe(`${label} ${newer}`);
      expect(after.service_state).toBe('RUNNING');
      // Every data node and every Sentinel is a new process of the new binary.
      const detail = (await h.service.store.clusterDetail(null, id))!;
      const nodes = clusterNodes(detail, await h.service.store.clusterSecrets(id));
      for (const n of nodes.all) {
        const pid = await enginePidOf(h.dataDir, n.nodeId);
        expect(pid, n.nodeId).not.toBeNull();
        if (n.kind === 'data') expect(pid).not.toBe(pids[n.instanceId]);
        expect(await startedAsVersion(pid!), n.nodeId).toBe(newer);
      }
      const msgs = (await events(id)).join('\n');
      expect(msgs).toMatch(/switched over to/);
      expect(msgs).toContain(`engine upgraded from ${ev.software_version} to ${newer}`);
      // Upgraded: the next look asks for nothing.
      expect((await h.service.maintenance.tick()).upgrades).toEqual([]);
    } finally {
      await announcePatch(wrappers, engine, null);
      // The service reads the binaries again: the catalogue offers the machine's version again.
      await h.service.maintenance.tick();
    }
    await terminate(id);
  });
});

describe('engine patch upgrade without a window', () => {
  it('runs at the next look: a standalone engine restarts onto the newer patch', async () => {
    const ev = engineOf('Redis OSS Sentinel');
    const id = (await completes(h.client, 'POST', '/v1/clusters', createBody(ev, { name: 'mwupnow', instance_name_prefix: 'mun' }))).id;
    const [pid] = Object.values(await dataPids(id));
    const newer = nextPatch(ev.software_version);
    await announcePatch(wrappers, 'redis', newer);
    try {
      const look = await h.service.maintenance.tick();
      expect(look.upgrades).toHaveLength(1);
      expect(await h.client.waitRequest(look.upgrades[0], 60_000)).toBe('COMPLETED');
      expect((await details(look.upgrades[0])).last_step).toBe('record-engine-version');
      const [after] = Object.values(await dataPids(id));
      expect(after).not.toBe(pid);
      expect(await startedAsVersion(after)).toBe(newer);
      expect((await show(id)).dbaas_engine_version_name).toBe(`Redis OSS ${newer}`);
    } finally {
      await announcePatch(wrappers, 'redis', null);
      await h.service.maintenance.tick();
    }
    await terminate(id);
  });
});
