// Three service processes on one PostgreSQL database and one data dir, as several replicas behind
// a load balancer on one machine. Any of them accepts a request and exactly one runs it (its
// lease); SIGKILLed in the middle of a create, a switchover and a backup, the process running it
// is replaced by another that finishes the work, with nothing done twice that a user could see;
// every process shows the same cluster; and when the leader (who alone watches the engines) is
// SIGKILLed, another takes its duties within seconds: a SIGKILLed primary is still failed over.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeNftTable } from '../../src/drivers/local/nftables.js';
import { startChildService, waitStep, type ChildService } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { killEnginesUnder, onePid, sigkillEngine } from '../support/engines.js';
import { engineVersions, haBody, testSubnet } from '../support/harness.js';
import { unmountVolumesUnder } from '../support/volumes.js';
import { waitFor } from '../support/writer.js';

let db: TestDatabase;
let sql: pg.Client;
let dataDir: string;
let env: Record<string, string>;
/** The processes alive now (a killed one is replaced by a new one). */
const services: ChildService[] = [];
const everStarted: ChildService[] = [];
let clusterId: string;

async function startOne(): Promise<ChildService> {
  const s = await startChildService(env);
  everStarted.push(s);
  services.push(s);
  return s;
}

/** The process whose worker holds the request's lease now (the worker id names its pid). */
async function runnerOf(requestId: string): Promise<ChildService> {
  const r = await sql.query<{ lease_owner: string | null }>('SELECT lease_owner FROM requests WHERE id = $1', [requestId]);
  const owner = r.rows[0]?.lease_owner;
  const s = services.find((x) => owner?.startsWith(`worker-${x.child.pid}-`));
  if (!s) throw new Error(`request ${requestId} is held by ${owner}, none of the running processes`);
  return s;
}

/** The process that leads the singleton duties now (its lease not expired). */
async function leader(): Promise<ChildService | undefined> {
  const r = await sql.query<{ holder: string | null; until_ms: number }>("SELECT holder, until_ms FROM leadership WHERE name = 'duties'");
  const row = r.rows[0];
  if (!row?.holder || Number(row.until_ms) <= Date.now()) return undefined;
  return services.find((x) => row.holder!.startsWith(`worker-${x.child.pid}-`));
}

/** SIGKILLs the process and starts another in its place (in the background); returns a survivor to ask. */
async function killAndReplace(victim: ChildService): Promise<{ survivor: ChildService; replacement: Promise<ChildService> }> {
  await victim.kill('SIGKILL');
  services.splice(services.indexOf(victim), 1);
  return { survivor: services[0], replacement: startOne() };
}

/**
 * Waits until the request has recorded `step` (the process then pauses), SIGKILLs the process
 * running it, and waits for another to complete it; a new process takes the killed one's place.
 * Returns a survivor to ask.
 */
async function killMidwayAndFinish(requestId: string, step: string): Promise<ChildService> {
  await waitStep(services[0], requestId, step, 60_000);
  const { survivor, replacement } = await killAndReplace(await runnerOf(requestId));
  expect(await survivor.client.waitRequest(requestId, 60_000)).toBe('COMPLETED');
  await replacement;
  return survivor;
}

/** Waits for a process other than `old` to lead. */
function anotherLeaderThan(old: ChildService): Promise<ChildService> {
  return waitFor('another leader', async () => {
    const l = await leader();
    return l && l !== old ? l : undefined;
  }, 20_000);
}

async function events(s: ChildService, id: string): Promise<string[]> {
  return (await s.client.get(`/v1/clusters/${id}/events?size=200`)).body.contents.map((e: { message: string }) => e.message);
}

function count(list: string[], match: (m: string) => boolean): number {
  return list.filter(match).length;
}

/** Show Cluster from every live process: one and the same JSON. */
async function showEverywhere(id: string): Promise<any> {
  const shows = await Promise.all(services.map(async (s) => (await s.client.get(`/v1/clusters/${id}`)).body));
  for (const show of shows.slice(1)) expect(show).toEqual(shows[0]);
  return shows[0];
}

function instances(show: any): Array<{ name: string; role_type: string; service_ip_address: string; service_state: string }> {
  return show.instance_groups.flatMap((g: any) => g.instances);
}

/** The instance's id (the engines' title carries it; the API shows names only). */
async function instanceId(name: string): Promise<string> {
  const r = await sql.query<{ id: string }>('SELECT id FROM instances WHERE cluster_id = $1 AND name = $2', [clusterId, name]);
  return r.rows[0].id;
}

