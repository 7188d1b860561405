// The crash sweep: SIGKILL of the service right after a chosen step of every workflow, then a
// restart on the same data dir and a look at what it made of it. The points come from the
// workflow definitions themselves (src/operations/workflows), so a step added later is swept too.
//
// One kill interrupts every workflow of a plan at once: each runs on a cluster of its own, the
// service holds each request at its point (CACHESTORE_DEBUG_CRASH_AFTER_STEP, a list) and SIGKILLs
// itself once all are held. The next start resumes them all; the test waits for every request to
// end, checks the outcomes and that the clusters are what Show says (cluster-truth.ts), submits
// the next round and waits for the next kill. A round costs one service start, however many
// workflows it sweeps. Two plans: MAIN_PLAN (every workflow but two, volumes off) and
// UPGRADE_AND_VOLUMES_PLAN (the engine patch upgrade, which the service itself asks for when a
// newer binary is installed, and Set Block Storage Size on real loop-mounted volumes), each on a
// service, data dir and /24 of its own.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { WORKFLOWS } from '../../src/operations/workflows/index.js';
import type { OperationKind } from '../../src/domain/model.js';
import type { ChildService, ChildServices } from './child-service.js';
import type { SignedClient } from './client.js';
import { assertClustersTrue, engineProcessesUnder } from './cluster-truth.js';
import { announcePatch, makeEngineWrappers, nextPatch, startedAsVersion } from './engine-wrappers.js';
import { createBody, engineVersions, haBody } from './harness.js';
import { instancesOf, primaryOf } from './observe.js';

type Engine = { id: string; product_image_type: string; software_version: string };

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
  dataDir: string;
  /** The engine wrappers' directory (CACHESTORE_ENGINE_PATH) and the Valkey patch they announce now. */
  wrappers: string;
  announced: string;
}

/** A request accepted: its id, the resource it names (a cluster, or a backup number), and what it asked for. */
export interface Submitted {
  requestId: string;
  clusterId: string;
  want?: string;
}

export interface SweptWorkflow {
  label: string;
  operation: OperationKind;
  submit(api: SignedClient, fleet: Fleet): Promise<Submitted>;
  /** Show's service_state once the request COMPLETED. */
  after: string;
  /** What else a user sees once the request COMPLETED (throws when it is not so). */
  check?(api: SignedClient, fleet: Fleet, s: Submitted): Promise<void>;
}

