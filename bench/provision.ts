// Provisioning benchmark: runs the whole service in-process (own temp data dir, own loopback
// subnet, log level silent, reconcile off), creates N standalone clusters through the signed API
// with bounded concurrency, and measures
//   - create -> RUNNING: from sending Create Cluster until Show Cluster (polled every 5 ms)
//     reports service_state RUNNING, per cluster;
//   - Show Cluster latency (sequential, random clusters) and List Clusters latency (sequential,
//     default page size 20) with all clusters in the store.
// Figures are printed beside their targets, never asserted. Every engine it started is killed
// and the temp dir removed, also on error or Ctrl-C.
//
//   npm run bench:provision -- N [--engine redis|valkey] [--concurrency C] [--store-only K]
//                               [--show-requests S] [--list-requests L] [--check-responses] [--trace]
//                               [--poll-ms P]   (Show Cluster poll interval while creating; default 5)
//
// --store-only K adds K clusters straight through service.store.createCluster (planned as the
// API plans them, recorded RUNNING, with no engine process) after the N real ones, so Show and
// List can be measured with N+K clusters in the store while only N engines run.
// --trace wraps the local driver's methods (in this process only; src/ is unchanged) and prints
// how long each took during the creates, to show where create->RUNNING goes.
//
// The signed client runs in the same process (and event loop) as the service, as in the tests:
// with C clusters polled every 5 ms the polling itself keeps that loop busy, which the details
// section shows (event loop delay, CPU). N=1000 with real engines works on a 2-core, 24 GB
// machine: about 7 GB resident for the engines, and about one core of CPU while they idle.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { loadConfig, type Config } from '../src/config.js';
import type { CreateClusterBody } from '../src/contract/types.js';
import { planCluster } from '../src/domain/create-cluster.js';
import { newId, newRequestId } from '../src/domain/ids.js';
import type { Instance, OperationRequest } from '../src/domain/model.js';
import { freeAddresses } from '../src/domain/network.js';
import { LocalDriver } from '../src/drivers/local/local-driver.js';
import { findByMarker, signal } from '../src/drivers/local/processes.js';
import { startService, type Service } from '../src/service.js';
import { SignedClient } from '../test/support/client.js';
import { killEnginesUnder } from '../test/support/engines.js';
import { createBody, engineVersions } from '../test/support/harness.js';

// ---------------------------------------------------------------------------------------------
// Arguments

interface Options {
  n: number;
  engine: 'redis' | 'valkey';
  concurrency: number;
  storeOnly: number;
  showRequests: number;
  listRequests: number;
  checkResponses: boolean;
  trace: boolean;
  pollMs: number;
}

const USAGE =
  'usage: npm run bench:provision -- N [--engine redis|valkey] [--concurrency C] [--store-only K] [--show-requests S] [--list-requests L] [--check-responses] [--trace] [--poll-ms P]';

