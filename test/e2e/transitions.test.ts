// README "Cluster states": a failed stop, start or terminate leaves ERROR, a failed restart ends
// as a probe finds the cluster (RUNNING while the engine serves, else ERROR); a create or restore that fails ends FAILED and leaves nothing
// behind; and the table of which operation is
// allowed from which state. Failures are caused the way they happen in life, on real engines:
// the engine cannot save its dataset (its dump file's place is taken by a directory), another
// process holds the node's ip:port, backup storage refuses a delete, a stored backup is damaged.
// One worker (CACHESTORE_WORKER_CONCURRENCY=1): a create recorded while a failing stop retries
// waits REQUESTED, and loses its port meanwhile. Healing is off (CACHESTORE_HEAL_AFTER_MS=0), so
// a killed engine stays dead and its cluster ERROR.
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo, fill, readAll } from '../support/dataset.js';
import { enginePids } from '../support/engines.js';
import { expectErrorShape } from '../support/errors.js';
import { createBody, engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { instancesOf } from '../support/observe.js';

let h: Harness;
let engine: Awaited<ReturnType<typeof engineVersions>>[number];
const servers: Server[] = [];

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_WORKER_CONCURRENCY: '1', CACHESTORE_HEAL_AFTER_MS: '0', CACHESTORE_BACKUP_SCHEDULE_MS: '0' });
  engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith('Redis'))!;
});
afterAll(async () => {
  for (const s of servers) s.close();
  await h?.stop();
});

/** Another process's listener on ip:port (a stranger holding the node's address). */
async function occupy(ip: string, port = 6378): Promise<Server> {
  const s = createServer((sock) => sock.destroy());
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host: ip, port, exclusive: true }, () => resolve());
  });
  return s;
}
async function release(s: Server): Promise<void> {
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

async function show(id: string) {
  return (await h.client.get(`/v1/clusters/${id}`)).body;
}
async function instanceIds(id: string): Promise<string[]> {
  return (await h.service.store.clusterDetail(null, id))!.instances.map((i) => i.id);
}
async function created(name: string): Promise<{ id: string; ip: string; instanceId: string }> {
  const r = await h.client.post('/v1/clusters', createBody(engine, { name }));
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id)).toBe('COMPLETED');
  const id = r.body.resource.id;
  return { id, ip: instancesOf(await show(id))[0].service_ip_address, instanceId: (await instanceIds(id))[0] };
}
/** Submits and waits; returns the request's outcome and its error. */
async function operate(method: string, path: string, body?: unknown): Promise<{ state: string; error: string | null; requestId: string }> {
  const r = await h.client.request(method, path, body);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(202);
  const state = await h.client.waitRequest(r.body.request_id, 40_000);
  const d = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
  return { state, error: d.error, requestId: r.body.request_id };
}
/** The engine cannot save: the place of its dump file is a (non-empty) directory. */
async function blockSave(instanceId: string): Promise<string> {
  const dump = join(h.dataDir, 'engines', instanceId, 'data', 'dump.rdb');
  await rm(dump, { recursive: true, force: true });
  await mkdir(join(dump, 'in-the-way'), { recursive: true });
  return dump;
}
async function killEngine(instanceId: string): Promise<void> {
  const pids = await enginePids(instanceId);
  expect(pids).toHaveLength(1);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200 && (await enginePids(instanceId)).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
}
async function ping(ip: string): Promise<string> {
  const c = connectTo(ip);
  try {
    await c.connect();
    return await c.ping();
  } finally {
    c.disconnect();
  }
}

let failedCluster: string; // FAILED, for the transition table
let failedHaCluster: string; // FAILED and HA: a switchover is refused naming FAILED
let terminatedCluster: string; // TERMINATED, for the transition table

