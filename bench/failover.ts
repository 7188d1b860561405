// npm run bench:failover -- [runs=3] [--engine redis|valkey] [--sentinel-only]
// For each engine: HA cluster (primary, 2 replicas, Sentinels) create time; then over several
// runs, the unplanned failover time (primary SIGKILL to the first write acknowledged by the new
// primary), the switchover write pause (longest gap between acknowledged writes, as the client
// saw it, and as the service measured it), and acknowledged writes lost in each case.
// Prints figures beside the targets; asserts nothing.
import { enginePids } from '../test/support/engines.js';
import { haBody, type Harness } from '../test/support/harness.js';
import { median, perEngine } from './per-engine.js';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { probeReplication, sentinelMaster } from '../src/engines/replication.js';
import { missingKeys, startWriter, waitFor, type SentinelTarget } from '../test/support/writer.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { engine: { type: 'string' }, 'sentinel-only': { type: 'boolean', default: false } } });
const runs = Number(positionals[0] ?? 3);
const only = values.engine;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run bench:failover -- [runs=3] [--engine redis|valkey] [--sentinel-only]');
  process.exit(2);
}
/**
 * What this run sets beside the service's defaults. --sentinel-only turns the primary watch off,
 * so failover is Sentinel's own detection and agreement (the path the README times at ~3.2 s).
 */