function parseArgs(argv: string[]): Options {
  const o: Options = { n: NaN, engine: 'redis', concurrency: 8, storeOnly: 0, showRequests: 2000, listRequests: 500, checkResponses: false, trace: false, pollMs: 5 };
  const whole = (name: string, v: string | undefined, min: number): number => {
    const x = Number(v);
    if (v === undefined || !Number.isInteger(x) || x < min) throw new Error(`${name} must be a whole number >= ${min}, got '${v ?? ''}'\n${USAGE}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--engine': {
        const v = value();
        if (v !== 'redis' && v !== 'valkey') throw new Error(`--engine must be redis or valkey, got '${v ?? ''}'\n${USAGE}`);
        o.engine = v;
        break;
      }
      case '--concurrency':
        o.concurrency = whole('--concurrency', value(), 1);
        break;
      case '--store-only':
        o.storeOnly = whole('--store-only', value(), 0);
        break;
      case '--show-requests':
        o.showRequests = whole('--show-requests', value(), 1);
        break;
      case '--list-requests':
        o.listRequests = whole('--list-requests', value(), 1);
        break;
      case '--check-responses':
        o.checkResponses = true;
        break;
      case '--trace':
        o.trace = true;
        break;
      case '--poll-ms':
        o.pollMs = whole('--poll-ms', value(), 0);
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        if (a.startsWith('-') || !Number.isNaN(o.n)) throw new Error(`unexpected argument '${a}'\n${USAGE}`);
        o.n = whole('N', a, 1);
    }
  }
  if (Number.isNaN(o.n)) throw new Error(`N is required\n${USAGE}`);
  if (o.n + o.storeOnly > 60_000) throw new Error('N + K must stay below 60000 (one /16 loopback subnet)');
  return o;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Index -> letters only (names must match ^[a-zA-Z]*$, 3..20 long): 0 -> aaaa, 1 -> aaab, ... */
function letters(i: number, width = 4): string {
  let s = '';
  for (let k = 0; k < width || i > 0; k++) {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26);
  }
  return s;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s[0], median: pct(s, 50), p95: pct(s, 95), p99: pct(s, 99), max: s[s.length - 1], mean };
}

const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} ms` : 'n/a');

/** Runs `fn` over 0..count-1 with at most `limit` in flight; the first error stops new work. */
async function pool(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < count) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  if (failed !== undefined) throw failed;
}

/** A /16 in 127.0.0.0/8 that the tests never use (they take 127.100-219.x.0/24; the default is 127.77/16). */
function benchSubnet(): string {
  return `127.${230 + (process.pid % 20)}.0.0/16`;
}

// ---------------------------------------------------------------------------------------------
// Clean-up: close the service, kill every engine under the data dir, remove the dir. Runs once,
// whichever of normal end, error, or signal comes first.

interface Run {
  dataDir?: string;
  service?: Service;
}
const run: Run = {};
let cleaning: Promise<void> | null = null;

async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => {
      console.error(`  (${what} took over ${timeoutMs / 1000} s; going on)`);
      resolve(undefined);
    }, timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * Pids of the engines of this data dir, in one /proc scan (killEnginesUnder scans once per
 * instance): by marker for every instance dir under engines/, and also any process whose command
 * line or working directory lies under the data dir. The latter catches an engine whose instance
 * dir is already gone (a failed create removes its data even if the engine kept starting) and one
 * that has not set its title yet.
 */
async function ourEnginePids(dataDir: string): Promise<number[]> {
  let ids: string[] = [];
  try {
    ids = await readdir(join(dataDir, 'engines'));
  } catch {
    // none yet
  }
  const wanted = new Set(ids);
  const under = `${dataDir}/`;
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let line: string;
    let cwd = '';
    try {
      line = await readFile(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    try {
      cwd = await readlink(`/proc/${name}/cwd`);
    } catch {
      // not ours to read, or gone
    }
    // The title carries `cachestore:<dir name>` as one word (see engines/config.ts processMarker).
    const byMarker = line.split(/[\s\0]+/).some((w) => w.startsWith('cachestore:') && wanted.has(w.slice('cachestore:'.length)));
    if (byMarker || line.includes(under) || cwd.startsWith(under)) pids.push(Number(name));
  }
  return pids;
}

async function killAllEnginesOnce(dataDir: string): Promise<number> {
  const pids = await ourEnginePids(dataDir);
  for (const pid of pids) signal(pid, 'SIGKILL');
  return pids.length;
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const { service, dataDir } = run;
    if (service) {
      // Lets requests in flight finish (the worker waits for them), so no engine is launched
      // after the kill below.
      await withTimeout(service.close().catch((err) => console.error('closing the service failed:', err)), 30_000, 'closing the service');
    }
    if (dataDir) {
      const fast = await killAllEnginesOnce(dataDir).catch(() => 0);
      // The reference clean-up of the tests: kills (and waits for) whatever is left.
      const rest = await killEnginesUnder(dataDir).catch((err) => {
        console.error('killing engines failed:', err);
        return 0;
      });
      await rm(dataDir, { recursive: true, force: true }).catch((err) => console.error(`removing ${dataDir} failed:`, err));
      console.log(`cleanup: killed ${fast + rest} engine process(es), removed ${dataDir}`);
    }
  })();
  return cleaning;
}

