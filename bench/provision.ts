// Provisioning benchmark, with the service as users run it: a separate process (node + tsx on
// src/main.ts, started by test/support/child-service.ts) with its own temp data dir, its own
// loopback subnet (127.<230-249>.0.0/16), log level silent, reconcile off. Only the signed client
// runs in this process. It creates N standalone clusters through the API with bounded
// concurrency, and measures
//   - create -> RUNNING: from sending Create Cluster until Show Cluster (polled every 5 ms)
//     reports service_state RUNNING, per cluster;
//   - Show Cluster latency (sequential, random clusters) and List Clusters latency (sequential,
//     default page size 20) with all clusters in the store.
// Figures are printed beside their targets, never asserted. The service process and every engine
// it started are stopped, and the temp dir removed, also on error or Ctrl-C.
//
//   npm run bench:provision -- N [--engine redis|valkey] [--concurrency C] [--store-only K]
//                               [--show-requests S] [--list-requests L] [--poll-ms P]
//                               [--log-level silent|warn|...] [--no-probe]
//
// --store-only K puts K clusters in the store with no engine process, so Show and List can be
// measured with N+K clusters while only N engines run. As the store belongs to the service
// process, they are written BEFORE it starts: this process opens the SQLite file of the data dir
// (src/store/db.ts openDatabase, which also creates the schema), adds K clusters planned as the
// API plans them (planCluster), closes it, and then starts the service on that data dir. They are
// recorded STOPPED, not RUNNING: at start the service checks every RUNNING cluster's engines and
// would turn engine-less RUNNING clusters into ERROR (Show and List read the same rows either way).
// The N real clusters are created after them.
//
// The service process preloads bench/child-probe.mjs (NODE_OPTIONS=--import=...), which reports
// the service's event loop delay, GC pauses and CPU on request (SIGUSR2); --no-probe runs the
// service without it (those details are then left out). Other CACHESTORE_* variables of the
// environment (CACHESTORE_WORKER_CONCURRENCY, ...) are passed on to the service, except the ones
// the bench sets itself; CACHESTORE_DATABASE_URL is refused (the bench uses its own SQLite file).
//
// Dropped with the move out of process (they needed the service in this process):
//   --trace            (wrapped the LocalDriver methods of this process),
//   --check-responses  (a startService option; main.ts has no such setting),
//   and the app.inject diagnostic.
// The store diagnostics (store.clusterDetail / listClusters without HTTP) now read the same
// SQLite file from this process, read-only, while the service runs.
import SQLite from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs as parseCliArgs } from 'node:util';
import { Kysely, SqliteDialect } from 'kysely';
import { userIdFor } from '../src/bootstrap.js';
import { loadConfig, type Config } from '../src/config.js';
import type { EngineVersion } from '../src/domain/catalog.js';
import { findByMarker, signal } from '../src/drivers/local/processes.js';
import { detectEngines } from '../src/engines/detect.js';
import type { Database } from '../src/store/schema.js';
import { SqlStore } from '../src/store/sql-store.js';
import { startChildService, type ChildService } from '../test/support/child-service.js';
import type { SignedClient } from '../test/support/client.js';
import { killEnginesUnder } from '../test/support/engines.js';
import { createBody, engineVersions } from '../test/support/harness.js';
import { insertStoreOnlyClusters, letters } from './store-fixture.js';

// ---------------------------------------------------------------------------------------------
// Arguments

interface Options {
  n: number;
  engine: 'redis' | 'valkey';
  concurrency: number;
  storeOnly: number;
  showRequests: number;
  listRequests: number;
  pollMs: number;
  logLevel: string;
  probe: boolean;
}

const USAGE = [
  'usage: npm run bench:provision -- N [--engine redis|valkey] [--concurrency C] [--store-only K] [--show-requests S]',
  '                                    [--list-requests L] [--poll-ms P] [--log-level silent|warn|...] [--no-probe]',
  '  the service runs as a separate process; --trace and --check-responses worked only with the service',
  '  in this process and were dropped',
].join('\n');

const DROPPED: Record<string, string> = {
  '--trace': 'it wrapped the local driver inside this process; the service now runs as a separate process',
  '--check-responses': 'it was a startService option; the separate service process (src/main.ts) has no such setting',
};