/** The workflows one service sweeps, with what that service and its fleet need. */
export interface SweepPlan {
  workflows: SweptWorkflow[];
  /** Environment of every start of the plan's service, made once before the first (in its data dir). */
  env(dataDir: string): Promise<Record<string, string>>;
  /** Creates the plan's clusters (fleet.ids) and whatever they need before round 0. */
  makeFleet(api: SignedClient, fleet: Fleet): Promise<void>;
  /** MiB per GB of the real data volumes the plan's service runs on (cluster-truth checks them); none: volumes off. */
  volumeMibPerGb?: number;
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

/** Of two clusters `${key}A` and `${key}B` that swap roles every round, the one for `role` 0 or 1. */
const swapped = (f: Fleet, key: string, role: 0 | 1) => f.ids[`${key}${(f.round + role) % 2 ? 'B' : 'A'}`];

function same(what: string, have: unknown, want: unknown): void {
  if (JSON.stringify(have) !== JSON.stringify(want)) throw new Error(`${what} is ${JSON.stringify(have)}, not ${JSON.stringify(want)}`);
}

async function eventLines(api: SignedClient, id: string): Promise<string[]> {
  return ((await api.get(`/v1/clusters/${id}/events`)).body.contents ?? []).map((e: any) => `${e.at} ${e.message}`);
}

/** Backup numbers of a cluster, oldest first, with their states. */
async function backupsOf(api: SignedClient, id: string): Promise<Array<{ number: string; state: string }>> {
  const r = await api.get(`/v1/clusters/${id}/backup-histories?limit=1000`);
  if (r.status !== 200) throw new Error(`List Backup Histories of ${id}: ${r.status}`);
  return r.body.contents.map((b: any) => ({ number: b.backup_history_number, state: b.backup_state }));
}

/** Every workflow MAIN_PLAN covers; standalone ones alternate engines, HA where roles matter. */
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
      return { ...(await accepted(api, 'POST', `/v1/clusters/${f.ids.switchover}/switchover`, { switch_host_name: target.name })), want: target.name };
    },
    check: async (api, f, s) => same('the primary after the switchover', primaryOf(await show(api, f.ids.switchover))?.name, s.want),
  },
  {
    label: 'synchronize cluster state (HA, Valkey)',
    operation: 'sync',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids.sync}/sync-state`),
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
  // Backup and Remove Backup Histories swap between two clusters every round: each round removes
  // the backups the round before took.
  {
    label: 'backup (standalone, Valkey)',
    operation: 'backup',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${swapped(f, 'backup', 0)}/backup-histories`),
  },
  {
    label: 'remove backup histories (standalone, Valkey)',
    operation: 'remove-backups',
    after: 'RUNNING',
    async submit(api, f) {
      const id = swapped(f, 'backup', 1);
      const numbers = (await backupsOf(api, id)).map((b) => b.number);
      if (numbers.length === 0) throw new Error('the backup the round before took is not listed');
      return accepted(api, 'PUT', `/v1/clusters/${id}/backup-histories`, { backup_history_number: numbers });
    },
    check: async (api, f, s) => same(`backups of ${s.clusterId} after their removal`, await backupsOf(api, s.clusterId), []),
  },
  // Set and Unset Backup swap between two clusters every round.
  {
    label: 'set backup (standalone, Redis)',
    operation: 'set-backup',
    after: 'RUNNING',
    async submit(api, f) {
      const days = String(7 + f.round);
      return { ...(await accepted(api, 'POST', `/v1/clusters/${swapped(f, 'backupSet', 0)}/backups`, { retention_period_day: days, starting_time_hour: '3' })), want: days };
    },
    check: async (api, f, s) => same('retention_period_day', String((await show(api, s.clusterId)).init_config_option.backup_option.retention_period_day), s.want),
  },
  {
    label: 'unset backup (standalone, Redis)',
    operation: 'unset-backup',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'DELETE', `/v1/clusters/${swapped(f, 'backupSet', 1)}/backups`),
    check: async (api, f, s) => same('the backup option after Unset Backup', (await show(api, s.clusterId)).init_config_option.backup_option, { retention_period_day: null, starting_time_hour: null }),
  },
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
  { label: 'synchronize parameters (standalone, Redis)', operation: 'sync-parameters', after: 'RUNNING', submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids.syncParameters}/parameters/sync`) },
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
  { label: 'synchronize commands (standalone, Valkey)', operation: 'sync-commands', after: 'RUNNING', submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${f.ids.syncCommands}/commands/sync`) },
  {
    // Between sizes with different io-threads: the rolling restart's steps run too.
    label: 'set server type (standalone, Valkey)',
    operation: 'set-server-type',
    after: 'RUNNING',
    async submit(api, f) {
      const group = (await show(api, f.ids.serverType)).instance_groups[0];
      const to = group.server_type_name === 'css1v1m2' ? 'css1v4m8' : 'css1v1m2';
      return { ...(await accepted(api, 'POST', `/v1/instance-groups/${group.id}/resize`, { server_type_name: to })), want: to };
    },
    check: async (api, f, s) => same('the server type', (await show(api, f.ids.serverType)).instance_groups[0].server_type_name, s.want),
  },
  // Set and unset swap between two clusters every round.
  {
    label: 'set maintenance (standalone, Valkey)',
    operation: 'set-maintenance',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'POST', `/v1/clusters/${swapped(f, 'maint', 1)}/maintenance`, { start_day_of_week: 'WED', start_time: '4', start_minute: '30', term_hour: '1.5' }),
    check: async (api, f, s) => same('use_maintenance_option', (await show(api, s.clusterId)).maintenance_option.use_maintenance_option, true),
  },
  {
    label: 'unset maintenance (standalone, Valkey)',
    operation: 'unset-maintenance',
    after: 'RUNNING',
    submit: (api, f) => accepted(api, 'DELETE', `/v1/clusters/${swapped(f, 'maint', 0)}/maintenance`),
    check: async (api, f, s) => same('use_maintenance_option', (await show(api, s.clusterId)).maintenance_option.use_maintenance_option, false),
  },
  {
    label: 'allow-list (standalone, Redis)',
    operation: 'set-security-group-rules',
    after: 'RUNNING',
    submit: (api, f) =>
      accepted(api, 'POST', `/v1/clusters/${f.ids.allowList}/security-group-rules`, f.round % 2 ? { add_ip_addresses: [], del_ip_addresses: ['10.9.0.1'] } : { add_ip_addresses: ['10.9.0.1'], del_ip_addresses: [] }),
  },
];