beforeAll(async () => {
  db = await createTestDatabase('postgres');
  if (db.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
  sql = new pg.Client({ connectionString: db.config.url });
  sql.on('error', () => undefined);
  await sql.connect();
  dataDir = await mkdtemp(join(tmpdir(), 'cachestore-replicas-'));
  env = {
    CACHESTORE_DATABASE_URL: db.config.url,
    CACHESTORE_DATA_DIR: dataDir,
    CACHESTORE_SUBNETS: `local-subnet=${testSubnet()}`,
    // Processes on one store share the key their secrets are sealed with.
    CACHESTORE_MASTER_KEY: randomBytes(32).toString('hex'),
    // A pause after each step: the moment the test kills the process running the request.
    CACHESTORE_DEBUG_STEP_DELAY_MS: '1500',
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
  };
  // One after the other: each start compiles the service (tsx), which on a busy machine takes
  // long enough that three at once overran the start timeout.
  for (let i = 0; i < 3; i++) await startOne();
}, 200_000);

afterAll(async () => {
  await Promise.all(everStarted.map((s) => s.kill('SIGKILL')));
  await sql?.end().catch(() => undefined);
  if (dataDir) {
    await removeNftTable(dataDir);
    await killEnginesUnder(dataDir);
    await unmountVolumesUnder(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
  await db?.cleanup();
});

describe('three service processes on one PostgreSQL', () => {
  it('elect one leader', async () => {
    const l = await waitFor('a leader', () => leader(), 15_000);
    expect(services).toContain(l);
  });

  it('a create (HA) whose process is SIGKILLed after a step is finished by another, once', async () => {
    const [engine] = await engineVersions(services[0].client);
    // Accepted by one process: which one runs it is the ledger's choice.
    const r = await services[1].client.post('/v1/clusters', haBody(engine, 1, { name: 'replicated' }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    clusterId = r.body.resource.id;
    const requestId: string = r.body.request_id;
    const survivor = await killMidwayAndFinish(requestId, 'start-data-nodes');
    const log = await events(survivor, clusterId);
    expect(count(log, (m) => m === 'create started')).toBe(1);
    expect(count(log, (m) => m === "create resumed after step 'start-data-nodes'")).toBe(1);
    expect(count(log, (m) => m === 'create completed')).toBe(1);
    expect(count(log, (m) => m.includes('failed'))).toBe(0);
    const show = await showEverywhere(clusterId);
    expect(show.service_state).toBe('RUNNING');
    // One engine per node: the data nodes were not started a second time.
    for (const i of instances(show)) expect(await onePid(await instanceId(i.name))).toBeGreaterThan(0);
    expect(instances(show).filter((i) => i.role_type === 'MASTER')).toHaveLength(1);
  }, 120_000);

  it('a switchover whose process is SIGKILLed after switching is finished by another, once', async () => {
    const before = instances(await showEverywhere(clusterId));
    const target = before.find((i) => i.role_type === 'REPLICA')!;
    const r = await services[2].client.post(`/v1/clusters/${clusterId}/switchover`, { switch_host_name: target.name });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const requestId: string = r.body.request_id;
    const survivor = await killMidwayAndFinish(requestId, 'switchover');
    const log = await events(survivor, clusterId);
    expect(count(log, (m) => m.startsWith(`switched over to ${target.name}`))).toBe(1);
    expect(count(log, (m) => m === 'switchover completed')).toBe(1);
    expect(count(log, (m) => m.startsWith('switchover resumed'))).toBe(1);
    const show = await showEverywhere(clusterId);
    expect(show.service_state).toBe('RUNNING');
    expect(instances(show).find((i) => i.role_type === 'MASTER')?.name).toBe(target.name);
  }, 120_000);

  it('a backup whose process is SIGKILLed after its snapshot is finished by another: one backup, stored and verified', async () => {
    const r = await services[1].client.post(`/v1/clusters/${clusterId}/backup-histories`);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const requestId: string = r.body.request_id;
    const survivor = await killMidwayAndFinish(requestId, 'snapshot');
    const list = await survivor.client.get(`/v1/clusters/${clusterId}/backup-histories?limit=100`);
    expect(list.body.contents).toHaveLength(1);
    expect(list.body.contents[0].backup_history_number).toBe(r.body.resource.id);
    expect(list.body.contents[0].backup_state).toBe('COMPLETED');
    const log = await events(survivor, clusterId);
    expect(count(log, (m) => m === 'backup completed')).toBe(1);
    expect(count(log, (m) => m.startsWith('backup resumed'))).toBe(1);
    await showEverywhere(clusterId);
  }, 120_000);

  it('a leader that stalls past its lease stops leading; another leads meanwhile', async () => {
    const stalled = (await waitFor('a leader', () => leader(), 15_000))!;
    stalled.child.kill('SIGSTOP');
    try {
      expect(await anotherLeaderThan(stalled)).not.toBe(stalled);
    } finally {
      stalled.child.kill('SIGCONT');
    }
    // Woken, it finds its lease ran out by its own clock and stops its duties, without taking
    // the lease back from the new leader.
    await waitFor('the stalled process to step down', async () => /no longer leads the singleton duties/.test(stalled.output()), 20_000);
    const l = await leader();
    expect(l).toBeDefined();
    expect(l).not.toBe(stalled);
  }, 60_000);

  it("moves the watch to another process when the leader dies: a SIGKILLed primary is still failed over", async () => {
    const old = (await waitFor('a leader', () => leader(), 15_000))!;
    const { replacement } = await killAndReplace(old);
    const next = await anotherLeaderThan(old);
    // Its first look at every cluster links it to every engine.
    await waitFor('the new leader to watch the engines', async () => /re-adopted running engines/.test(next.output()), 20_000);
    await replacement;

    const primary = instances(await showEverywhere(clusterId)).find((i) => i.role_type === 'MASTER')!;
    await sigkillEngine(await instanceId(primary.name));
    const show = await waitFor('another primary in Show Cluster', async () => {
      const s = (await services[0].client.get(`/v1/clusters/${clusterId}`)).body;
      const m = instances(s).find((i) => i.role_type === 'MASTER');
      return m && m.name !== primary.name ? s : undefined;
    }, 30_000);
    expect(instances(show).find((i) => i.role_type === 'MASTER')!.name).not.toBe(primary.name);
    // The new leader saw the death at once and asked Sentinel to fail over (only a leader does).
    expect(await events(services[0], clusterId)).toContain(`the primary's engine on ${primary.service_ip_address} died; asked Sentinel to fail over at once`);
    // And healed: the old primary comes back as a replica; every process shows the same.
    await waitFor('the old primary back as a replica', async () => {
      const s = (await services[0].client.get(`/v1/clusters/${clusterId}`)).body;
      return s.service_state === 'RUNNING' && instances(s).every((i) => i.service_state === 'RUNNING') ? s : undefined;
    }, 30_000);
    await showEverywhere(clusterId);
  }, 120_000);
});
