// API latency and throughput against a bare reference, in one run on the same machine:
//   - the reference: a bare Fastify route in its own process (this file, --serve-bare) that reads
//     one row from better-sqlite3 and returns a Show-Cluster-sized JSON (the service's own Show
//     Cluster answer, stored as text, parsed and sent back);
//   - the service, as users run it: its own process (node + tsx on src/main.ts), with N clusters
//     (default 1,000) in its store, written through the store before it starts (store-fixture.ts).
// Both are loaded alternately with autocannon (10 connections, S seconds each), R rounds after a
// warm-up, and the bench prints, per target, req/s and p99 (medians over the rounds) and the
// ratio to the bare route of the same round: bare route, /healthz, Show Cluster, List Clusters
// (20 per page), /openapi.json. Show and List are signed as the SDK signs (the signature is
// checked on every request; a timestamp is valid for 15 minutes, so each run is signed anew).
// Figures are printed beside their targets, never asserted.
//
//   npm run bench:api -- [--rounds R=3] [--seconds S=5] [--clusters N=1000] [--connections C=10]
//                        [--only show|list|healthz|openapi] [--profile DIR]
//
// --only keeps one target besides the bare route (repeatable), e.g. to watch Show Cluster alone.
//
// --profile DIR: after the rounds, profiles the service's CPU (bench/cpu-profile.mjs, preloaded)
// while Show Cluster, then List Clusters, are loaded once more, writes the profiles to DIR and
// prints the functions with the most CPU time (self time, and inclusive time of src/ frames).
//
// Why autocannon 8: the load generator of the Fastify project, driven from code (one run per
// target, results as numbers); 8 is the major whose CI runs Node 20 (and 22).
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { userIdFor } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { detectEngines } from '../src/engines/detect.js';
import { freePort, startChildService, type ChildService } from '../test/support/child-service.js';
import { insertStoreOnlyClusters } from './store-fixture.js';

const KEYS = { accessKey: 'bench-api-access-key', secretKey: 'bench-api-secret-key' };
const ACCOUNT_ID = 'cccccccccccccccccccccccccccccccc';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The bare reference route (run as its own process: `tsx bench/api.ts --serve-bare FILE PORT`)

async function serveBare(file: string, port: number): Promise<void> {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  const row = db.prepare('SELECT body FROM clusters WHERE id = ?');
  const app = Fastify({ logger: false });
  app.get<{ Params: { id: string } }>('/v1/clusters/:id', async (req, reply) => {
    const r = row.get(req.params.id) as { body: string } | undefined;
    if (!r) return reply.code(404).send({ error: 'not found' });
    return JSON.parse(r.body) as unknown;
  });
  await app.listen({ host: '127.0.0.1', port });
}

// ---------------------------------------------------------------------------------------------
// Arguments

