// The crash sweep: SIGKILL of the service right after a chosen step of every workflow, then a
// restart on the same data dir and a look at what it made of it. The points come from the
// workflow definitions themselves (src/operations/workflows), so a step added later is swept too.
//
// One kill interrupts every swept workflow at once: each runs on a cluster of its own, the
// service holds each request at its point (CACHESTORE_DEBUG_CRASH_AFTER_STEP, a list) and SIGKILLs
// itself once all are held. The next start resumes them all; the test waits for every request to
// end, checks the outcomes and that the clusters are what Show says (cluster-truth.ts), submits
// the next round and waits for the next kill. A round costs one service start, however many
// workflows it sweeps.
import { expect } from 'vitest';
import { WORKFLOWS } from '../../src/operations/workflows/index.js';
import type { OperationKind } from '../../src/domain/model.js';
import type { ChildService, ChildServices } from './child-service.js';
import type { SignedClient } from './client.js';
import { assertClustersTrue } from './cluster-truth.js';
import { createBody, engineVersions, haBody } from './harness.js';
import { instancesOf, primaryOf } from './observe.js';

type Engine = { id: string; product_image_type: string };

/** The clusters the sweep works on, by what they are for. */
export interface Fleet {
  redis: Engine;
  valkey: Engine;
  ids: Record<string, string>;
  /** Clusters made by earlier rounds (creates, restores), terminated by the next. */
  doomed: string[];
  /** Every cluster the sweep made, for the checks (terminated ones must have left nothing). */
  all: Set<string>;
  /** A COMPLETED backup of the restore source. */
  sourceBackup: string;
  round: number;
}

/** A request accepted: its id and the resource it names (a cluster, or a backup number). */
export interface Submitted {
  requestId: string;
  clusterId: string;
}

export interface SweptWorkflow {
  label: string;
  operation: OperationKind;
  submit(api: SignedClient, fleet: Fleet): Promise<Submitted>;
  /** Show's service_state once the request COMPLETED. */
  after: string;
}

async function accepted(api: SignedClient, method: string, path: string, body?: unknown): Promise<Submitted> {
  const r = await api.request(method, path, body);
  if (r.status !== 202) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { requestId: r.body.request_id, clusterId: r.body.resource?.id };
}

async function show(api: SignedClient, id: string): Promise<any> {
  return (await api.get(`/v1/clusters/${id}`)).body;
}

/** Of the stop/start pair, the one in `state` (they swap every round). */
async function pairIn(api: SignedClient, fleet: Fleet, running: boolean): Promise<string> {
  for (const key of ['pairA', 'pairB']) {
    const s = (await show(api, fleet.ids[key])).service_state;
    if ((s === 'STOPPED') !== running) return fleet.ids[key];
  }
  throw new Error('the stop/start pair is not one RUNNING and one STOPPED');
}

/** A new cluster (create, restore): checked from now on, terminated by the next round. */
async function createdId(fleet: Fleet, r: Promise<Submitted>): Promise<Submitted> {
  const s = await r;
  fleet.doomed.push(s.clusterId);
  fleet.all.add(s.clusterId);
  return s;
}

// Cluster names are letters only.
const name = (base: string, fleet: Fleet) => `${base}${'abcdefghijklmnop'[fleet.round]}`;