/** The engine patch upgrade (HA, Valkey) and Set Block Storage Size on real volumes (standalone, Redis). */
export const UPGRADE_AND_VOLUMES: SweptWorkflow[] = [
  {
    // The service asks for the upgrade itself: its maintenance look (every second here) finds the
    // newer patch the wrappers announce and submits it, as after `apt-get upgrade`.
    label: 'engine patch upgrade (HA, Valkey)',
    operation: 'upgrade-engine',
    after: 'RUNNING',
    async submit(api, f) {
      f.announced = nextPatch(f.announced);
      await announcePatch(f.wrappers, 'valkey', f.announced);
      const id = f.ids.upgrade;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const events = (await api.get(`/v1/clusters/${id}/events`)).body.contents as Array<{ request_id: string | null; message: string }>;
        const asked = events.find((e) => e.request_id && e.message.includes(` ${f.announced} is installed`));
        if (asked) return { requestId: asked.request_id!, clusterId: id, want: f.announced };
        if (Date.now() > deadline) throw new Error(`no upgrade to ${f.announced} was requested: ${events.slice(-3).map((e) => e.message).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async check(api, f, s) {
      const c = await show(api, s.clusterId);
      same('software_version', c.software_version, s.want);
      // Every data node and Sentinel runs the new binary (a copy the wrappers keep per version).
      const { database_port: db, sentinel_port: sentinel } = c.init_config_option;
      const addrs = instancesOf(c).flatMap((i) => [...(i.role_type === 'SENTINEL' ? [] : [`${i.service_ip_address}:${db}`]), `${i.service_ip_address}:${sentinel}`]);
      const procs = engineProcessesUnder(f.dataDir).filter((p) => addrs.includes(p.addr));
      same('the processes of the upgraded cluster', procs.map((p) => p.addr).sort(), addrs.sort());
      for (const p of procs) same(`the binary of ${p.addr}`, await startedAsVersion(p.pid), s.want);
    },
  },
  {
    label: 'set block storage size (standalone, Redis, real volume)',
    operation: 'set-block-storage-size',
    after: 'RUNNING',
    async submit(api, f) {
      const data = (await show(api, f.ids.storage)).instance_groups[0].block_storage_groups.find((b: any) => b.role_type === 'DATA');
      return { ...(await accepted(api, 'POST', `/v1/block-storage-groups/${data.id}/resize`, { size_gb: data.size_gb + 8 })), want: String(data.size_gb + 8) };
    },
    // cluster-truth holds every volume to the size Show records.
    check: async (api, f, s) => same('the DATA size', String((await show(api, f.ids.storage)).instance_groups[0].block_storage_groups.find((b: any) => b.role_type === 'DATA').size_gb), s.want),
  },
];

/** Creates standalone and HA clusters (1 replica) under their keys and waits for all of them. */
async function makeClusters(api: SignedClient, fleet: Fleet, standalone: Array<[string, Engine]>, ha: Array<[string, Engine]>): Promise<void> {
  const made = await Promise.all([
    ...standalone.map(async ([key, e]) => [key, await accepted(api, 'POST', '/v1/clusters', createBody(e, { name: key.toLowerCase() }))] as const),
    ...ha.map(async ([key, e]) => [key, await accepted(api, 'POST', '/v1/clusters', haBody(e, 1, { name: key.toLowerCase() }))] as const),
  ]);
  for (const [key, s] of made) {
    fleet.ids[key] = s.clusterId;
    fleet.all.add(s.clusterId);
  }
  for (const [key, s] of made) {
    const state = await api.waitRequest(s.requestId, 180_000, 200);
    if (state !== 'COMPLETED') throw new Error(`creating ${key} ended ${state}: ${JSON.stringify((await api.get(`/v1/requests/${s.requestId}/details`)).body)}`);
  }
}

async function completed(api: SignedClient, ...rs: Submitted[]): Promise<void> {
  for (const r of rs) expect(await api.waitRequest(r.requestId, 120_000, 200)).toBe('COMPLETED');
}

export const MAIN_PLAN: SweepPlan = {
  workflows: SWEPT,
  env: async () => ({}),
  async makeFleet(api, fleet) {
    const { redis, valkey } = fleet;
    const standalone: Array<[string, Engine]> = [
      ['pairA', redis], ['pairB', redis], ['backupA', valkey], ['backupB', valkey], ['source', redis], ['parameters', valkey],
      ['syncParameters', redis], ['commands', redis], ['syncCommands', valkey], ['serverType', valkey], ['maintA', valkey],
      ['maintB', valkey], ['backupSetA', redis], ['backupSetB', redis], ['allowList', redis], ['doomedOne', valkey], ['doomedThree', redis],
    ];
    const ha: Array<[string, Engine]> = [['restart', valkey], ['switchover', redis], ['sync', valkey], ['doomedTwo', redis]];
    await makeClusters(api, fleet, standalone, ha);
    fleet.doomed = [fleet.ids.doomedOne, fleet.ids.doomedTwo, fleet.ids.doomedThree];
    // Round 0 stops pairA and starts pairB, removes backupB's backup and unsets backupSetB's schedule.
    const ready = await Promise.all([
      accepted(api, 'POST', `/v1/clusters/${fleet.ids.pairB}/stop`),
      accepted(api, 'POST', `/v1/clusters/${fleet.ids.source}/backup-histories`),
      accepted(api, 'POST', `/v1/clusters/${fleet.ids.backupB}/backup-histories`),
      accepted(api, 'POST', `/v1/clusters/${fleet.ids.backupSetB}/backups`, { retention_period_day: '7', starting_time_hour: '3' }),
    ]);
    await completed(api, ...ready);
    fleet.sourceBackup = ready[1].clusterId;
  },
};

const VOLUME_MIB_PER_GB = 20;

export const UPGRADE_AND_VOLUMES_PLAN: SweepPlan = {
  workflows: UPGRADE_AND_VOLUMES,
  volumeMibPerGb: VOLUME_MIB_PER_GB,
  async env(dataDir) {
    const wrappers = join(dataDir, 'test-engine-bin');
    await mkdir(wrappers, { recursive: true });
    await makeEngineWrappers(wrappers);
    return {
      CACHESTORE_ENGINE_PATH: wrappers,
      // The maintenance look reads the installed engines again and asks for the upgrades.
      CACHESTORE_MAINTENANCE_CHECK_MS: '1000',
      CACHESTORE_VOLUMES: 'auto',
      CACHESTORE_VOLUME_MIB_PER_GB: String(VOLUME_MIB_PER_GB),
    };
  },
  async makeFleet(api, fleet) {
    fleet.wrappers = join(fleet.dataDir, 'test-engine-bin');
    fleet.announced = fleet.valkey.software_version;
    // Only the upgraded cluster runs Valkey: the service upgrades every cluster of the engine.
    await makeClusters(api, fleet, [['storage', fleet.redis]], [['upgrade', fleet.valkey]]);
  },
};

/** How many steps the workflow has: a point is 0..steps (steps recorded when the service dies). */
export function stepsOf(operation: OperationKind): number {
  return WORKFLOWS[operation].steps.length;
}

/** Every point of every workflow, as rounds: round r holds each workflow at point r mod (steps + 1). */
export function exhaustiveRounds(workflows: SweptWorkflow[]): number[][] {
  const n = Math.max(...workflows.map((w) => stepsOf(w.operation))) + 1;
  return Array.from({ length: n }, (_, r) => workflows.map((w) => r % (stepsOf(w.operation) + 1)));
}

/** How many points the workflows have in all. */
export function pointCount(workflows: SweptWorkflow[]): number {
  return workflows.reduce((n, w) => n + stepsOf(w.operation) + 1, 0);
}

function crashEnv(workflows: SweptWorkflow[], points: number[]): string {
  return workflows.map((w, i) => `${w.operation}:${points[i]}`).join(',');
}

const ENV = {
  // Nothing but the sweep's own requests: no scheduled backups or maintenance work.
  CACHESTORE_BACKUP_SCHEDULE_MS: '0',
  CACHESTORE_MAINTENANCE_CHECK_MS: '0',
  CACHESTORE_LOG_LEVEL: 'warn',
  // Every swept request is held at once: more workers than requests in a round.
  CACHESTORE_WORKER_CONCURRENCY: '64',
};

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
 * Runs `rounds` (points per workflow of `plan`) on the child services `cs` and checks, after each
 * restart, every request's outcome and the whole fleet against what runs and lies on disk.
 */
export async function sweep(cs: ChildServices, plan: SweepPlan, rounds: number[][], log: (line: string) => void = () => undefined): Promise<SweepResult> {
  const { workflows } = plan;
  const planEnv = await plan.env(cs.dataDir);
  const pids: number[] = [];
  const t0 = Date.now();
  const secs = (since = t0) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  const start = async (env: Record<string, string>) => {
    const t = Date.now();
    const s = await cs.start({ ...ENV, ...planEnv, ...env });
    pids.push(s.child.pid!);
    log(`service started in ${secs(t)}`);
    return s;
  };
  const truth = (svc: ChildService) => assertClustersTrue(svc.client, cs.dataDir, fleet.all, pids, { volumeMibPerGb: plan.volumeMibPerGb });
  let svc = await start({});
  const versions = await engineVersions(svc.client);
  const fleet: Fleet = {
    redis: versions.find((v) => v.product_image_type.startsWith('Redis'))!,
    valkey: versions.find((v) => !v.product_image_type.startsWith('Redis'))!,
    ids: {},
    doomed: [],
    all: new Set(),
    sourceBackup: '',
    round: 0,
    dataDir: cs.dataDir,
    wrappers: '',
    announced: '',
  };
  await plan.makeFleet(svc.client, fleet);
  log(`fleet of ${fleet.all.size} clusters made at ${secs()}`);
  await truth(svc);
  await svc.kill('SIGKILL');
  const failed: string[] = [];
  let pending: Array<{ w: SweptWorkflow; s: Submitted; point: number }> = [];
  for (let r = 0; r <= rounds.length; r++) {
    const points = rounds[r];
    svc = await start(points ? { CACHESTORE_DEBUG_CRASH_AFTER_STEP: crashEnv(workflows, points) } : {});
    const resumed = Date.now();
    const outcomes = await Promise.all(pending.map(async ({ s }) => svc.client.waitRequest(s.requestId, 300_000, 100)));
    if (pending.length > 0) log(`round ${r - 1}: ${pending.length} requests ended ${secs(resumed)} after the start`);
    for (const [k, { w, s, point }] of pending.entries()) {
      const state = outcomes[k];
      const d = (await svc.client.get(`/v1/requests/${s.requestId}/details`)).body;
      const where = `${w.label}, killed after ${point} of ${stepsOf(w.operation)} steps`;
      expect(['COMPLETED', 'FAILED'], where).toContain(state);
      if (state === 'FAILED') {
        // FAILED is an outcome, but only with a reason a user can read.
        expect(d.error, where).toMatch(/\w{3}/);
        failed.push(`${where}: ${d.error}`);
      } else {
        // What went wrong is told with the cluster's last events (they say what the service saw).
        const told = async () => `${where}; the cluster's last events: ${(await eventLines(svc.client, d.cluster_id)).slice(-6).join(' | ')}`;
        const shown = (await show(svc.client, d.cluster_id)).service_state;
        if (shown !== w.after) expect(shown, await told()).toBe(w.after);
        await w.check?.(svc.client, fleet, s).catch(async (err: Error) => {
          throw new Error(`${err.message} (${await told()})`);
        });
      }
    }
    if (pending.length > 0) {
      const t = Date.now();
      await truth(svc);
      log(`round ${r - 1} checked (${secs(t)}), at ${secs()}`);
    }
    if (!points) break;
    fleet.round = r;
    pending = [];
    const t = Date.now();
    for (const [i, w] of workflows.entries()) pending.push({ w, s: await w.submit(svc.client, fleet), point: points[i] });
    await waitForCrash(svc, pending, 300_000);
    log(`round ${r}: ${pending.length} requests submitted and held, the service killed itself ${secs(t)} after the first`);
  }
  await svc.kill('SIGKILL');
  return { failed, rounds: rounds.length };
}