let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) {
      console.error(`\n${sig} again: still cleaning up (engines are being killed); please wait`);
      return;
    }
    console.error(`\n${sig}: stopping, cleaning up...`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (err) => {
  console.error('uncaught exception:', err);
  void cleanup().finally(() => process.exit(1));
});
process.on('unhandledRejection', (err) => {
  console.error('unhandled rejection:', err);
  void cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------------------------------------
// --trace: time every LocalDriver method call (nested calls are timed too: launch includes pid).

const traced = new Map<string, number[]>();
const traceNotes: string[] = [];

/** What /proc shows right now for a node's engine: processes started with its config file, with their titles. */
function processesOf(node: unknown): string {
  const n = node as { instanceId?: string; nodeId?: string };
  const dirName = n.nodeId ?? n.instanceId ?? '?';
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (line.includes(`engines/${dirName}/`) || line.includes(`cachestore:${dirName}`)) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        found.push(`pid ${pid} state ${stat.slice(stat.lastIndexOf(')') + 2)[0]} title '${line}'`);
      }
    } catch {
      // gone
    }
  }
  return found.length ? `right after, /proc shows ${found.join('; ')}` : 'right after, /proc shows no process for it';
}

function traceDriver(): void {
  const proto = LocalDriver.prototype as unknown as Record<string, unknown>;
  for (const name of ['isAddressFree', 'configure', 'pidFromFile', 'pid', 'isRunning', 'launch', 'waitReady']) {
    const original = proto[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof original !== 'function') continue;
    proto[name] = async function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      try {
        return await original.apply(this, args);
      } catch (err) {
        if (name === 'waitReady') traceNotes.push(`waitReady threw: ${err instanceof Error ? err.message : String(err)}; ${processesOf(args[0])}`);
        throw err;
      } finally {
        const list = traced.get(name) ?? [];
        list.push(performance.now() - t0);
        traced.set(name, list);
      }
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Created {
  id: string;
  totalMs: number;
  submitMs: number;
  /** Create Cluster accepted -> worker started it (first event), ms; from the event timestamps. */
  queueMs?: number;
  /** Worker started -> "create completed" event, ms. */
  runMs?: number;
  polls: number;
}

/** A cluster that did not reach RUNNING: counted and reported, the run goes on. */
class CreateFailed extends Error {
  constructor(
    readonly clusterName: string,
    readonly id: string,
    readonly reason: string,
  ) {
    super(`cluster ${clusterName} (${id}) is ${reason}`);
  }
}

async function createOne(client: SignedClient, engine: { id: string; product_image_type: string }, name: string, pollMs: number): Promise<Created> {
  const t0 = performance.now();
  const r = await client.post('/v1/clusters', createBody(engine, { name }));
  const submitMs = performance.now() - t0;
  if (r.status !== 202) throw new Error(`Create Cluster ${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
  const id: string = r.body.resource.id;
  let polls = 0;
  for (;;) {
    const s = await client.get(`/v1/clusters/${id}`);
    polls++;
    const state = s.body?.service_state;
    if (s.status === 200 && state === 'RUNNING') return { id, totalMs: performance.now() - t0, submitMs, polls };
    if (s.status !== 200 || state === 'FAILED' || state === 'ERROR' || performance.now() - t0 > 60_000) {
      const ev = await client.get(`/v1/clusters/${id}/events`);
      const last = (ev.body?.contents ?? []).map((e: { message: string }) => e.message).pop() ?? '';
      throw new CreateFailed(name, id, `${state ?? `status ${s.status}`} after ${Math.round(performance.now() - t0)} ms: ${last}`);
    }
    await sleep(pollMs);
  }
}

/** Splits a create into queue wait and execution, from the events the worker recorded. */
async function breakdown(client: SignedClient, c: Created, acceptedAt: string | undefined): Promise<void> {
  const ev = await client.get(`/v1/clusters/${c.id}/events`);
  const events: Array<{ at: string; message: string }> = ev.body?.contents ?? [];
  const started = events.find((e) => e.message === 'create started');
  const done = events.find((e) => e.message.startsWith('create completed'));
  if (started && acceptedAt) c.queueMs = Date.parse(started.at) - Date.parse(acceptedAt);
  if (started && done) c.runMs = Date.parse(done.at) - Date.parse(started.at);
}

/** Adds `count` clusters straight through the store, as the API would plan them, RUNNING, without engines. */
async function insertStoreOnly(service: Service, config: Config, engine: { id: string; product_image_type: string }, count: number): Promise<void> {
  const { store, credential } = service;
  const subnet = config.subnets.find((s) => s.id === 'local-subnet')!;
  const free = freeAddresses(subnet.cidr, await store.takenAddresses(subnet.id));
  const versions = service.engines.map((e) => e.version);
  for (let i = 0; i < count; i++) {
    const now = new Date().toISOString();
    const body = createBody(engine, { name: `store${letters(i)}`, instance_name_prefix: 'sto' }) as unknown as CreateClusterBody;
    const plan = planCluster(body, { accountId: credential.accountId, userId: credential.userId, now, engineVersions: versions, subnets: config.subnets });
    const ip = free.next();
    if (ip.done) throw new Error(`subnet ${subnet.cidr} is full`);
    plan.cluster.serviceState = 'RUNNING';
    // Recorded as already COMPLETED (and never leased), so the worker never claims it; then
    // finished, so it holds no active-request slot.
    const request: OperationRequest = {
      id: newRequestId(),
      accountId: credential.accountId,
      clusterId: plan.cluster.id,
      operation: 'create',
      state: 'COMPLETED',
      step: null,
      error: null,
      createdBy: credential.userId,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
    await store.createCluster(
      {
        cluster: plan.cluster,
        password: plan.password,
        groups: plan.groups,
        instances: plan.instances.map(
          (pi): Instance => ({
            id: newId(),
            clusterId: plan.cluster.id,
            groupId: plan.groups[pi.groupIndex].id,
            name: pi.name,
            roleType: pi.roleType,
            serviceIpAddress: ip.value,
            port: plan.cluster.databasePort,
            serviceState: 'RUNNING',
          }),
        ),
      },
      request,
    );
    await store.finishRequest(request.id, 'COMPLETED', null, now);
  }
}

async function timeSequential(count: number, fn: (i: number) => Promise<void>, spans?: Array<[number, number]>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn(i);
    const t1 = performance.now();
    out.push(t1 - t0);
    spans?.push([t0, t1]);
  }
  return out;
}

/** CPU time (clock ticks, 1/100 s) used so far by the given processes. */
async function cpuTicks(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return ticks;
}

/** This run's engine processes and their resident memory. */
async function engineRss(dataDir: string): Promise<{ count: number; rssMb: number }> {
  const pids = await ourEnginePids(dataDir);
  let pages = 0;
  for (const pid of pids) {
    try {
      pages += Number((await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ')[1]) || 0;
    } catch {
      // gone
    }
  }
  return { count: pids.length, rssMb: (pages * 4096) / 1024 / 1024 };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const subnetCidr = benchSubnet();
  if (o.trace) traceDriver();
  run.dataDir = await mkdtemp(join(tmpdir(), 'cachestore-bench-'));
  const config = loadConfig({
    PATH: process.env.PATH,
    CACHESTORE_DATA_DIR: run.dataDir,
    CACHESTORE_LISTEN: '127.0.0.1:0',
    CACHESTORE_ACCESS_KEY: 'bench-access-key',
    CACHESTORE_SECRET_KEY: 'bench-secret-key',
    CACHESTORE_ACCOUNT_ID: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    CACHESTORE_SUBNETS: `local-subnet=${subnetCidr}`,
    CACHESTORE_LOG_LEVEL: 'silent',
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
  });
  const service = await startService(config, { checkResponses: o.checkResponses, announce: () => undefined });
  run.service = service;
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = service.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('the service has no address');
  const client = new SignedClient(`http://127.0.0.1:${addr.port}`, { accessKey: service.credential.accessKey, secretKey: service.credential.secretKey });

  const product = o.engine === 'redis' ? 'Redis OSS Sentinel' : 'Valkey Sentinel';
  const engine = (await engineVersions(client)).find((e) => e.product_image_type === product);
  if (!engine) throw new Error(`the ${o.engine} engine is not installed (no ${product} in List Engine Versions)`);

  let nofile = '?';
  try {
    nofile = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    // informational only
  }
  console.log(
    `Cache Store provisioning bench: ${o.n} x ${engine.name} standalone, concurrency ${o.concurrency}, subnet ${subnetCidr}, ` +
      `poll every ${o.pollMs} ms, worker concurrency ${config.workerConcurrency}, ulimit -n ${nofile}, ` +
      `load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}, data dir ${run.dataDir}`,
  );

  // 1. Create N clusters through the API.
  const created: Created[] = [];
  const acceptedAt = new Map<string, string>();
  // How busy this process (service + client share one event loop) was while creating.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let lastReport = t0;
  const failures: CreateFailed[] = [];
  await pool(o.n, o.concurrency, async (i) => {
    try {
      created.push(await createOne(client, engine, `bench${letters(i)}`, o.pollMs));
    } catch (err) {
      if (!(err instanceof CreateFailed)) throw err;
      failures.push(err);
      console.log(`  ! ${err.message}`);
      // A few failures are reported; many mean something is broken: stop.
      if (failures.length > Math.max(5, o.n / 10)) throw new Error(`${failures.length} creates failed; stopping`);
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      console.log(`  ... ${created.length}/${o.n} RUNNING (${failures.length} failed) after ${((lastReport - t0) / 1000).toFixed(1)} s`);
    }
  });
  const wallMs = performance.now() - t0;
  loopDelay.disable();
  const cpu = process.cpuUsage(cpu0);
  const loadavg = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  // Breakdown from the ledger: request created_at (accepted) vs the worker's events.
  for (const c of created) {
    const cluster = await service.store.findCluster(null, c.id);
    if (cluster) acceptedAt.set(c.id, cluster.createdAt);
  }
  for (const c of created) await breakdown(client, c, acceptedAt.get(c.id));
  const procs = await engineRss(run.dataDir);

  // 2. Optional store-only clusters.
  if (o.storeOnly > 0) {
    const ts = performance.now();
    await insertStoreOnly(service, config, engine, o.storeOnly);
    console.log(`  inserted ${o.storeOnly} store-only clusters (no engine) through service.store.createCluster in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
  }
  const total = o.n + o.storeOnly;
  const list0 = await client.get('/v1/clusters?size=1');
  if (list0.status !== 200 || list0.body.count !== total) {
    throw new Error(`List Clusters reports ${list0.body?.count ?? `status ${list0.status}`} clusters, expected ${total}`);
  }
  const ids: string[] = [];
  for (let page = 0; ids.length < total; page++) {
    const r = await client.get(`/v1/clusters?size=1000&page=${page}`);
    if (r.status !== 200 || r.body.contents.length === 0) break;
    ids.push(...r.body.contents.map((c: { id: string }) => c.id));
  }

  // 3. Show and List latency, sequential, after a short warm-up.
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  for (let i = 0; i < 50; i++) {
    await client.get(`/v1/clusters/${pick()}`);
    await client.get('/v1/clusters');
  }
  const gcPauses: number[] = [];
  const gcSpans: Array<[number, number]> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcPauses.push(e.duration);
      gcSpans.push([e.startTime, e.startTime + e.duration]);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const enginePids = await ourEnginePids(run.dataDir);
  const engineTicks0 = await cpuTicks(enginePids);
  const showWall0 = performance.now();
  const showSpans: Array<[number, number]> = [];
  const show = await timeSequential(o.showRequests, async () => {
    const r = await client.get(`/v1/clusters/${pick()}`);
    if (r.status !== 200) throw new Error(`Show Cluster answered ${r.status}`);
  }, showSpans);
  const showWall = performance.now() - showWall0;
  const engineCpuPct = ((await cpuTicks(enginePids)) - engineTicks0) * 10 / showWall * 100;
  await sleep(0);
  gcObserver.disconnect();
  const list = await timeSequential(o.listRequests, async () => {
    const r = await client.get('/v1/clusters');
    if (r.status !== 200 || r.body.contents.length !== Math.min(20, total)) throw new Error(`List Clusters answered ${r.status}`);
  });
  // Diagnostics: the same reads without HTTP, and one /proc scan as the local driver does it.
  const storeShow = await timeSequential(o.showRequests, async () => {
    await service.store.clusterDetail(service.credential.accountId, pick());
  });
  const storeList = await timeSequential(o.listRequests, async () => {
    await service.store.listClusters(service.credential.accountId, { page: 0, size: 20, sortField: 'created_at', sortDir: 'desc' });
  });
  const port = addr.port;
  const injectShow = await timeSequential(o.showRequests, async () => {
    const path = `/v1/clusters/${pick()}`;
    const r = await service.app.inject({ method: 'GET', url: path, headers: { ...client.headers('GET', client.baseUrl + path), host: `127.0.0.1:${port}` } });
    if (r.statusCode !== 200) throw new Error(`Show Cluster (inject) answered ${r.statusCode}: ${r.body}`);
  });
  const noMarker = 'cachestore:00000000000000000000000000000000';
  const scans = await timeSequential(5, async () => {
    await findByMarker(noMarker);
  });
  // The same scan two other ways, for comparison (not what src/ does).
  const parallelScans = await timeSequential(5, async () => {
    const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
    const lines = await Promise.all(names.map((n) => readFile(`/proc/${n}/cmdline`, 'utf8').catch(() => '')));
    void lines.filter((l) => l.includes(noMarker));
  });
  const syncScans = await timeSequential(5, async () => {
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        void readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(noMarker);
      } catch {
        // gone
      }
    }
  });
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).length;

  // 4. Report.
  const cr = stats(created.map((c) => c.totalMs));
  const sub = stats(created.map((c) => c.submitMs));
  const q = stats(created.flatMap((c) => (c.queueMs === undefined ? [] : [c.queueMs])));
  const rn = stats(created.flatMap((c) => (c.runMs === undefined ? [] : [c.runMs])));
  const sh = stats(show);
  const li = stats(list);
  const ss = stats(storeShow);
  const sl = stats(storeList);
  const sc = stats(scans);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const at1000 = total >= 1000;

  console.log('');
  console.log(`clusters in store: ${total} = ${o.n} created through the API (real ${o.engine} engines)` +
    (o.storeOnly > 0 ? ` + ${o.storeOnly} store-only (inserted through service.store.createCluster, no engine process)` : ''));
  console.log(`engine processes running: ${procs.count}, total RSS ${procs.rssMb.toFixed(0)} MB; create wall time ${(wallMs / 1000).toFixed(1)} s`);
  console.log('');
  const rows: Array<[string, string, string]> = [
    ['N (real engines)', String(o.n), ''],
    ['engine', `${o.engine} (${engine.software_version})`, ''],
    ['clusters in store', String(total), o.storeOnly > 0 ? `(${o.storeOnly} store-only)` : ''],
    ['creates failed', String(failures.length), failures.length ? '(excluded from create->RUNNING)' : ''],
    ['create->RUNNING median', ms(cr.median), `target < 500 ms: ${verdict(cr.median < 500)}`],
    ['create->RUNNING p95', ms(cr.p95), ''],
    ['Show Cluster median', ms(sh.median), ''],
    [
      'Show Cluster p99',
      ms(sh.p99),
      `target < 5 ms with 1,000 clusters: ${at1000 ? verdict(sh.p99 < 5) : `${verdict(sh.p99 < 5)} (only ${total} in store)`}`,
    ],
    ['List Clusters median', ms(li.median), ''],
    ['List Clusters p99', ms(li.p99), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  console.log('');
  console.log('details (diagnostics, no targets):');
  console.log(`  create->RUNNING     min ${ms(cr.min)}  mean ${ms(cr.mean)}  p99 ${ms(cr.p99)}  max ${ms(cr.max)}`);
  console.log(`  Create Cluster 202  median ${ms(sub.median)}  p95 ${ms(sub.p95)}  max ${ms(sub.max)}`);
  console.log(`  queue (accepted -> worker started, event clock, 1 ms)   median ${ms(q.median)}  p95 ${ms(q.p95)}  max ${ms(q.max)}`);
  console.log(`  steps (worker started -> create completed)             median ${ms(rn.median)}  p95 ${ms(rn.p95)}  max ${ms(rn.max)}`);
  console.log(`  Show Cluster  (${sh.n} req)  min ${ms(sh.min)}  p95 ${ms(sh.p95)}  max ${ms(sh.max)}`);
  console.log(`  List Clusters (${li.n} req)  min ${ms(li.min)}  p95 ${ms(li.p95)}  max ${ms(li.max)}`);
  console.log(
    `  Show Cluster GC: ${gcPauses.length} pauses in ${(showWall / 1000).toFixed(1)} s, max ${ms(Math.max(0, ...gcPauses))}, total ${ms(gcPauses.reduce((a, b) => a + b, 0))}`,
  );
  // Which of the slowest 1% of Show requests had a GC pause inside them.
  const slowest = showSpans
    .map((span, i) => ({ span, d: show[i] }))
    .sort((a, b) => b.d - a.d)
    .slice(0, Math.max(1, Math.floor(show.length / 100)));
  const withGc = slowest.filter(({ span }) => gcSpans.some(([a, b]) => a < span[1] && b > span[0])).length;
  console.log(`  slowest 1% of Show requests (${slowest.length}, >= ${ms(slowest[slowest.length - 1].d)}): ${withGc} overlap a GC pause`);
  const ij = stats(injectShow);
  console.log(`  the ${enginePids.length} idle engines used ${engineCpuPct.toFixed(0)}% of one core meanwhile (2 cores in all)`);
  console.log(`  heap used ${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`);
  console.log(`  Show Cluster via app.inject (no socket, no fetch)  median ${ms(ij.median)}  p99 ${ms(ij.p99)}`);
  console.log(`  store.clusterDetail (no HTTP)  median ${ms(ss.median)}  p99 ${ms(ss.p99)}`);
  console.log(`  store.listClusters  (no HTTP)  median ${ms(sl.median)}  p99 ${ms(sl.p99)}`);
  console.log(
    `  during the creates: this process used ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(0)}% of one core; ` +
      `event loop delay median ${ms(loopDelay.percentile(50) / 1e6)} p99 ${ms(loopDelay.percentile(99) / 1e6)} max ${ms(loopDelay.max / 1e6)}; load average after: ${loadavg}`,
  );
  console.log(
    `  one /proc scan (${pids} pids): findByMarker (src) median ${ms(sc.median)} max ${ms(sc.max)}; ` +
      `parallel readFile median ${ms(stats(parallelScans).median)}; readFileSync median ${ms(stats(syncScans).median)}`,
  );
  if (failures.length) {
    console.log(`  failed creates (${failures.length}):`);
    for (const f of failures.slice(0, 10)) console.log(`    ${f.message}`);
  }
  if (traceNotes.length) {
    console.log('  --trace notes:');
    for (const t of traceNotes.slice(0, 10)) console.log(`    ${t}`);
  }
  if (o.trace) {
    console.log('  local driver calls during the creates (--trace; nested: launch and waitReady include pid scans):');
    for (const [name, values] of traced) {
      const t = stats(values);
      console.log(`    ${name.padEnd(13)} calls ${String(t.n).padStart(6)}  median ${ms(t.median)}  p95 ${ms(t.p95)}  max ${ms(t.max)}  sum ${(t.mean * t.n / 1000).toFixed(1)} s`);
    }
  }
  console.log('');
}

main()
  .then(
    () => cleanup().then(() => 0),
    async (err) => {
      // After Ctrl-C the requests in flight fail as the service closes: nothing to report.
      if (signals === 0) console.error(err instanceof Error ? err.message : err);
      await cleanup();
      return 1;
    },
  )
  .then((code) => process.exit(code));
