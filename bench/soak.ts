// npm run bench:soak -- [--clusters N=200] [--minutes M=10] [--writers W=min(20,N/2)] [--actors A=4]
//                       [--fault-every S=30]
//
// A soak: N clusters (every other one HA with one replica, engines alternating) under mixed
// operations and faults for M minutes, with writers keeping a ledger of acknowledged writes.
// Operations (A actors, each waits for its request to end): create, stop/start, restart,
// switchover, backup, restore (a new cluster from a backup), parameter changes, terminate (never
// of a cluster with a writer). Faults, one every S seconds in turn: SIGKILL of the service and a
// start on the same data dir, SIGKILL of a data node's engine, SIGKILL of a Sentinel.
// At the end it prints what held: acknowledged writes and how many the clusters lost, 5xx
// answers, requests ended (COMPLETED/FAILED) and stuck, and what runs or lies on disk that Show
// does not account for (test/support/cluster-truth.ts). Figures are printed, never asserted.
// The service, every engine it started and the temp dir are removed at the end, also on error
// or Ctrl-C.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { removeNftTable } from '../src/drivers/local/nftables.js';
import { signal } from '../src/drivers/local/processes.js';
import { startChildService, type ChildService } from '../test/support/child-service.js';
import { clusterProblems, engineProcessesUnder } from '../test/support/cluster-truth.js';
import { killEnginesUnder } from '../test/support/engines.js';
import { createBody, engineVersions, haBody } from '../test/support/harness.js';
import { instancesOf } from '../test/support/observe.js';
import { unmountVolumesUnder } from '../test/support/volumes.js';
import { missingKeys, sentinelTargetOf, startWriter, type Target, type Writer } from '../test/support/writer.js';
import { letters } from './store-fixture.js';

const USAGE = 'usage: npm run bench:soak -- [--clusters N=200] [--minutes M=10] [--writers W=min(20,N/2)] [--actors A=4] [--fault-every S=30]';
const { values: v } = parseArgs({
  options: {
    clusters: { type: 'string', default: '200' },
    minutes: { type: 'string', default: '10' },
    writers: { type: 'string' },
    actors: { type: 'string', default: '4' },
    'fault-every': { type: 'string', default: '30' },
  },
});
const N = Number(v.clusters);
const minutes = Number(v.minutes);
// Half the clusters at most carry a writer: the others may also be terminated and restored.
const W = v.writers === undefined ? Math.min(20, Math.floor(N / 2)) : Math.min(Number(v.writers), N);
const actors = Number(v.actors);
const faultEvery = Number(v['fault-every']);
if (!Number.isInteger(N) || N < 1 || !(minutes > 0) || !(W >= 0) || !(actors >= 1) || !(faultEvery > 0)) {
  console.error(USAGE);
  process.exit(2);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const KEYS = { accessKey: 'soak-access-key', secretKey: 'soak-secret-key' };
const PASSWORD = 'Secr3t!pass';
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];

// ---------------------------------------------------------------------------------------------
// Clean-up, once, whichever comes first: the end, an error, or a signal.

const run: { dataDir?: string; svc?: ChildService; writers: Writer[] } = { writers: [] };
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // A writer retries until its cluster answers: never wait long for one (its cluster may be stopped).
    await Promise.race([Promise.all(run.writers.map((w) => w.stop().catch(() => undefined))), sleep(3000)]);
    await run.svc?.kill('SIGKILL');
    if (run.dataDir) {
      const killed = await killEnginesUnder(run.dataDir).catch(() => 0);
      // Any engine still working under the data dir (one whose node dir is gone).
      for (const p of engineProcessesUnder(run.dataDir)) signal(p.pid, 'SIGKILL');
      await unmountVolumesUnder(run.dataDir).catch(() => undefined);
      await removeNftTable(run.dataDir).catch(() => undefined);
      await rm(run.dataDir, { recursive: true, force: true });
      console.log(`cleanup: service killed, ${killed} engine process(es) killed, ${run.dataDir} removed`);
    }
  })();
  return cleaning;
}
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal to the whole group, and
// relayed by tsx), and a second SIGINT with no handler would end it halfway through the clean-up,
// leaving engines running. The clean-up runs once however many arrive.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void cleanup().finally(() => process.exit(130)));

