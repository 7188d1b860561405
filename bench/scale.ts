// npm run bench:scale -- N [--standalone] [--engine redis|valkey] [--window S] [--concurrency C]
//                         [--requests R] [--cpu-prof DIR] [--skip-faults]
//
// What the service costs at rest with N HA clusters (replica_count 1: 2 data nodes and 3
// Sentinels each), and optionally N standalone ones, and what the watching still buys at that
// size. The service runs as a separate process (node + tsx on src/main.ts, its own temp data dir
// and loopback /16, log level silent, every other setting its default unless exported as
// CACHESTORE_*), so its CPU figures are its own. It prints:
//   - the service's idle CPU over a fixed window (utime+stime from /proc/<pid>/stat), next to the
//     bare references measured over the same window: an idle node process (a timer once a second,
//     nothing else: what any node process costs) and the engines and Sentinels themselves (data
//     nodes and Sentinels apart), and how many +sdown/-sdown the Sentinels logged meanwhile (each
//     makes the service look at the cluster: on a saturated machine the idle window is not idle);
//   - its resident memory and JS heap after a full GC (bench/memory-probe.mjs), and per cluster
//     (minus what it held before the creates);
//   - how many engine and Sentinel processes run;
//   - List Clusters and Show Cluster p99 (sequential requests);
//   - one SIGKILL of a replica and one of the SENTINEL-group instance: time until Show Cluster
//     shows the instance not RUNNING, and until it is RUNNING again (healed);
//   - one unplanned failover: SIGKILL of a primary under a writer through Sentinel, to the first
//     write sent after its death that the new primary acknowledged.
// Figures are printed, never asserted. The service, every engine it started, the reference
// process and the temp dir are removed at the end, also on error or Ctrl-C.
// --cpu-prof DIR writes a CPU profile of the service over the idle window into DIR (bench/cpu-prof.mjs).
import SQLite from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kysely, SqliteDialect } from 'kysely';
import { signal } from '../src/drivers/local/processes.js';
import type { Database } from '../src/store/schema.js';
import { SqlStore } from '../src/store/sql-store.js';
import { startChildService, type ChildService } from '../test/support/child-service.js';
import { killEnginesUnder } from '../test/support/engines.js';
import { createBody, engineVersions, haBody } from '../test/support/harness.js';
import { instancesOf, primaryOf } from '../test/support/observe.js';
import { sentinelTargetOf, startWriter, waitFor } from '../test/support/writer.js';

const USAGE = 'usage: npm run bench:scale -- N [--standalone] [--engine redis|valkey] [--window S=20] [--concurrency C=4] [--requests R=300] [--cpu-prof DIR] [--skip-faults]';
const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    standalone: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'redis' },
    window: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '4' },
    requests: { type: 'string', default: '300' },
    'cpu-prof': { type: 'string' },
    'skip-faults': { type: 'boolean', default: false },
  },
});
const N = Number(positionals[0]);
const windowS = Number(v.window);
const concurrency = Number(v.concurrency);
const requests = Number(v.requests);
if (!Number.isInteger(N) || N < 1 || !(windowS > 0) || !(concurrency >= 1) || !(requests >= 1) || (v.engine !== 'redis' && v.engine !== 'valkey')) {
  console.error(USAGE);
  process.exit(2);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const KEYS = { accessKey: 'scale-access-key', secretKey: 'scale-secret-key' };
const ACCOUNT_ID = 'cccccccccccccccccccccccccccccccc';
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux for every arch we run on). */
const HZ = 100;