const settings: Record<string, string> = {
  CACHESTORE_RECONCILE_INTERVAL_MS: '500',
  CACHESTORE_HEAL_AFTER_MS: '1000',
  ...(values['sentinel-only'] ? { CACHESTORE_PRIMARY_WATCH_MS: '0' } : {}),
  // The service's defaults unless the caller sets them, e.g. to compare timings.
  ...Object.fromEntries(['CACHESTORE_SENTINEL_DOWN_AFTER_MS', 'CACHESTORE_SENTINEL_FAILOVER_TIMEOUT_MS', 'CACHESTORE_PRIMARY_WATCH_MS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]!])),
};
const PASSWORD = 'Secr3t!pass';


async function show(h: Harness, id: string) {
  return (await h.client.get(`/v1/clusters/${id}`)).body;
}
const insts = (b: any): any[] => b.instance_groups.flatMap((g: any) => g.instances);
const target = (b: any): SentinelTarget => ({ sentinels: insts(b).map((i) => ({ host: i.service_ip_address, port: 26378 })), name: b.name, password: PASSWORD });

async function healthy(h: Harness, id: string) {
  return waitFor('all instances RUNNING', async () => {
    const b = await show(h, id);
    return b.service_state === 'RUNNING' && insts(b).every((i) => i.service_state === 'RUNNING') && insts(b).filter((i) => i.role_type === 'MASTER').length === 1 ? b : undefined;
  }, 60_000, 100);
}

async function main() {
  const rows: string[] = [];
  console.log(`bench:failover, ${runs} run(s) per engine; settings other than the defaults: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  await perEngine(settings, only, async (h, engine) => {
    const creates: number[] = [];
    const failovers: number[] = [];
    const sentinelSwitch: number[] = [];
    const failoverLost: number[] = [];
    const pausesClient: number[] = [];
    const pausesServer: number[] = [];
    const switchLost: number[] = [];
    for (let run = 0; run < runs; run++) {
      const name = `bench${engine.product_image_type[0] === 'R' ? 'r' : 'v'}${'abcdefghij'[run % 10]}`;
      const t0 = Date.now();
      const c = await h.client.post('/v1/clusters', haBody(engine, 2, { name }));
      if (c.status !== 202) throw new Error(JSON.stringify(c.body));
      const id = c.body.resource.id;
      await h.client.waitState(id, 'RUNNING', 60_000);
      creates.push(Date.now() - t0);
      let b = await show(h, id);

      // Planned switchover under write load.
      let w = startWriter(target(b), `sw${run}`);
      await waitFor('writes', async () => w.ackedCount() > 500);
      const replica = insts(b).find((i) => i.role_type === 'REPLICA');
      const sw = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
      const swStart = Date.now();
      await h.client.waitRequest(sw.body.request_id, 60_000);
      const swEnd = Date.now();
      const n = w.ackedCount();
      await waitFor('writes after switchover', async () => w.ackedCount() > n + 500);
      let r = await w.stop();
      let gap = 0;
      for (let i = 1; i < r.ackedAt.length; i++) {
        if (r.ackedAt[i] >= swStart && r.ackedAt[i - 1] <= swEnd) gap = Math.max(gap, r.ackedAt[i] - r.ackedAt[i - 1]);
      }
      pausesClient.push(gap);
      const ev = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message).join('\n');
      pausesServer.push(Number(/writes paused (\d+) ms/.exec(ev)?.[1] ?? NaN));
      b = await show(h, id);
      switchLost.push((await missingKeys(target(b), r.acked)).length);

      // Unplanned failover: SIGKILL the primary while writing.
      w = startWriter(target(b), `fo${run}`);
      await waitFor('writes', async () => w.ackedCount() > 500);
      const primary = insts(b).find((i) => i.role_type === 'MASTER');
      const detail = (await h.service.store.clusterDetail(null, id))!;
      const pids = await enginePids(detail.instances.find((i) => i.name === primary.name)!.id);
      if (process.env.BENCH_DEBUG) {
        const roles = await Promise.all(insts(b).filter((i) => i.role_type !== 'SENTINEL').map(async (i) => `${i.name}/${i.role_type}/${(await probeReplication({ host: i.service_ip_address, port: 6378, password: PASSWORD }))?.role}`));
        console.log(`run ${run}: killing ${primary.name} pids ${pids.join(',')}; roles ${roles.join(' ')}`);
      }
      const killedAt = Date.now();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      // An ack that arrives after the primary is certainly dead came from the new primary.
      while (pids.some((pid) => existsSync(`/proc/${pid}/cmdline`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'))) await new Promise((res) => setTimeout(res, 1));
      const deadAt = Date.now();
      // When the Sentinels name another primary, seen from outside the client.
      let sentinelsAt = 0;
      const watch = (async () => {
        while (!sentinelsAt && Date.now() - killedAt < 30_000) {
          const m = await sentinelMaster({ host: insts(b)[0].service_ip_address, port: 26378, password: PASSWORD }, b.name);
          if (m && m.ip !== primary.service_ip_address) sentinelsAt = Date.now();
          else await new Promise((res) => setTimeout(res, 5));
        }
      })();
      try {
        await waitFor('writes on the new primary', async () => w.lastAckAt() > deadAt, 30_000, 5);
      } catch (err) {
        const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => `${e.at} ${e.message}`);
        console.error(`run ${run}: ${(err as Error).message}; cluster`, JSON.stringify(insts(await show(h, id)).map((i) => [i.name, i.role_type, i.service_state])), '\n' + events.slice(-12).join('\n'));
        throw err;
      }
      await watch;
      sentinelSwitch.push(sentinelsAt - killedAt);
      const m = w.ackedCount();
      await waitFor('more writes', async () => w.ackedCount() > m + 500);
      r = await w.stop();
      // The first write sent after the primary was dead that the cluster acknowledged (a reply
      // the old primary sent just before dying may be read a moment later: not counted).
      const first = r.sentAt.findIndex((t) => t > deadAt);
      failovers.push(r.ackedAt[first] - killedAt);
      b = await healthy(h, id);
      failoverLost.push((await missingKeys(target(b), r.acked)).length);

      const d = await h.client.delete(`/v1/clusters/${id}`);
      await h.client.waitRequest(d.body.request_id, 60_000);
    }
    rows.push(
      [
        engine.name.padEnd(18),
        `create ${median(creates)} ms`,
        `failover ${median(failovers)} ms [${failovers.join(" ")}] (Sentinels switched at ${median(sentinelSwitch)} ms [${sentinelSwitch.join(" ")}]; lost ${failoverLost.join("/")})`,
        `switchover pause ${median(pausesClient)} ms client / ${median(pausesServer)} ms server (lost ${switchLost.join('/')})`,
      ].join(' | '),
    );
    console.log(rows[rows.length - 1]);
  });
  console.log(`\nmedians over ${runs} run(s) per engine`);
  console.log('targets: failover < 3000 ms; switchover pause < 1000 ms with 0 lost; HA create median < 2000 ms');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