function parseArgs(argv: string[]): Options {
  const whole = (name: string, v: string | undefined, min: number): number => {
    const x = Number(v);
    if (v === undefined || !Number.isInteger(x) || x < min) throw new Error(`${name} must be a whole number >= ${min}, got '${v ?? ''}'\n${USAGE}`);
    return x;
  };
  const dropped = argv.map((a) => a.split('=')[0]).find((f) => DROPPED[f]);
  if (dropped) throw new Error(`${dropped} is no longer supported: ${DROPPED[dropped]}\n${USAGE}`);
  let parsed;
  try {
    parsed = parseCliArgs({
      args: argv,
      allowPositionals: true,
      options: {
        engine: { type: 'string' }, concurrency: { type: 'string' }, 'store-only': { type: 'string' }, 'show-requests': { type: 'string' },
        'list-requests': { type: 'string' }, 'poll-ms': { type: 'string' }, 'log-level': { type: 'string' }, 'no-probe': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (v.engine !== undefined && v.engine !== 'redis' && v.engine !== 'valkey') throw new Error(`--engine must be redis or valkey, got '${v.engine}'\n${USAGE}`);
  const levels = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];
  if (v['log-level'] !== undefined && !levels.includes(v['log-level'])) throw new Error(`--log-level must be a pino level, got '${v['log-level']}'\n${USAGE}`);
  if (positionals.length > 1) throw new Error(`unexpected argument '${positionals[1]}'\n${USAGE}`);
  const o: Options = {
    n: positionals.length ? whole('N', positionals[0], 1) : NaN,
    engine: (v.engine as Options['engine'] | undefined) ?? 'redis',
    concurrency: v.concurrency !== undefined ? whole('--concurrency', v.concurrency, 1) : 8,
    storeOnly: v['store-only'] !== undefined ? whole('--store-only', v['store-only'], 0) : 0,
    showRequests: v['show-requests'] !== undefined ? whole('--show-requests', v['show-requests'], 1) : 2000,
    listRequests: v['list-requests'] !== undefined ? whole('--list-requests', v['list-requests'], 1) : 500,
    pollMs: v['poll-ms'] !== undefined ? whole('--poll-ms', v['poll-ms'], 0) : 5,
    logLevel: v['log-level'] ?? 'silent',
    probe: !v['no-probe'],
  };
  if (Number.isNaN(o.n)) throw new Error(`N is required\n${USAGE}`);
  if (o.n + o.storeOnly > 60_000) throw new Error('N + K must stay below 60000 (one /16 loopback subnet)');
  if (process.env.CACHESTORE_DATABASE_URL) throw new Error('CACHESTORE_DATABASE_URL is set: the bench uses its own SQLite store in a temp data dir; unset it');
  return o;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

async function loadavg(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

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
// The service process

const KEYS = { accessKey: 'bench-access-key', secretKey: 'bench-secret-key' };
const ACCOUNT_ID = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const PROBE_URL = new URL('./child-probe.mjs', import.meta.url).href;

/** The environment the service process gets (startChildService adds PATH, HOME, LISTEN and the keys). */
function serviceEnv(o: Options, dataDir: string, subnetCidr: string): Record<string, string> {
  const own: Record<string, string> = {
    CACHESTORE_DATA_DIR: dataDir,
    CACHESTORE_SUBNETS: `local-subnet=${subnetCidr}`,
    CACHESTORE_LOG_LEVEL: o.logLevel,
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
    CACHESTORE_ACCOUNT_ID: ACCOUNT_ID,
  };
  const fixed = new Set([...Object.keys(own), 'CACHESTORE_LISTEN', 'CACHESTORE_ACCESS_KEY', 'CACHESTORE_SECRET_KEY', 'CACHESTORE_DATABASE_URL']);
  const passed: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CACHESTORE_') && !fixed.has(k) && v !== undefined) passed[k] = v;
  return { ...passed, ...own, ...(o.probe ? { NODE_OPTIONS: `--import=${PROBE_URL}` } : {}) };
}

/** The configuration the service process will load from that environment (for the store-only writes and the header). */
function serviceConfig(env: Record<string, string>): Config {
  return loadConfig({ PATH: process.env.PATH, ...env, CACHESTORE_LISTEN: '127.0.0.1:0', CACHESTORE_ACCESS_KEY: KEYS.accessKey, CACHESTORE_SECRET_KEY: KEYS.secretKey });
}

interface ProbeReport {
  pid: number;
  wallMs: number;
  cpuMs: number;
  loop: { p50: number; p99: number; max: number };
  /** [start, ms since the epoch; duration ms; kind] */
  gc: Array<[number, number, number]>;
  heapUsedMb: number;
  rssMb: number;
}

/** Asks the probe in the service process for what it saw since the last call (and to start again). */
async function probe(svc: ChildService): Promise<ProbeReport | undefined> {
  const from = svc.output().length;
  svc.child.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const m = /@@probe (\{.*\})\n/.exec(svc.output().slice(from));
    if (m) return JSON.parse(m[1]) as ProbeReport;
    await sleep(5);
  }
  console.error('  (the service probe did not answer within 5 s)');
  return undefined;
}

/** Service processes this process started (direct children running src/main.ts; tsx's esbuild is left alone), not zombies. */
async function ourChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) !== process.pid || f[0] === 'Z') continue;
      if ((await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').includes('src/main.ts')) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** The service closes gracefully on SIGTERM (requests in flight finish, so no engine starts after we kill them); SIGKILL after 30 s. */
async function stopService(): Promise<number> {
  const { svc } = run;
  if (svc && svc.child.exitCode === null && svc.child.signalCode === null) {
    const t = setTimeout(() => {
      console.error('  (the service took over 30 s to stop; SIGKILL)');
      void svc.kill('SIGKILL');
    }, 30_000);
    await svc.kill('SIGTERM');
    clearTimeout(t);
  }
  // A service whose start failed (startChildService threw, so there is no handle), by pid.
  let stopped = svc ? 1 : 0;
  const left = await ourChildren();
  for (const pid of left) signal(pid, 'SIGTERM');
  for (let waited = 0; left.length > 0 && waited < 30_000; waited += 50) {
    const still = new Set(await ourChildren());
    if (left.every((p) => !still.has(p))) break;
    await sleep(50);
  }
  for (const pid of await ourChildren()) if (left.includes(pid)) signal(pid, 'SIGKILL');
  stopped += left.length;
  return stopped;
}

// ---------------------------------------------------------------------------------------------
// Clean-up: stop the service process, kill every engine under the data dir, remove the dir.
// Runs once, whichever of normal end, error, or signal comes first.

interface Run {
  dataDir?: string;
  svc?: ChildService;
  readStore?: SqlStore;
}
const run: Run = {};
let cleaning: Promise<void> | null = null;

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
  const serviceId = run.svc?.child.pid;
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid || Number(name) === serviceId) continue;
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
    const { dataDir, readStore } = run;
    if (readStore) await readStore.close().catch(() => undefined);
    const services = await stopService().catch((err) => {
      console.error('stopping the service failed:', err);
      return 0;
    });
    if (dataDir) {
      const fast = await killAllEnginesOnce(dataDir).catch(() => 0);
      // The reference clean-up of the tests: kills (and waits for) whatever is left.
      const rest = await killEnginesUnder(dataDir).catch((err) => {
        console.error('killing engines failed:', err);
        return 0;
      });
      await rm(dataDir, { recursive: true, force: true }).catch((err) => console.error(`removing ${dataDir} failed:`, err));
      console.log(`cleanup: stopped ${services} service process(es), killed ${fast + rest} engine process(es), removed ${dataDir}`);
    }
  })();
  return cleaning;
}