/** utime + stime of a process, in clock ticks; 0 when it is gone. */
async function ticks(pid: number): Promise<number> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
const loadavg = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
function letters(i: number): string {
  let s = '';
  for (let k = 0; k < 4; k++, i = Math.floor(i / 26)) s = String.fromCharCode(97 + (i % 26)) + s;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Clean-up, once, whichever comes first: the end, an error, or a signal.

const run: { dataDir?: string; svc?: ChildService; reference?: ChildProcess; store?: SqlStore } = {};
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await run.store?.close().catch(() => undefined);
    run.reference?.kill('SIGKILL');
    if (run.svc) {
      const t = setTimeout(() => void run.svc!.kill('SIGKILL'), 30_000);
      await run.svc.kill('SIGTERM');
      clearTimeout(t);
    }
    if (run.dataDir) {
      const killed = await killEnginesUnder(run.dataDir).catch(() => 0);
      // A last sweep for any engine still working under the data dir (one whose node dir is gone).
      for (const pid of await pidsUnder(run.dataDir)) signal(pid, 'SIGKILL');
      await rm(run.dataDir, { recursive: true, force: true });
      console.log(`cleanup: service stopped, ${killed} engine process(es) killed, ${run.dataDir} removed`);
    }
  })();
  return cleaning;
}
// `on`, not `once`: a Ctrl-C reaches this process twice (from the terminal and relayed by tsx's
// parent), and with `once` the second one killed it halfway through the clean-up, leaving the
// engines running. Every signal now waits for the one clean-up.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void cleanup().finally(() => process.exit(130)));

/** Live processes whose working directory lies under `dir` (engines change into their data dir). */
async function pidsUnder(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!(await readlink(`/proc/${name}/cwd`)).startsWith(`${dir}/`)) continue;
      const s = await readFile(`/proc/${name}/stat`, 'utf8');
      if (s.slice(s.lastIndexOf(')') + 2)[0] !== 'Z') out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * How many times the Sentinels have logged a node as down or up again (+sdown / -sdown): on a
 * saturated machine they miss each other's pings, and each such event has the service look at
 * the cluster, which is work it was told to do rather than idle cost.
 */
async function sdownLines(): Promise<number> {
  const dir = join(run.dataDir!, 'engines');
  let n = 0;
  for (const node of await readdir(dir).catch(() => [] as string[])) {
    if (!node.endsWith('-sentinel')) continue;
    const text = await readFile(join(dir, node, 'engine.log'), 'utf8').catch(() => '');
    n += text.match(/ [+-]sdown /g)?.length ?? 0;
  }
  return n;
}