// ---------------------------------------------------------------------------------------------

interface Cluster {
  id: string;
  ha: boolean;
  /** A request of it is in flight (an actor waits for it). */
  busy: boolean;
  gone: boolean;
  writer?: { w: Writer; target: Target };
}

const counts = { http5xx: 0, http4xx: 0, unavailable: 0, accepted: 0, completed: 0, failed: 0, stuck: 0, faults: { service: 0, engine: 0, sentinel: 0 } };
const byOp = new Map<string, { completed: number; failed: number; stuck: number }>();
const failures = new Map<string, number>();
const servicePids: number[] = [];
const clusters: Cluster[] = [];

async function main(): Promise<void> {
  run.dataDir = await mkdtemp(join(tmpdir(), 'cachestore-soak-'));
  const subnet = `127.${220 + (process.pid % 10)}.0.0/16`;
  const env: Record<string, string> = {
    CACHESTORE_DATA_DIR: run.dataDir,
    CACHESTORE_SUBNETS: `local-subnet=${subnet}`,
    CACHESTORE_LOG_LEVEL: 'warn',
    CACHESTORE_BACKUP_SCHEDULE_MS: '0',
    CACHESTORE_WORKER_CONCURRENCY: '32',
  };
  const start = async () => {
    run.svc = await startChildService(env, KEYS, 300_000);
    servicePids.push(run.svc.child.pid!);
  };
  await start();
  const api = () => run.svc!.client;
  const versions = await engineVersions(api());
  const redis = versions.find((e) => e.product_image_type.startsWith('Redis'))!;
  const valkey = versions.find((e) => !e.product_image_type.startsWith('Redis'))!;
  console.log(`bench:soak: ${N} clusters, ${W} writers, ${actors} actors, a fault every ${faultEvery} s, ${minutes} min; ${(await import('node:os')).cpus().length} cores`);

  /** Sends a mutation; counts its answer; the request id when accepted. */
  const send = async (method: string, path: string, body?: unknown): Promise<{ requestId: string; resource: string } | undefined> => {
    let r;
    try {
      r = await api().request(method, path, body);
    } catch {
      counts.unavailable++;
      return undefined;
    }
    if (r.status >= 500) counts.http5xx++;
    else if (r.status >= 400) counts.http4xx++;
    if (r.status !== 202) return undefined;
    counts.accepted++;
    return { requestId: r.body.request_id, resource: r.body.resource?.id };
  };
  /** Waits for a request to end, through service restarts; 'STUCK' after `ms`. */
  const end = async (op: string, requestId: string, ms = 300_000): Promise<string> => {
    const deadline = Date.now() + ms;
    let state = 'STUCK';
    while (Date.now() < deadline) {
      const r = await api().get(`/v1/requests/${requestId}/details`).catch(() => undefined);
      if (r?.status === 200 && (r.body.state === 'COMPLETED' || r.body.state === 'FAILED')) {
        state = r.body.state;
        if (state === 'FAILED') failures.set(`${op}: ${String(r.body.error).slice(0, 120)}`, (failures.get(`${op}: ${String(r.body.error).slice(0, 120)}`) ?? 0) + 1);
        break;
      }
      await sleep(250);
    }
    const o = byOp.get(op) ?? { completed: 0, failed: 0, stuck: 0 };
    byOp.set(op, o);
    if (state === 'COMPLETED') (counts.completed++, o.completed++);
    else if (state === 'FAILED') (counts.failed++, o.failed++);
    else (counts.stuck++, o.stuck++);
    return state;
  };
  let made = 0;
  const create = async (): Promise<void> => {
    const i = made++;
    const ha = i % 2 === 1;
    const engine = i % 4 < 2 ? redis : valkey;
    const body = ha ? haBody(engine, 1, { name: `soak${letters(i)}` }) : createBody(engine, { name: `soak${letters(i)}` });
    const s = await send('POST', '/v1/clusters', body);
    if (!s) return;
    const c: Cluster = { id: s.resource, ha, busy: true, gone: false };
    clusters.push(c);
    c.gone = (await end('create', s.requestId)) !== 'COMPLETED';
    c.busy = false;
  };

  // The fleet, a few creates at a time.
  const t0 = Date.now();
  await Promise.all(Array.from({ length: Math.min(8, N) }, async () => {
    while (made < N) await create();
  }));
  console.log(`${clusters.filter((c) => !c.gone).length} clusters RUNNING after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  // Writers on the first W live clusters: through Sentinel for HA ones (they follow failovers).
  for (const c of clusters.filter((x) => !x.gone).slice(0, W)) {
    const show = (await api().get(`/v1/clusters/${c.id}`)).body;
    const target: Target = c.ha ? sentinelTargetOf(show) : { host: instancesOf(show)[0].service_ip_address, port: 6378, password: PASSWORD };
    const w = startWriter(target, `soak-${c.id}`);
    run.writers.push(w);
    c.writer = { w, target };
  }

  const until = Date.now() + minutes * 60_000;
  /** One operation on one idle cluster (or a create), start to end. */
  const act = async (): Promise<void> => {
    const live = clusters.filter((c) => !c.gone);
    if (live.length < N && Math.random() < 0.2) return create();
    const idle = live.filter((c) => !c.busy);
    if (idle.length === 0) return sleep(200);
    const c = pick(idle);
    c.busy = true;
    try {
      const show = (await api().get(`/v1/clusters/${c.id}`).catch(() => undefined))?.body;
      if (!show?.service_state) return;
      const state = show.service_state as string;
      let op: string;
      let s: { requestId: string; resource: string } | undefined;
      if (state === 'STOPPED' || state === 'ERROR') {
        op = 'start';
        s = await send('POST', `/v1/clusters/${c.id}/start`);
      } else if (state === 'RUNNING') {
        const ops = ['restart', 'stop', 'backup', 'parameters', ...(c.ha ? ['switchover'] : []), ...(c.writer ? [] : ['restore', 'terminate'])];
        op = pick(ops);
        if (op === 'restart' || op === 'stop') s = await send('POST', `/v1/clusters/${c.id}/${op}`);
        else if (op === 'backup') s = await send('POST', `/v1/clusters/${c.id}/backup-histories`);
        else if (op === 'terminate') s = await send('DELETE', `/v1/clusters/${c.id}`);
        else if (op === 'switchover') {
          const replica = instancesOf(show).find((i) => i.role_type === 'REPLICA');
          s = replica && (await send('POST', `/v1/clusters/${c.id}/switchover`, { switch_host_name: replica.name }));
        } else if (op === 'parameters') {
          const p = (await api().get(`/v1/clusters/${c.id}/parameters`)).body.contents.find((x: any) => x.name === 'hz');
          s = await send('PUT', `/v1/clusters/${c.id}/parameters`, { parameters: [{ id: p.id, old_value: p.applied_value, new_value: p.applied_value === '10' ? '20' : '10' }] });
        } else {
          const b = (await api().get(`/v1/clusters/${c.id}/backup-histories?limit=1000`)).body.contents?.find((x: any) => x.backup_state === 'COMPLETED');
          if (!b) {
            // Nothing to restore yet: a backup first.
            op = 'backup';
            s = await send('POST', `/v1/clusters/${c.id}/backup-histories`);
            if (s) await end(op, s.requestId);
            return;
          }
          const i = made++;
          s = await send('POST', `/v1/clusters/${c.id}/restore`, { name: `soak${letters(i)}`, instance_name_prefix: 'rst', server_type_name: show.instance_groups[0].server_type_name, backup_history_number: b.backup_history_number });
          if (s) {
            const r: Cluster = { id: s.resource, ha: false, busy: true, gone: false };
            clusters.push(r);
            r.gone = (await end('restore', s.requestId)) !== 'COMPLETED';
            r.ha = Boolean((await api().get(`/v1/clusters/${r.id}`).catch(() => undefined))?.body?.ha_enabled);
            r.busy = false;
            return;
          }
        }
      } else return;
      if (!s) return;
      const outcome = await end(op, s.requestId);
      if (op === 'terminate' && outcome === 'COMPLETED') c.gone = true;
    } finally {
      c.busy = false;
    }
  };
  const actorLoops = Array.from({ length: actors }, async () => {
    while (Date.now() < until) await act().catch((err) => console.log(`actor: ${(err as Error).message}`));
  });
  // Faults, in turn.
  const faultLoop = (async () => {
    for (let k = 0; Date.now() + faultEvery * 1000 < until; k++) {
      await sleep(faultEvery * 1000);
      const kind = (['service', 'engine', 'sentinel'] as const)[k % 3];
      if (kind === 'service') {
        await run.svc!.kill('SIGKILL');
        await start();
      } else {
        const procs = engineProcessesUnder(run.dataDir!).filter((p) => (kind === 'sentinel' ? p.addr.endsWith(':26378') : p.addr.endsWith(':6378')));
        if (procs.length === 0) continue;
        signal(pick(procs).pid, 'SIGKILL');
      }
      counts.faults[kind]++;
    }
  })();
  await Promise.all([...actorLoops, faultLoop]);
  console.log(`operations and faults ended after ${minutes} min; letting requests in flight end`);

  // Every cluster with a writer RUNNING again (a writer waits for its cluster: it would never
  // stop on a stopped one), then the writers stop and their ledgers are read.
  const ledger = await Promise.all(
    clusters.filter((c) => c.writer).map(async (c) => {
      let state = '';
      for (let i = 0; i < 20 && state !== 'RUNNING'; i++) {
        state = (await api().get(`/v1/clusters/${c.id}`).catch(() => undefined))?.body?.service_state ?? '';
        if (state === 'STOPPED' || state === 'ERROR') {
          const s = await send('POST', `/v1/clusters/${c.id}/start`);
          if (s) await end('start', s.requestId);
        } else if (state !== 'RUNNING') await sleep(3000);
      }
      if (state !== 'RUNNING') return { acked: c.writer!.w.ackedCount(), lost: -1, ha: c.ha };
      const r = await c.writer!.w.stop();
      const missing = await missingKeys(c.writer!.target, r.acked).catch(() => r.acked);
      return { acked: r.acked.length, lost: missing.length, ha: c.ha };
    }),
  );
  const unread = ledger.filter((l) => l.lost < 0).length;
  // Nothing in flight now but what is stuck: what runs and lies on disk, against Show.
  await sleep(2000);
  const problems = await clusterProblems(api(), run.dataDir!, clusters.map((c) => c.id), servicePids);

  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  console.log('\n--- what held ---');
  const read = ledger.filter((l) => l.lost >= 0);
  console.log(`acknowledged writes: ${sum(read.map((l) => l.acked))} on ${read.length} clusters; lost: ${sum(read.map((l) => l.lost))} ` +
    `(HA ${sum(read.filter((l) => l.ha).map((l) => l.lost))}, standalone ${sum(read.filter((l) => !l.ha).map((l) => l.lost))})` +
    (unread ? `; ${unread} cluster(s) with a writer never RUNNING again, not read` : ''));
  console.log(`HTTP: ${counts.accepted} accepted, ${counts.http4xx} 4xx (refusals: busy or wrong state), ${counts.http5xx} 5xx, ${counts.unavailable} while the service was down`);
  console.log(`requests: ${counts.completed} COMPLETED, ${counts.failed} FAILED, ${counts.stuck} stuck`);
  for (const [op, o] of [...byOp].sort()) console.log(`  ${op}: ${o.completed} completed, ${o.failed} failed, ${o.stuck} stuck`);
  for (const [why, n] of failures) console.log(`  FAILED ×${n}: ${why}`);
  console.log(`faults: ${counts.faults.service} service SIGKILLs, ${counts.faults.engine} engine SIGKILLs, ${counts.faults.sentinel} Sentinel SIGKILLs`);
  console.log(`clusters at the end: ${clusters.filter((c) => !c.gone).length} (${clusters.length} made in all)`);
  console.log(`orphans and untruths: ${problems.length}${problems.length ? `\n  ${problems.join('\n  ')}` : ''}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