interface Options {
  rounds: number;
  seconds: number;
  clusters: number;
  connections: number;
  profileDir?: string;
  only: string[];
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      clusters: { type: 'string' },
      connections: { type: 'string' },
      profile: { type: 'string' },
      only: { type: 'string', multiple: true },
    },
  });
  const whole = (name: string, s: string | undefined, dflt: number, min = 1) => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}`);
    return n;
  };
  return {
    rounds: whole('rounds', v.rounds, 3),
    seconds: whole('seconds', v.seconds, 5),
    clusters: whole('clusters', v.clusters, 1000, 20),
    connections: whole('connections', v.connections, 10),
    profileDir: v.profile ? resolve(v.profile) : undefined,
    only: v.only ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// Processes this bench starts, stopped on every way out

const started: ChildProcess[] = [];
let dataDir = '';

async function cleanup(): Promise<void> {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => void cleanup().finally(() => process.exit(130)));
}

async function startBare(file: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/api.ts', '--serve-bare', file, String(port)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  started.push(child);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bare route exited (${child.exitCode})`);
    try {
      await fetch(`http://127.0.0.1:${port}/v1/clusters/none`);
      return { port, child };
    } catch {
      if (Date.now() > deadline) throw new Error('the bare route did not listen within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Load

interface Target {
  name: string;
  /** The requests one connection sends in turn (headers built just before each run). */
  requests: () => Array<{ method: 'GET'; path: string; headers?: Record<string, string> }>;
  port: number;
  /** The process that answers (for its CPU time). */
  pid: number;
  goal: string;
}

interface Run {
  rps: number;
  p99: number;
  bad: number;
  /** The server process's CPU time (user + system) per answer, in µs. */
  cpuUs: number;
}

/** CPU time of a process so far, in µs (utime + stime of /proc/<pid>/stat, at 100 ticks/s). */
function cpuTimeUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function load(t: Target, connections: number, seconds: number): Promise<Run> {
  const before = cpuTimeUs(t.pid);
  const r = await autocannon({ url: `http://127.0.0.1:${t.port}`, connections, duration: seconds, requests: t.requests() });
  const answers = r.requests.total;
  return { rps: r.requests.average, p99: r.latency.p99, bad: r.non2xx + r.errors + r.timeouts, cpuUs: answers ? (cpuTimeUs(t.pid) - before) / answers : 0 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------------------------------------
// CPU profile summary (the .cpuprofile the service writes with --cpu-prof)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function summarizeProfile(file: string, what: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const where = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(`file://${ROOT}`, '').replace(/^.*node_modules\//, '~/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  for (const n of profile.nodes) self.set(where(n), (self.get(where(n)) ?? 0) + (n.hitCount ?? 0));
  // Inclusive time of frames in src/ (each frame counted once per stack).
  const inclusive = new Map<string, number>();
  const walk = (n: ProfileNode, onStack: Set<string>): number => {
    let sum = n.hitCount ?? 0;
    const key = where(n);
    const mine = n.callFrame.url.includes('/src/') && !onStack.has(key);
    if (mine) onStack.add(key);
    for (const c of n.children ?? []) sum += walk(byId.get(c)!, onStack);
    if (mine) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + sum);
    }
    return sum;
  };
  walk(profile.nodes[0], new Set());
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)}%`.padStart(6);
  console.log(`\nCPU profile of the service under ${what} (${file}; ${total} samples):\n  self time:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(v)}  ${k}`);
  console.log('  inclusive time, src/ frames:');
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(v)}  ${k}`);
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  dataDir = await mkdtemp(join(tmpdir(), 'cachestore-bench-api-'));
  // A /16 for the fixture's addresses (one per cluster), apart from the tests' /24s and bench:provision's.
  const subnet = `127.${250 + (process.pid % 5)}.0.0/16`;
  const env: Record<string, string> = {
    CACHESTORE_DATA_DIR: dataDir,
    CACHESTORE_SUBNETS: `local-subnet=${subnet}`,
    CACHESTORE_LOG_LEVEL: 'silent',
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
    CACHESTORE_BACKUP_SCHEDULE_MS: '0',
    CACHESTORE_ACCOUNT_ID: ACCOUNT_ID,
  };
  if (o.profileDir) {
    mkdirSync(o.profileDir, { recursive: true });
    env.NODE_OPTIONS = `--import=${new URL('./cpu-profile.mjs', import.meta.url).href}`;
    env.CACHESTORE_BENCH_PROFILE_DIR = o.profileDir;
  }
  const config = loadConfig({ PATH: process.env.PATH, ...env, CACHESTORE_LISTEN: '127.0.0.1:0', CACHESTORE_ACCESS_KEY: KEYS.accessKey, CACHESTORE_SECRET_KEY: KEYS.secretKey });

  // 1. The fixture: N clusters in the store, before the service starts.
  const versions = (await detectEngines(config.enginePath)).map((e) => e.version);
  const version = versions.find((v) => v.engine === 'redis') ?? versions[0];
  if (!version) throw new Error(`no engine found on ${config.enginePath}: planning clusters needs one`);
  const ids = await insertStoreOnlyClusters(config, version, versions, o.clusters, { accountId: ACCOUNT_ID, userId: userIdFor(KEYS.accessKey), prefix: 'bench' });

  // 2. The service, in its own process on that data dir.
  const svc: ChildService = await startChildService(env, KEYS);
  started.push(svc.child);
  const port = Number(new URL(svc.client.baseUrl).port);
  const shown = await svc.client.get(`/v1/clusters/${ids[0]}`);
  if (shown.status !== 200) throw new Error(`Show Cluster answered ${shown.status}: ${JSON.stringify(shown.body)}`);
  const showJson = JSON.stringify(shown.body);

  // 3. The bare route, on a SQLite file holding the same Show Cluster answer for every id.
  const bareFile = join(dataDir, 'bare.sqlite');
  const db = new SQLite(bareFile);
  db.exec('CREATE TABLE clusters (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
  const put = db.prepare('INSERT INTO clusters (id, body) VALUES (?, ?)');
  db.transaction(() => {
    for (const id of ids) put.run(id, showJson.replaceAll(ids[0], id));
  })();
  db.close();
  const bare = await startBare(bareFile);

  // 100 clusters, in turn, for Show (so no answer can come from one hot row only).
  const some = ids.slice(0, 100);
  const signed = (path: string) => ({ method: 'GET' as const, path, headers: { host: `127.0.0.1:${port}`, ...svc.client.headers('GET', `http://127.0.0.1:${port}${path}`) } });
  const svcPid = svc.child.pid!;
  const all: Array<Target & { key: string }> = [
    { key: 'bare', name: 'bare route', port: bare.port, pid: bare.child.pid!, goal: 'reference', requests: () => some.map((id) => ({ method: 'GET', path: `/v1/clusters/${id}` })) },
    { key: 'healthz', pid: svcPid, name: '/healthz', port, goal: '', requests: () => [{ method: 'GET', path: '/healthz' }] },
    { key: 'show', pid: svcPid, name: 'Show Cluster', port, goal: '>= 0.5x bare, p99 <= 5 ms', requests: () => some.map((id) => signed(`/v1/clusters/${id}`)) },
    { key: 'list', pid: svcPid, name: 'List Clusters (20)', port, goal: 'p99 <= 10 ms', requests: () => [signed('/v1/clusters?size=20&page=0')] },
    { key: 'openapi', pid: svcPid, name: '/openapi.json', port, goal: 'bytes prepared once', requests: () => [{ method: 'GET', path: '/openapi.json' }] },
  ];
  const targets = all.filter((t) => t.key === 'bare' || o.only.length === 0 || o.only.includes(t.key));

  const listed = await svc.client.get('/v1/clusters?size=20&page=0');
  console.log(
    `Cache Store API bench: ${o.clusters} clusters in the store (List count ${listed.body.count}), ${o.connections} connections, ` +
      `${o.seconds} s per target, ${o.rounds} rounds after a warm-up; Show Cluster answer ${showJson.length} bytes; ` +
      `service pid ${svc.child.pid} (node + tsx, src/main.ts${o.profileDir ? ', CPU profiled' : ''}), bare route pid ${bare.child.pid}`,
  );

  // 4. Warm-up (JIT, caches), then the rounds, each target in turn.
  for (const t of targets) await load(t, o.connections, 2);
  const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= o.rounds; round++) {
    for (const t of targets) {
      const r = await load(t, o.connections, o.seconds);
      runs.get(t.name)!.push(r);
      console.log(
        `  round ${round}  ${t.name.padEnd(20)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${String(r.p99).padStart(3)} ms  ${r.cpuUs.toFixed(0).padStart(5)} µs CPU/answer${r.bad ? `  (${r.bad} non-2xx/errors!)` : ''}`,
      );
    }
  }

  // 5. Medians, and ratios to the bare route of the same round.
  const bareRuns = runs.get('bare route')!;
  // CPU per answer is the figure a loaded machine disturbs least (the server's own work, not the
  // time it waited for a core): its ratio tells the throughput ratio a quiet machine would show.
  console.log(`\n${'target'.padEnd(20)} ${'req/s'.padStart(7)} ${'p99 ms'.padStart(7)} ${'x bare'.padStart(7)} ${'µs CPU'.padStart(7)} ${'bare/CPU'.padStart(8)}  goal`);
  for (const t of targets) {
    const rs = runs.get(t.name)!;
    const ratio = median(rs.map((r, i) => r.rps / bareRuns[i].rps));
    const cpuRatio = median(rs.map((r, i) => (r.cpuUs ? bareRuns[i].cpuUs / r.cpuUs : 0)));
    console.log(
      `${t.name.padEnd(20)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(7)} ${median(rs.map((r) => r.p99)).toFixed(0).padStart(7)} ${ratio.toFixed(2).padStart(7)} ${median(rs.map((r) => r.cpuUs)).toFixed(0).padStart(7)} ${cpuRatio.toFixed(2).padStart(8)}  ${t.goal}`,
    );
  }
  const bad = [...runs.values()].flat().reduce((a, r) => a + r.bad, 0);
  if (bad > 0) console.log(`\nWARNING: ${bad} answers were not 2xx (or failed): the figures above are not comparable.`);

  if (o.profileDir) {
    /** Signals the profiler in the service and waits for its `@@profile <what>` line. */
    const toggle = async (): Promise<string> => {
      const from = svc.output().length;
      svc.child.kill('SIGUSR2');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const m = /@@profile (.*)\n/.exec(svc.output().slice(from));
        if (m) return m[1];
        if (Date.now() > deadline) throw new Error('the service did not answer the profiler signal');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    for (const t of targets.filter((x) => x.key === 'show' || x.key === 'list')) {
      await toggle();
      await load(t, o.connections, o.seconds);
      summarizeProfile(await toggle(), t.name);
    }
  }
}

if (process.argv[2] === '--serve-bare') {
  await serveBare(process.argv[3], Number(process.argv[4]));
} else {
  try {
    await main();
  } finally {
    await cleanup();
  }
}