describe('failed operations', () => {
  let a: { id: string; ip: string; instanceId: string };
  let dump: string;

  it('a stop the engine refuses (it cannot save) leaves the cluster ERROR and the engine serving', async () => {
    a = await created('refusesstop');
    dump = await blockSave(a.instanceId);
    const r = await operate('POST', `/v1/clusters/${a.id}/stop`);
    expect(r.state).toBe('FAILED');
    expect(r.error).toMatch(/refused to shut down/);
    const s = await show(a.id);
    expect(s.service_state).toBe('ERROR');
    expect(instancesOf(s)[0].service_state).toBe('RUNNING');
    expect(await ping(a.ip)).toBe('PONG');
  });

  it('a create whose address another process took while it waited ends FAILED, leaving nothing', async () => {
    // The only worker is busy with a stop that retries for seconds: the creates wait meanwhile.
    const stop = await h.client.post(`/v1/clusters/${a.id}/stop`);
    expect(stop.status).toBe(202);
    const solo = await h.client.post('/v1/clusters', createBody(engine, { name: 'losesport' }));
    const ha = await h.client.post('/v1/clusters', haBody(engine, 1, { name: 'halosesport' }));
    const strangers: Server[] = [];
    for (const r of [solo, ha]) {
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect((await h.client.get(`/v1/requests/${r.body.request_id}`)).body.state).toBe('REQUESTED');
      // Standalone: its only node; HA: the replica, so the primary has already started when it fails.
      const victim = instancesOf(await show(r.body.resource.id)).find((i) => i.role_type === (r === ha ? 'REPLICA' : 'MASTER'))!;
      strangers.push(await occupy(victim.service_ip_address));
    }
    expect(await h.client.waitRequest(stop.body.request_id, 40_000)).toBe('FAILED');
    for (const r of [solo, ha]) {
      const id = r.body.resource.id;
      expect(await h.client.waitRequest(r.body.request_id, 40_000)).toBe('FAILED');
      const d = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
      expect(d.error).toMatch(/taken by a process that is not this node's engine/);
      const s = await show(id);
      expect(s.service_state).toBe('FAILED');
      for (const i of instancesOf(s)) expect(i.service_state, i.name).toBe('FAILED');
      for (const inst of await instanceIds(id)) {
        for (const node of [inst, `${inst}-sentinel`]) {
          expect(await enginePids(node)).toEqual([]);
          await expect(stat(join(h.dataDir, 'engines', node))).rejects.toThrow(/ENOENT/);
        }
      }
    }
    for (const s of strangers) await release(s);
    failedCluster = solo.body.resource.id;
    failedHaCluster = ha.body.resource.id;
  });

  it('a restart that cannot stop the engine fails and ends as a probe finds the cluster: RUNNING, as the engine still serves', async () => {
    // Restart, like switchover and sync, reports what it finds (README): here the engine kept serving.
    expect((await show(a.id)).service_state).toBe('ERROR');
    const r = await operate('POST', `/v1/clusters/${a.id}/restart`);
    expect(r.state).toBe('FAILED');
    expect(r.error).toMatch(/refused to shut down/);
    const s = await show(a.id);
    expect(s.service_state).toBe('RUNNING');
    expect(instancesOf(s)[0].service_state).toBe('RUNNING');
    expect(await ping(a.ip)).toBe('PONG');
    // Once the engine can save again, it stops.
    await rm(dump, { recursive: true, force: true });
    expect((await operate('POST', `/v1/clusters/${a.id}/stop`)).state).toBe('COMPLETED');
    expect((await show(a.id)).service_state).toBe('STOPPED');
    expect(await enginePids(a.instanceId)).toEqual([]);
  });

  it('a start whose address another process holds leaves ERROR; once free, Start from ERROR runs it', async () => {
    const stranger = await occupy(a.ip);
    const r = await operate('POST', `/v1/clusters/${a.id}/start`);
    expect(r.state).toBe('FAILED');
    expect(r.error).toMatch(new RegExp(`${a.ip.replace(/\./g, '\\.')}:6378 is taken by a process that is not this node's engine`));
    const s = await show(a.id);
    expect(s.service_state).toBe('ERROR');
    expect(instancesOf(s)[0].service_state).toBe('ERROR');
    await release(stranger);
    expect((await operate('POST', `/v1/clusters/${a.id}/start`)).state).toBe('COMPLETED');
    expect((await show(a.id)).service_state).toBe('RUNNING');
    expect(await ping(a.ip)).toBe('PONG');
  });

  it('a restart whose engine cannot start again (its write-log manifest is damaged) ends ERROR', async () => {
    const c = await created('cannotcomeback');
    await writeFile(join(h.dataDir, 'engines', c.instanceId, 'data', 'appendonlydir', 'appendonly.aof.manifest'), 'damaged\n');
    const r = await operate('POST', `/v1/clusters/${c.id}/restart`);
    expect(r.state).toBe('FAILED');
    expect(r.error).toMatch(/Invalid AOF manifest file format/);
    const s = await show(c.id);
    expect(s.service_state).toBe('ERROR');
    expect(instancesOf(s)[0].service_state).toBe('ERROR');
    expect(await enginePids(c.instanceId)).toEqual([]);
  });

  it('a terminate that cannot delete a backup leaves ERROR; Terminate from ERROR finishes it', async () => {
    const b = await operate('POST', `/v1/clusters/${a.id}/backup-histories`);
    expect(b.state).toBe('COMPLETED');
    const [backup] = await h.service.store.backupsOf(a.id);
    // Backup storage refuses to delete the object (a directory stands where the file was).
    const stored = join(h.config.backupDir, a.id, `${backup.id}.rdb`);
    await rm(stored);
    await mkdir(join(stored, 'in-the-way'), { recursive: true });
    const r = await operate('DELETE', `/v1/clusters/${a.id}`);
    expect(r.state).toBe('FAILED');
    expect(r.error).toMatch(/directory/i);
    expect((await show(a.id)).service_state).toBe('ERROR');
    await rm(stored, { recursive: true, force: true });
    expect((await operate('DELETE', `/v1/clusters/${a.id}`)).state).toBe('COMPLETED');
    expect((await show(a.id)).service_state).toBe('TERMINATED');
    expect(await enginePids(a.instanceId)).toEqual([]);
    terminatedCluster = a.id;
  });

  it('a restore from a damaged backup ends FAILED and leaves nothing behind; the source is untouched', async () => {
    const src = await created('damagedsource');
    await fill(src.ip, 'k', 300);
    const before = await readAll(src.ip);
    expect((await operate('POST', `/v1/clusters/${src.id}/backup-histories`)).state).toBe('COMPLETED');
    const [backup] = await h.service.store.backupsOf(src.id);
    // One byte flipped in the middle of the stored file: same size, another checksum.
    const f = await open(join(h.config.backupDir, src.id, `${backup.id}.rdb`), 'r+');
    const size = (await f.stat()).size;
    const byte = Buffer.alloc(1);
    await f.read(byte, 0, 1, Math.floor(size / 2));
    byte[0] ^= 0xff;
    await f.write(byte, 0, 1, Math.floor(size / 2));
    await f.close();

    const r = await h.client.post(`/v1/clusters/${src.id}/restore`, { name: 'fromdamaged', instance_name_prefix: 'dmg', server_type_name: 'redis1v1m2', backup_history_number: backup.id });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const copy = r.body.resource.id;
    expect(await h.client.waitRequest(r.body.request_id)).toBe('FAILED');
    const d = (await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body;
    expect(d.error).toMatch(/is damaged: its checksum is [0-9a-f]{64}, [0-9a-f]{64} was recorded/);
    const s = await show(copy);
    expect(s.service_state).toBe('FAILED');
    expect(instancesOf(s)[0].service_state).toBe('FAILED');
    const ip = instancesOf(s)[0].service_ip_address;
    for (const inst of await instanceIds(copy)) {
      expect(await enginePids(inst)).toEqual([]);
      await expect(stat(join(h.dataDir, 'engines', inst))).rejects.toThrow(/ENOENT/);
    }
    expect((await readdir(join(h.dataDir, 'backup-staging')).catch(() => [])).filter((n) => n.startsWith('restore-'))).toEqual([]);
    // Its address is free again: a new cluster may ask for exactly it.
    const again = createBody(engine, { name: 'takesaddress' }) as any;
    again.instance_groups[0].instances[0].service_ip_address = ip;
    const r2 = await h.client.post('/v1/clusters', again);
    expect(r2.status, JSON.stringify(r2.body)).toBe(202);
    expect(await h.client.waitRequest(r2.body.request_id)).toBe('COMPLETED');
    // The source still serves its data.
    expect((await show(src.id)).service_state).toBe('RUNNING');
    expect(await readAll(src.ip)).toEqual(before);
  });
});

type State = 'RUNNING' | 'STOPPED' | 'ERROR' | 'FAILED' | 'TERMINATED';
type Op = 'stop' | 'start' | 'restart' | 'terminate' | 'sync' | 'backup' | 'set-backup' | 'unset-backup' | 'remove-backups';

/** README "Cluster states", as a user reads it. */
const ALLOWED: Record<Op, State[]> = {
  stop: ['RUNNING', 'ERROR'],
  restart: ['RUNNING', 'ERROR'],
  start: ['STOPPED', 'ERROR'],
  terminate: ['RUNNING', 'STOPPED', 'ERROR', 'FAILED'],
  sync: ['RUNNING', 'ERROR', 'STOPPED'],
  backup: ['RUNNING'],
  'set-backup': ['RUNNING', 'STOPPED', 'ERROR'],
  'unset-backup': ['RUNNING', 'STOPPED', 'ERROR'],
  'remove-backups': ['RUNNING', 'STOPPED', 'ERROR'],
};
/** Where an accepted operation leaves a cluster that was `from`. */
function endState(op: Op, from: State): State {
  return ({ stop: 'STOPPED', start: 'RUNNING', restart: 'RUNNING', terminate: 'TERMINATED', backup: 'RUNNING' } as Partial<Record<Op, State>>)[op] ?? from;
}
/** Operations after which the cluster is another one: each runs on a fresh cluster. */
const CHANGES_STATE: Op[] = ['stop', 'start', 'restart', 'terminate'];

function call(op: Op, id: string, backupNumber?: string): [string, string, unknown?] {
  const base = `/v1/clusters/${id}`;
  switch (op) {
    case 'stop': return ['POST', `${base}/stop`];
    case 'start': return ['POST', `${base}/start`];
    case 'restart': return ['POST', `${base}/restart`];
    case 'terminate': return ['DELETE', base];
    case 'sync': return ['POST', `${base}/sync-state`];
    case 'backup': return ['POST', `${base}/backup-histories`];
    case 'set-backup': return ['POST', `${base}/backups`, { retention_period_day: '7', starting_time_hour: '3' }];
    case 'unset-backup': return ['DELETE', `${base}/backups`];
    case 'remove-backups': return ['PUT', `${base}/backup-histories`, { backup_history_number: [backupNumber ?? 'none'] }];
  }
}

describe('the allowed-transition table', () => {
  let n = 0;
  /** A new standalone cluster in `state`, with one backup when it can take one first. */
  async function inState(state: Exclude<State, 'FAILED' | 'TERMINATED'>, withBackup: boolean): Promise<{ id: string; backup?: string }> {
    const c = await created(`table${state.toLowerCase()}${String.fromCharCode(97 + n++)}`);
    let backup: string | undefined;
    if (withBackup) {
      expect((await operate('POST', `/v1/clusters/${c.id}/backup-histories`)).state).toBe('COMPLETED');
      backup = (await h.service.store.backupsOf(c.id))[0].id;
    }
    if (state === 'STOPPED') expect((await operate('POST', `/v1/clusters/${c.id}/stop`)).state).toBe('COMPLETED');
    if (state === 'ERROR') {
      await killEngine(c.instanceId);
      await h.service.reconciler.check();
    }
    expect((await show(c.id)).service_state).toBe(state);
    return { id: c.id, backup };
  }

  for (const state of ['RUNNING', 'STOPPED', 'ERROR', 'FAILED', 'TERMINATED'] as State[]) {
    it(`from ${state}: refused operations answer 400 naming the state, allowed ones run and end where the README says`, async () => {
      const shared = state === 'FAILED' ? { id: failedCluster } : state === 'TERMINATED' ? { id: terminatedCluster } : await inState(state, true);
      expect(shared.id, 'the failed-operations tests made this cluster').toBeDefined();
      if (state === 'FAILED') {
        const sw = await h.client.post(`/v1/clusters/${failedHaCluster}/switchover`, { switch_host_name: 'tst-02' });
        expect(expectErrorShape(sw, 400).detail).toMatch(/is FAILED; switchover is allowed only when it is RUNNING/);
      }
      expect((await show(shared.id)).service_state).toBe(state);
      const ops = Object.keys(ALLOWED) as Op[];
      for (const op of ops.filter((o) => !ALLOWED[o].includes(state))) {
        // A FAILED or TERMINATED cluster has no backups to name (they went with it).
        if (op === 'remove-backups' && (state === 'FAILED' || state === 'TERMINATED')) continue;
        const [method, path, body] = call(op, shared.id, shared.backup);
        const e = expectErrorShape(await h.client.request(method, path, body), 400);
        expect(e.detail, `${op} from ${state}`).toMatch(new RegExp(`is ${state}; ${op} is allowed only when it is `));
        expect((await show(shared.id)).service_state, `${op} from ${state} changed nothing`).toBe(state);
      }
      // Allowed: the ones that keep the state run on the shared cluster, the others on fresh ones.
      for (const op of ops.filter((o) => ALLOWED[o].includes(state)).sort((x, y) => Number(x === 'terminate') - Number(y === 'terminate'))) {
        const target = CHANGES_STATE.includes(op) && state !== 'FAILED' ? await inState(state as 'RUNNING', false) : shared;
        const [method, path, body] = call(op, target.id, shared.backup);
        const r = await operate(method, path, body);
        expect(r.state, `${op} from ${state}: ${r.error}`).toBe('COMPLETED');
        expect((await show(target.id)).service_state, `${op} from ${state}`).toBe(endState(op, state));
      }
    });
  }
});