let signals = 0;
let firstSignalAt = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) {
      // Ctrl-C reaches this process twice: from the terminal, and relayed by the tsx CLI.
      if (Date.now() - firstSignalAt < 1000) return;
      console.error(`\n${sig} again: still cleaning up (the service is stopping, engines are being killed); please wait`);
      return;
    }
    firstSignalAt = Date.now();
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
// Store-only clusters: written before the service starts, straight into its SQLite file.

/** Adds `count` clusters to the data dir's store, as the API would plan them, STOPPED, without engines. */
async function insertStoreOnly(config: Config, engine: EngineVersion, versions: EngineVersion[], count: number): Promise<void> {
  await insertStoreOnlyClusters(config, engine, versions, count, { accountId: ACCOUNT_ID, userId: userIdFor(KEYS.accessKey) });
}

/** The running service's SQLite file, opened read-only from this process (WAL: readers never block the writer). */
function openReadOnlyStore(file: string): SqlStore {
  const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  return new SqlStore(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Created {
  id: string;
  totalMs: number;
  submitMs: number;
  /** created_at of the cluster (the request was accepted), as Show Cluster reports it. */
  acceptedAt?: string;
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
    if (s.status === 200 && state === 'RUNNING') return { id, totalMs: performance.now() - t0, submitMs, acceptedAt: s.body.created_at, polls };
    if (s.status !== 200 || state === 'FAILED' || state === 'ERROR' || performance.now() - t0 > 60_000) {
      const ev = await client.get(`/v1/clusters/${id}/events`);
      const last = (ev.body?.contents ?? []).map((e: { message: string }) => e.message).pop() ?? '';
      throw new CreateFailed(name, id, `${state ?? `status ${s.status}`} after ${Math.round(performance.now() - t0)} ms: ${last}`);
    }
    await sleep(pollMs);
  }
}

/** Splits a create into queue wait and execution, from the events the worker recorded. */
async function breakdown(client: SignedClient, c: Created): Promise<void> {
  const ev = await client.get(`/v1/clusters/${c.id}/events`);
  const events: Array<{ at: string; message: string }> = ev.body?.contents ?? [];
  const started = events.find((e) => e.message === 'create started');
  const done = events.find((e) => e.message.startsWith('create completed'));
  if (started && c.acceptedAt) c.queueMs = Date.parse(started.at) - Date.parse(c.acceptedAt);
  if (started && done) c.runMs = Date.parse(done.at) - Date.parse(started.at);
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

/** Resident memory of the given processes, MB. */
async function rssMb(pids: number[]): Promise<number> {
  let pages = 0;
  for (const pid of pids) {
    try {
      pages += Number((await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ')[1]) || 0;
    } catch {
      // gone
    }
  }
  return (pages * 4096) / 1024 / 1024;
}

/** CPU of this process and of other processes over a stretch of wall time, as % of one core. */
function cpuMeter(pids: number[]) {
  const own0 = process.cpuUsage();
  const wall0 = performance.now();
  const ticks0 = cpuTicks(pids);
  return async () => {
    const wall = performance.now() - wall0;
    const own = process.cpuUsage(own0);
    const ticks = (await cpuTicks(pids)) - (await ticks0);
    return { wallMs: wall, ownPct: ((own.user + own.system) / 1000 / wall) * 100, othersPct: ((ticks * 10) / wall) * 100 };
  };
}

const pctOf = (x: number) => `${x.toFixed(0)}%`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const subnetCidr = benchSubnet();
  run.dataDir = await mkdtemp(join(tmpdir(), 'cachestore-bench-'));
  const env = serviceEnv(o, run.dataDir, subnetCidr);
  const config = serviceConfig(env);
  const product = o.engine === 'redis' ? 'Redis OSS Sentinel' : 'Valkey Sentinel';
  const load0 = await loadavg();

  // 1. Store-only clusters, into the data dir's SQLite file before the service starts.
  let storeOnlyMs = 0;
  if (o.storeOnly > 0) {
    const versions = (await detectEngines(config.enginePath)).map((e) => e.version);
    const version = versions.find((v) => v.productImageType === product);
    if (!version) throw new Error(`the ${o.engine} engine is not installed (no ${product} found on ${config.enginePath})`);
    const ts = performance.now();
    await insertStoreOnly(config, version, versions, o.storeOnly);
    storeOnlyMs = performance.now() - ts;
  }

  // 2. The service, as a separate process on that data dir.
  const tStart = performance.now();
  const svc = await startChildService(env, KEYS);
  run.svc = svc;
  const startMs = performance.now() - tStart;
  svc.child.on('exit', (code, sig) => {
    if (cleaning === null && signals === 0) console.error(`\nthe service process exited by itself (code ${code}, signal ${sig}); its output:\n${svc.output().slice(-4000)}`);
  });
  const servicePid = svc.child.pid!;
  const client = svc.client;
  run.readStore = openReadOnlyStore(config.database.kind === 'sqlite' ? config.database.file : '');

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
      `poll every ${o.pollMs} ms, worker concurrency ${config.workerConcurrency}, ulimit -n ${nofile}, load average ${load0}, data dir ${run.dataDir}`,
  );
  console.log(
    `  service: separate process pid ${servicePid} (node + tsx, src/main.ts), log level ${o.logLevel}, reconcile off, ` +
      `${o.probe ? 'probe preloaded' : 'no probe'}; up (healthz) ${(startMs / 1000).toFixed(1)} s after spawn` +
      (o.storeOnly > 0 ? `, with ${o.storeOnly} store-only clusters written beforehand in ${(storeOnlyMs / 1000).toFixed(1)} s` : ''),
  );

  // 3. Create N clusters through the API.
  const created: Created[] = [];
  const failures: CreateFailed[] = [];
  if (o.probe) await probe(svc); // starts the service's counters here
  const createCpu = cpuMeter([servicePid]);
  const t0 = performance.now();
  let lastReport = t0;
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
  const createCpuUse = await createCpu();
  const createProbe = o.probe ? await probe(svc) : undefined;
  const loadAfterCreates = await loadavg();
  for (const c of created) await breakdown(client, c);
  const enginePids = await ourEnginePids(run.dataDir);
  const engineRss = await rssMb(enginePids);

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

  // 4. Show and List latency, sequential, after a short warm-up.
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  for (let i = 0; i < 50; i++) {
    await client.get(`/v1/clusters/${pick()}`);
    await client.get('/v1/clusters');
  }
  // GC pauses of this process (the client), with their times since the epoch.
  const clientGc: Array<[number, number]> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) clientGc.push([performance.timeOrigin + e.startTime, e.duration]);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  if (o.probe) await probe(svc);
  const showCpu = cpuMeter([servicePid]);
  const engineTicks0 = await cpuTicks(enginePids);
  const showWall0 = performance.now();
  const showSpans: Array<[number, number]> = [];
  const show = await timeSequential(o.showRequests, async () => {
    const r = await client.get(`/v1/clusters/${pick()}`);
    if (r.status !== 200) throw new Error(`Show Cluster answered ${r.status}`);
  }, showSpans);
  const showWall = performance.now() - showWall0;
  const engineCpuPct = (((await cpuTicks(enginePids)) - engineTicks0) * 10 / showWall) * 100;
  const showCpuUse = await showCpu();
  const showProbe = o.probe ? await probe(svc) : undefined;
  const loadAfterShow = await loadavg();
  await sleep(0);
  gcObserver.disconnect();
  const list = await timeSequential(o.listRequests, async () => {
    const r = await client.get('/v1/clusters');
    if (r.status !== 200 || r.body.contents.length !== Math.min(20, total)) throw new Error(`List Clusters answered ${r.status}`);
  });
  // Diagnostics: the HTTP floor (healthz: no signature check, no store), and the same reads
  // without HTTP (this process, read-only on the service's SQLite file).
  const healthz = await timeSequential(o.showRequests, async () => {
    const r = await fetch(`${client.baseUrl}/healthz`);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`healthz answered ${r.status}`);
  });
  const readStore = run.readStore;
  const storeShow = await timeSequential(o.showRequests, async () => {
    if (!(await readStore.clusterDetail(ACCOUNT_ID, pick()))) throw new Error('store.clusterDetail found no cluster');
  });
  const storeList = await timeSequential(o.listRequests, async () => {
    await readStore.listClusters(ACCOUNT_ID, { page: 0, size: 20, sortField: 'created_at', sortDir: 'desc' });
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

  // 5. Report.
  const cr = stats(created.map((c) => c.totalMs));
  const sub = stats(created.map((c) => c.submitMs));
  const q = stats(created.flatMap((c) => (c.queueMs === undefined ? [] : [c.queueMs])));
  const rn = stats(created.flatMap((c) => (c.runMs === undefined ? [] : [c.runMs])));
  const sh = stats(show);
  const li = stats(list);
  const hz = stats(healthz);
  const ss = stats(storeShow);
  const sl = stats(storeList);
  const sc = stats(scans);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const at1000 = total >= 1000;

  console.log('');
  console.log(
    `clusters in store: ${total} = ${o.n} created through the API (real ${o.engine} engines)` +
      (o.storeOnly > 0 ? ` + ${o.storeOnly} store-only (written to the SQLite file before the service started, STOPPED, no engine process)` : ''),
  );
  console.log(`engine processes running: ${enginePids.length}, total RSS ${engineRss.toFixed(0)} MB; create wall time ${(wallMs / 1000).toFixed(1)} s`);
  console.log(`load average: ${load0} at start, ${loadAfterCreates} after the creates, ${loadAfterShow} after Show Cluster`);
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
  console.log(
    `  during the creates: service process ${pctOf(createCpuUse.othersPct)} of one core, bench (client) ${pctOf(createCpuUse.ownPct)}` +
      (createProbe
        ? `; service event loop delay (beyond the 5 ms tick) median ${ms(createProbe.loop.p50)} p99 ${ms(createProbe.loop.p99)} max ${ms(createProbe.loop.max)}, ` +
          `${createProbe.gc.length} GC pauses (max ${ms(Math.max(0, ...createProbe.gc.map((g) => g[1])))})`
        : ''),
  );
  console.log(`  Show Cluster  (${sh.n} req)  min ${ms(sh.min)}  p95 ${ms(sh.p95)}  max ${ms(sh.max)}  (${(showWall / sh.n).toFixed(2)} ms per request, wall)`);
  console.log(`  List Clusters (${li.n} req)  min ${ms(li.min)}  p95 ${ms(li.p95)}  max ${ms(li.max)}`);
  console.log(`  GET /healthz (no signature, no store: the HTTP round trip)  median ${ms(hz.median)}  p99 ${ms(hz.p99)}  max ${ms(hz.max)}`);
  console.log(
    `  during Show Cluster (${(showWall / 1000).toFixed(1)} s): service process ${pctOf(showCpuUse.othersPct)} of one core, bench (client) ${pctOf(showCpuUse.ownPct)}, ` +
      `the ${enginePids.length} idle engines ${pctOf(engineCpuPct)} (2 cores in all)`,
  );
  const sumMs = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const serviceGc = showProbe?.gc ?? [];
  if (showProbe) {
    console.log(
      `    service: event loop delay (beyond the 5 ms tick) median ${ms(showProbe.loop.p50)} p99 ${ms(showProbe.loop.p99)} max ${ms(showProbe.loop.max)}; ` +
        `${serviceGc.length} GC pauses, max ${ms(Math.max(0, ...serviceGc.map((g) => g[1])))}, total ${ms(sumMs(serviceGc.map((g) => g[1])))}; ` +
        `heap used ${showProbe.heapUsedMb.toFixed(0)} MB, rss ${showProbe.rssMb.toFixed(0)} MB`,
    );
  } else {
    console.log(`    service: rss ${(await rssMb([servicePid])).toFixed(0)} MB (no probe: no event loop or GC figures)`);
  }
  console.log(
    `    bench (client): ${clientGc.length} GC pauses, max ${ms(Math.max(0, ...clientGc.map((g) => g[1])))}, total ${ms(sumMs(clientGc.map((g) => g[1])))}; ` +
      `heap used ${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`,
  );
  // Which of the slowest 1% of Show requests had a GC pause (of either process) inside them.
  // Both processes give times since the epoch (performance.timeOrigin); their clocks agree to well under a millisecond.
  const slowest = showSpans
    .map(([a, b], i) => ({ span: [performance.timeOrigin + a, performance.timeOrigin + b] as const, d: show[i] }))
    .sort((a, b) => b.d - a.d)
    .slice(0, Math.max(1, Math.floor(show.length / 100)));
  const overlaps = (gcs: Array<readonly [number, number, ...number[]]>, span: readonly [number, number]) => gcs.some(([s, d]) => s < span[1] && s + d > span[0]);
  const withServiceGc = slowest.filter(({ span }) => overlaps(serviceGc, span)).length;
  const withClientGc = slowest.filter(({ span }) => overlaps(clientGc, span)).length;
  const withEither = slowest.filter(({ span }) => overlaps(serviceGc, span) || overlaps(clientGc, span)).length;
  console.log(
    `  slowest 1% of Show requests (${slowest.length}, >= ${ms(slowest[slowest.length - 1].d)}): ` +
      (showProbe ? `${withServiceGc} overlap a service GC pause, ` : '') +
      `${withClientGc} a client GC pause, ${withEither} either`,
  );
  console.log(`  store.clusterDetail (no HTTP, read-only from this process)  median ${ms(ss.median)}  p99 ${ms(ss.p99)}`);
  console.log(`  store.listClusters  (no HTTP, read-only from this process)  median ${ms(sl.median)}  p99 ${ms(sl.p99)}`);
  console.log(
    `  one /proc scan (${pids} pids): findByMarker (src) median ${ms(sc.median)} max ${ms(sc.max)}; ` +
      `parallel readFile median ${ms(stats(parallelScans).median)}; readFileSync median ${ms(stats(syncScans).median)}`,
  );
  if (failures.length) {
    console.log(`  failed creates (${failures.length}):`);
    for (const f of failures.slice(0, 10)) console.log(`    ${f.message}`);
  }
  console.log('');
}

main()
  .then(
    () => cleanup().then(() => 0),
    async (err) => {
      // After Ctrl-C the requests in flight fail as the service stops: nothing to report.
      if (signals === 0) {
        console.error(err instanceof Error ? err.message : err);
        const out = run.svc?.output().replace(/\n@@probe .*\n/g, '\n').trim();
        if (out) console.error(`the service process printed (last 4000 characters):\n${out.slice(-4000)}`);
      }
      await cleanup();
      return 1;
    },
  )
  .then((code) => process.exit(code));