/** Every workflow the sweep covers; standalone ones alternate engines, HA where roles matter. */
export const SWEPT: SweptWorkflow[] = [
  {
    label: 'create (standalone, Valkey)',
    operation: 'create',
    after: 'RUNNING',
    submit: (api, f) => createdId(f, accepted(api, 'POST', '/v1/clusters', createBody(f.valkey, { name: name('mk', f) }))),
  },
  {
    label: 'create (HA, Redis)',
    operation: 'create',
    after: 'RUNNING',
    submit: (api, f) => createdId(f, accepted(api, 'POST', '/v1/clusters', haBody(f.redis, 1, { name: name('mkha', f) }))),
  },
  { label: 'stop (standalone)', operation: 'stop', after: 'STOPPED', submit: async (api, f) => accepted(api, 'POST', `/v1/clusters/${await pairIn(api, f, true)}/stop`) },
  { label: 'start (standalone)', operation: 'start', after: 'RUNNING', submit: async (api, f) => accepted(api, 'POST', `/v1/clusters/${await pairIn(api, f, false)}/start`) },
  { label: 'restart (HA, Valkey)', operation: 'restart', after: 'RUNNING', submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids.restart}/restart`) },
  {
    label: 'switchover (HA, Redis)',
    operation: 'switchover',
    after: 'RUNNING',
    async submit(api, f) {
      const target = instancesOf(await show(api, f.ids.switchover)).find((i) => i.role_type === 'REPLICA')!;
      return accepted(api, 'POST', `/v1/clusters/${f.ids.switchover}/switchover`, { switch_host_name: target.name });
    },
  },
  // Three per round: the standalone and HA creates and the restore of the round before.
  ...[0, 1, 2].map(
    (k): SweptWorkflow => ({
      label: `terminate (${['standalone', 'HA', 'restored'][k]})`,
      operation: 'terminate',
      after: 'TERMINATED',
      submit: (api, f) => accepted(api, 'DELETE', `/v1/clusters/${f.doomed.shift()}`),
    }),
  ),
  { label: 'backup (standalone, Valkey)', operation: 'backup', after: 'RUNNING', submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids.backup}/backup-histories`) },
  {
    label: 'restore (standalone, Redis)',
    operation: 'restore',
    after: 'RUNNING',
    submit: (api, f) =>
      createdId(f, accepted(api, 'POST', `/v1/clusters/${f.ids.source}/restore`, { name: name('rst', f), instance_name_prefix: 'rst', server_type_name: 'redis1v1m2', backup_history_number: f.sourceBackup })),
  },
  {
    // A restart-only parameter with a runtime one: the rolling restart's steps run too.
    label: 'set parameters (standalone, Valkey)',
    operation: 'set-parameters',
    after: 'RUNNING',
    async submit(api, f) {
      const id = f.ids.parameters;
      const v = new Map<string, any>((await api.get(`/v1/clusters/${id}/parameters`)).body.contents.map((p: any) => [p.name, p]));
      const change = (n: string, value: string) => ({ id: v.get(n).id, old_value: v.get(n).applied_value, new_value: value });
      const odd = f.round % 2 === 1;
      return accepted(api, 'PUT', `/v1/clusters/${id}/parameters`, { parameters: [change('tcp-backlog', odd ? '1024' : '2048'), change('hz', odd ? '20' : '30')] });
    },
  },
  {
    label: 'set commands (standalone, Redis)',
    operation: 'set-commands',
    after: 'RUNNING',
    async submit(api, f) {
      const id = f.ids.commands;
      const all = new Map<string, any>((await api.get(`/v1/clusters/${id}/commands`)).body.contents.map((c: any) => [c.name, c]));
      return accepted(api, 'PUT', `/v1/clusters/${id}/commands`, { commands: [{ id: all.get('FLUSHALL').id, name: 'FLUSHALL', new_value: f.round % 2 ? 'ZAPALL' : 'WIPEALL' }] });
    },
  },
  {
    // Between sizes with different io-threads: the rolling restart's steps run too.
    label: 'set server type (standalone, Valkey)',
    operation: 'set-server-type',
    after: 'RUNNING',
    async submit(api, f) {
      const group = (await show(api, f.ids.serverType)).instance_groups[0];
      return accepted(api, 'POST', `/v1/instance-groups/${group.id}/resize`, { server_type_name: group.server_type_name === 'css1v1m2' ? 'css1v4m8' : 'css1v1m2' });
    },
  },
  {
    label: 'set block storage size (standalone, Redis)',
    operation: 'set-block-storage-size',
    after: 'RUNNING',
    async submit(api, f) {
      const data = (await show(api, f.ids.storage)).instance_groups[0].block_storage_groups.find((b: any) => b.role_type === 'DATA');
      return accepted(api, 'POST', `/v1/block-storage-groups/${data.id}/resize`, { size_gb: data.size_gb + 8 });
    },
  },
  // Set and unset swap between two clusters every round.
  {
    label: 'set maintenance (standalone, Valkey)',
    operation: 'set-maintenance',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids[f.round % 2 ? 'maintA' : 'maintB']}/maintenance`, { start_day_of_week: 'WED', start_time: '4', start_minute: '30', term_hour: '1.5' }),
  },
  { label: 'unset maintenance (standalone, Valkey)', operation: 'unset-maintenance', after: 'RUNNING', submit: (api, f) => accepted(api, 'DELETE', `/v1/clusters/${f.ids[f.round % 2 ? 'maintB' : 'maintA']}/maintenance`) },
  {
    label: 'allow-list (standalone, Redis)',
    operation: 'set-security-group-rules',
    after: 'RUNNING',
    submit: (api, f) =>
      accepted(api, 'POST', `/v1/clusters/${f.ids.allowList}/security-group-rules`, f.round % 2 ? { add_ip_addresses: [], del_ip_addresses: ['10.9.0.1'] } : { add_ip_addresses: ['10.9.0.1'], del_ip_addresses: [] }),
  },
];

/** How many steps the workflow has: a point is 0..steps (steps recorded when the service dies). */
export function stepsOf(operation: OperationKind): number {
  return WORKFLOWS[operation].steps.length;
}

/** Every point of every workflow, as rounds: round r holds each workflow at point r mod (steps + 1). */
export function exhaustiveRounds(): number[][] {
  const n = Math.max(...SWEPT.map((w) => stepsOf(w.operation))) + 1;
  return Array.from({ length: n }, (_, r) => SWEPT.map((w) => r % (stepsOf(w.operation) + 1)));
}

/** A sample: each workflow right after its claim, after its middle step and after its last step. */
export function sampleRounds(): number[][] {
  return [0, 1, 2].map((k) => SWEPT.map((w) => [0, Math.ceil(stepsOf(w.operation) / 2), stepsOf(w.operation)][k]));
}

function crashEnv(points: number[]): string {
  return SWEPT.map((w, i) => `${w.operation}:${points[i]}`).join(',');
}

const ENV = {
  // Nothing but the sweep's own requests: no scheduled backups or maintenance work.
  CACHESTORE_BACKUP_SCHEDULE_MS: '0',
  CACHESTORE_MAINTENANCE_CHECK_MS: '0',
  CACHESTORE_LOG_LEVEL: 'warn',
  // Every swept request is held at once: more workers than requests in a round.
  CACHESTORE_WORKER_CONCURRENCY: '64',
};

/** Makes the fleet on a service started without crash points. */
async function makeFleet(svc: ChildService): Promise<Fleet> {
  const api = svc.client;
  const versions = await engineVersions(api);
  const redis = versions.find((v) => v.product_image_type.startsWith('Redis'))!;
  const valkey = versions.find((v) => !v.product_image_type.startsWith('Redis'))!;
  const fleet: Fleet = { redis, valkey, ids: {}, doomed: [], all: new Set(), sourceBackup: '', round: 0 };
  const standalone: Array<[string, Engine]> = [
    ['pairA', redis], ['pairB', redis], ['backup', valkey], ['source', redis], ['parameters', valkey], ['commands', redis],
    ['serverType', valkey], ['storage', redis], ['maintA', valkey], ['maintB', valkey], ['allowList', redis],
    ['doomedOne', valkey], ['doomedThree', redis],
  ];
  const ha: Array<[string, Engine]> = [['restart', valkey], ['switchover', redis], ['doomedTwo', redis]];
  const made = await Promise.all([
    ...standalone.map(async ([key, e]) => [key, await accepted(api, 'POST', '/v1/clusters', createBody(e, { name: key.toLowerCase() }))] as const),
    ...ha.map(async ([key, e]) => [key, await accepted(api, 'POST', '/v1/clusters', haBody(e, 1, { name: key.toLowerCase() }))] as const),
  ]);
  for (const [key, s] of made) {
    fleet.ids[key] = s.clusterId;
    fleet.all.add(s.clusterId);
  }
  for (const [key, s] of made) {
    const state = await api.waitRequest(s.requestId, 180_000);
    if (state !== 'COMPLETED') throw new Error(`creating ${key} ended ${state}: ${JSON.stringify((await api.get(`/v1/requests/${s.requestId}/details`)).body)}`);
  }
  fleet.doomed = [fleet.ids.doomedOne, fleet.ids.doomedTwo, fleet.ids.doomedThree];
  const stop = await accepted(api, 'POST', `/v1/clusters/${fleet.ids.pairB}/stop`);
  const backup = await accepted(api, 'POST', `/v1/clusters/${fleet.ids.source}/backup-histories`);
  for (const r of [stop, backup]) expect(await api.waitRequest(r.requestId, 120_000)).toBe('COMPLETED');
  fleet.sourceBackup = backup.clusterId;
  return fleet;
}

/** Waits for the service to die by its own SIGKILL; fails early when a request ended before its point. */
async function waitForCrash(svc: ChildService, submitted: Array<{ w: SweptWorkflow; s: Submitted; point: number }>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exited = new Promise<void>((resolve) => {
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) resolve();
    else svc.child.once('exit', () => resolve());
  });
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    if (Date.now() > deadline) break;
    for (const { w, s, point } of submitted) {
      if (done) break;
      const d = await svc.client.get(`/v1/requests/${s.requestId}/details`).catch(() => undefined);
      if (d?.status === 200 && (d.body.state === 'COMPLETED' || d.body.state === 'FAILED')) {
        await svc.kill('SIGKILL');
        throw new Error(`${w.label} ended ${d.body.state} (${d.body.error}) before its crash point ${point} of ${stepsOf(w.operation)}`);
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]);
  }
  if (!done) {
    const states = await Promise.all(submitted.map(async ({ w, s, point }) => `${w.label} at ${(await svc.client.get(`/v1/requests/${s.requestId}/details`)).body.last_step ?? 'claim'} (point ${point})`));
    await svc.kill('SIGKILL');
    throw new Error(`the service did not crash within ${timeoutMs} ms: ${states.join('; ')}`);
  }
  expect(svc.child.signalCode, svc.output().slice(-2000)).toBe('SIGKILL');
}

export interface SweepResult {
  /** Requests that ended FAILED, with their reasons (a FAILED outcome with a reason is allowed). */
  failed: string[];
  rounds: number;
}

/**
 * Runs `rounds` (points per SWEPT workflow) on the child services `cs` and checks, after each
 * restart, every request's outcome and the whole fleet against what runs and lies on disk.
 */
export async function sweep(cs: ChildServices, rounds: number[][], log: (line: string) => void = () => undefined): Promise<SweepResult> {
  const pids: number[] = [];
  const start = async (env: Record<string, string>) => {
    const s = await cs.start({ ...ENV, ...env });
    pids.push(s.child.pid!);
    return s;
  };
  const t0 = Date.now();
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  let svc = await start({});
  const fleet = await makeFleet(svc);
  log(`fleet of ${fleet.all.size} clusters made at ${secs()}`);
  await assertClustersTrue(svc.client, cs.dataDir, fleet.all, pids);
  await svc.kill('SIGKILL');
  const failed: string[] = [];
  let pending: Array<{ w: SweptWorkflow; s: Submitted; point: number }> = [];
  for (let r = 0; r <= rounds.length; r++) {
    const points = rounds[r];
    svc = await start(points ? { CACHESTORE_DEBUG_CRASH_AFTER_STEP: crashEnv(points) } : {});
    for (const { w, s, point } of pending) {
      const state = await svc.client.waitRequest(s.requestId, 180_000);
      const d = (await svc.client.get(`/v1/requests/${s.requestId}/details`)).body;
      const where = `${w.label}, killed after ${point} of ${stepsOf(w.operation)} steps`;
      expect(['COMPLETED', 'FAILED'], where).toContain(state);
      if (state === 'FAILED') {
        // FAILED is an outcome, but only with a reason a user can read.
        expect(d.error, where).toMatch(/\w{3}/);
        failed.push(`${where}: ${d.error}`);
      } else {
        expect((await show(svc.client, d.cluster_id)).service_state, where).toBe(w.after);
      }
    }
    if (pending.length > 0) {
      await assertClustersTrue(svc.client, cs.dataDir, fleet.all, pids);
      log(`round ${r - 1} resumed and checked: ${pending.length} requests, at ${secs()}`);
    }
    if (!points) break;
    fleet.round = r;
    pending = [];
    for (const [i, w] of SWEPT.entries()) pending.push({ w, s: await w.submit(svc.client, fleet), point: points[i] });
    await waitForCrash(svc, pending, 180_000);
  }
  await svc.kill('SIGKILL');
  return { failed, rounds: rounds.length };
}

export { primaryOf };