/** The pid of a node's engine, from the pid file the engine writes in its node dir. */
function pidOf(nodeId: string): number {
  const pid = Number(readFileSync(join(run.dataDir!, 'engines', nodeId, 'engine.pid'), 'utf8').trim());
  if (!(pid > 0) || !existsSync(`/proc/${pid}`)) throw new Error(`node ${nodeId} has no live engine`);
  return pid;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  run.dataDir = await mkdtemp(join(tmpdir(), 'cachestore-scale-'));
  const subnet = `127.${230 + (process.pid % 20)}.0.0/16`;
  const passed = Object.fromEntries(Object.entries(process.env).filter(([k, x]) => k.startsWith('CACHESTORE_') && x !== undefined) as Array<[string, string]>);
  const env: Record<string, string> = {
    ...passed,
    CACHESTORE_DATA_DIR: run.dataDir,
    CACHESTORE_SUBNETS: `local-subnet=${subnet}`,
    CACHESTORE_LOG_LEVEL: 'silent',
    CACHESTORE_ACCOUNT_ID: ACCOUNT_ID,
    // memory-probe.mjs: settled memory figures on request. node refuses --cpu-prof in
    // NODE_OPTIONS: a preloaded file profiles the idle window instead.
    NODE_OPTIONS: [`--import=${new URL('./memory-probe.mjs', import.meta.url).href}`, ...(v['cpu-prof'] ? [`--import=${new URL('./cpu-prof.mjs', import.meta.url).href}`] : [])].join(' '),
    ...(v['cpu-prof'] ? { CACHESTORE_BENCH_PROF_DIR: resolve(v['cpu-prof']) } : {}),
  };
  delete env.CACHESTORE_DATABASE_URL;
  const settings = Object.entries(passed).filter(([k]) => k !== 'CACHESTORE_DATABASE_URL').map(([k, x]) => `${k}=${x}`);
  const svc = await startChildService(env, KEYS);
  run.svc = svc;
  const pid = svc.child.pid!;
  const client = svc.client;
  const sqlite = new SQLite(join(run.dataDir, 'cachestore.db'), { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  run.store = new SqlStore(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
  const product = v.engine === 'redis' ? 'Redis' : 'Valkey';
  const engine = (await engineVersions(client)).find((e) => e.product_image_type.startsWith(product));
  if (!engine) throw new Error(`no ${product} engine installed`);
  console.log(`bench:scale: ${N} HA cluster(s)${v.standalone ? ` + ${N} standalone` : ''}, ${engine.name}, service pid ${pid} (node + tsx, src/main.ts), ` +
    `settings other than the defaults: ${settings.join(' ') || 'none'}; load average ${await loadavg()} on ${(await readFile('/proc/cpuinfo', 'utf8')).match(/^processor/gm)!.length} cores`);
  await sleep(2000);
  /** RSS and heap in use after a full GC in the service (bench/memory-probe.mjs), MB. */
  const memory = async () => {
    const from = svc.output().length;
    svc.child.kill('SIGWINCH');
    return JSON.parse(await waitFor('the memory figures', async () => /@@memory (\{.*\})\n/.exec(svc.output().slice(from))?.[1], 30_000)) as { rss: number; heapUsed: number };
  };
  const mem0 = await memory();

  // Creates, `concurrency` at a time.
  const ids: string[] = [];
  const bodies = [
    ...Array.from({ length: N }, (_, i) => haBody(engine, 1, { name: `ha${letters(i)}` })),
    ...(v.standalone ? Array.from({ length: N }, (_, i) => createBody(engine, { name: `sa${letters(i)}` })) : []),
  ];
  const t0 = Date.now();
  let next = 0;
  const failed: string[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const r = await client.post('/v1/clusters', body);
      if (r.status !== 202) throw new Error(`Create Cluster answered ${r.status}: ${JSON.stringify(r.body)}`);
      const state = await client.waitRequest(r.body.request_id, 600_000); // minutes on a machine at load 20-30
      if (state === 'COMPLETED') ids.push(r.body.resource.id);
      else {
        // A create can fail on a machine at load 40 (an engine not ready in time): counted, left out.
        failed.push(`${(body as { name: string }).name} ended ${state}: ${(await client.get(`/v1/requests/${r.body.request_id}/details`)).body?.error}`);
        console.log(`  ! ${failed[failed.length - 1]}`);
        if (failed.length > Math.max(3, bodies.length / 10)) throw new Error(`${failed.length} creates failed; stopping`);
      }
      if (ids.length % 25 === 0) console.log(`  ... ${ids.length}/${bodies.length} created after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }));
  console.log(`created ${ids.length} clusters in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed.length ? ` (${failed.length} creates failed and are left out; their terminate is not waited for)` : ''}`);
  for (const f of failed) console.log(`  failed: ${f}`);
  const settled = async () => {
    for (const id of ids) {
      const s = (await client.get(`/v1/clusters/${id}`)).body;
      if (s.service_state !== 'RUNNING' || instancesOf(s).some((i) => i.service_state !== 'RUNNING')) return false;
    }
    return true;
  };
  await waitFor('every cluster and instance RUNNING', settled, 120_000, 1000).catch(async (err) => {
    for (const id of ids) {
      const s = (await client.get(`/v1/clusters/${id}`)).body;
      const off = instancesOf(s).filter((i) => i.service_state !== 'RUNNING');
      if (s.service_state === 'RUNNING' && off.length === 0) continue;
      const ev = (await client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: { at: string; message: string }) => `${e.at} ${e.message}`);
      console.error(`cluster ${s.name} ${s.service_state}: ${off.map((i) => `${i.name} ${i.role_type} ${i.service_state}`).join(', ')}; events:\n  ${ev.slice(-8).join('\n  ')}`);
    }
    throw err;
  });
  // Sentinels find each other and the replicas within a few hellos; let that and any reconcile settle.
  await sleep(5000);

  // Idle: nothing is asked of the service during the window.
  const engines = await pidsUnder(run.dataDir);
  // Sentinels name themselves in their process title ("... [sentinel] cachestore:<node>").
  const sentinels = new Set((await Promise.all(engines.map(async (p) => ((await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).includes('[sentinel]') ? p : 0)))).filter(Boolean));
  const engineTicks = async () => {
    const t = await Promise.all(engines.map(async (p) => [p, await ticks(p)] as const));
    return { data: t.filter(([p]) => !sentinels.has(p)).reduce((a, [, x]) => a + x, 0), sentinel: t.filter(([p]) => sentinels.has(p)).reduce((a, [, x]) => a + x, 0) };
  };
  const reference = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  run.reference = reference;
  await sleep(500);
  const load0 = await loadavg();
  const sdown0 = await sdownLines();
  const before = { svc: await ticks(pid), ref: await ticks(reference.pid!), eng: await engineTicks() };
  const w0 = Date.now();
  if (v['cpu-prof']) svc.child.kill('SIGUSR2'); // starts the profile
  await sleep(windowS * 1000);
  const wall = (Date.now() - w0) / 1000;
  const after = { svc: await ticks(pid), ref: await ticks(reference.pid!), eng: await engineTicks() };
  const sdowns = (await sdownLines()) - sdown0;
  reference.kill('SIGKILL');
  run.reference = undefined;
  if (v['cpu-prof']) {
    const from = svc.output().length;
    svc.child.kill('SIGUSR2'); // writes it
    console.log(`CPU profile of the idle window: ${(await waitFor('the profile', async () => /@@profile (.*)\n/.exec(svc.output().slice(from))?.[1], 30_000))}`);
  }
  const cpu = (a: number, b: number) => ((b - a) / HZ / wall) * 100;
  const svcCpu = cpu(before.svc, after.svc);
  const refCpu = cpu(before.ref, after.ref);
  const dataCpu = cpu(before.eng.data, after.eng.data);
  const sentinelCpu = cpu(before.eng.sentinel, after.eng.sentinel);
  const mem = await memory();

  // Show and List at this size.
  const show: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < requests; i++) {
    let t = performance.now();
    const s = await client.get(`/v1/clusters/${ids[i % ids.length]}`);
    show.push(performance.now() - t);
    if (s.status !== 200) throw new Error(`Show Cluster answered ${s.status}`);
    t = performance.now();
    const l = await client.get('/v1/clusters');
    list.push(performance.now() - t);
    if (l.status !== 200) throw new Error(`List Clusters answered ${l.status}`);
  }

  console.log('');
  console.log(`load average at the window's start ${load0}, after it ${await loadavg()}`);
  console.log(`idle CPU over ${wall.toFixed(1)} s, % of one core:`);
  console.log(`  service                          ${svcCpu.toFixed(2)} %  (${((svcCpu / ids.length) * 1000).toFixed(1)} milli-% per cluster; ` +
    `Sentinels logged ${sdowns} +sdown/-sdown meanwhile, each a look at its cluster${sdowns > 0 ? ': the machine is too slow for their pings' : ''})`);
  console.log(`  bare reference: idle node        ${refCpu.toFixed(2)} %  (service / reference: ${refCpu > 0 ? (svcCpu / refCpu).toFixed(1) : 'n/a (reference used no tick)'})`);
  const each = (c: number, n: number) => (n > 0 ? `, ${(c / n).toFixed(2)} % each` : '');
  console.log(`  bare reference: the ${engines.length} engines and Sentinels themselves  ${(dataCpu + sentinelCpu).toFixed(1)} %  ` +
    `(${engines.length - sentinels.size} data nodes ${dataCpu.toFixed(1)} %${each(dataCpu, engines.length - sentinels.size)}; ${sentinels.size} Sentinels ${sentinelCpu.toFixed(1)} %${each(sentinelCpu, sentinels.size)})`);
  const perCluster = (a: number, b: number) => `${(((b - a) / ids.length) * 1024).toFixed(0)} kB per cluster`;
  console.log(`service memory after a full GC: RSS ${mem.rss.toFixed(0)} MB (${mem0.rss.toFixed(0)} MB before the creates: ${perCluster(mem0.rss, mem.rss)}), ` +
    `JS heap in use ${mem.heapUsed.toFixed(1)} MB (${mem0.heapUsed.toFixed(1)} MB before: ${perCluster(mem0.heapUsed, mem.heapUsed)})`);
  console.log(`engine and Sentinel processes: ${engines.length}`);
  console.log(`Show Cluster  p50 ${pct(show, 50).toFixed(1)} ms  p99 ${pct(show, 99).toFixed(1)} ms  (${requests} sequential requests)`);
  console.log(`List Clusters p50 ${pct(list, 50).toFixed(1)} ms  p99 ${pct(list, 99).toFixed(1)} ms  (default page of 20)`);
  if (v['skip-faults']) return;

  // Faults on one HA cluster.
  let haId = '';
  for (const id of ids) if ((await client.get(`/v1/clusters/${id}`)).body.ha_enabled) haId = id;
  const detail = (await run.store.clusterDetail(null, haId))!;
  const nodeOf = (name: string) => detail.instances.find((i) => i.name === name)!.id;
  const showOf = async () => (await client.get(`/v1/clusters/${haId}`)).body;
  const stateOf = async (name: string) => instancesOf(await showOf()).find((i) => i.name === name)!.service_state;
  const healthy = () => waitFor('the cluster healthy', async () => {
    const s = await showOf();
    return s.service_state === 'RUNNING' && instancesOf(s).every((i) => i.service_state === 'RUNNING') ? s : undefined;
  }, 120_000, 50);
  const killAndTime = async (what: string, name: string) => {
    const pid = pidOf(nodeOf(name));
    const t = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(`${what} not RUNNING`, async () => (await stateOf(name)) !== 'RUNNING', 60_000, 10);
    const seen = Date.now() - t;
    await waitFor(`${what} RUNNING again`, async () => (await stateOf(name)) === 'RUNNING', 120_000, 10);
    const back = Date.now() - t;
    console.log(`SIGKILL of ${what}: not RUNNING in Show Cluster after ${seen} ms, RUNNING again after ${back} ms`);
    await healthy();
  };
  let s = await healthy();
  await killAndTime('a replica', instancesOf(s).find((i) => i.role_type === 'REPLICA')!.name);
  await killAndTime('the SENTINEL-group instance', instancesOf(s).find((i) => i.role_type === 'SENTINEL')!.name);

  s = await healthy();
  const w = startWriter(sentinelTargetOf(s), 'scale');
  await waitFor('writes', async () => w.ackedCount() > 200, 30_000);
  const primary = primaryOf(s)!;
  const ppid = pidOf(nodeOf(primary.name));
  const killedAt = Date.now();
  process.kill(ppid, 'SIGKILL');
  while (existsSync(`/proc/${ppid}`) && !readFileSync(`/proc/${ppid}/stat`, 'utf8').includes(') Z')) await sleep(1);
  const deadAt = Date.now();
  await waitFor('a write on the new primary', async () => w.lastAckAt() > deadAt, 30_000, 5);
  const r = await w.stop();
  const first = r.sentAt.findIndex((t) => t > deadAt);
  console.log(`SIGKILL of the primary under writes: first write acknowledged by the new primary after ${r.ackedAt[first] - killedAt} ms`);
  await healthy();
}

main()
  .then(() => 0, (err) => {
    console.error(err instanceof Error ? err.stack : err);
    const out = run.svc?.output().trim();
    if (out) console.error(`the service printed (last 2000 characters):\n${out.slice(-2000)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  });
