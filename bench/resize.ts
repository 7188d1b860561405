// npm run bench:resize -- [runs=3] [--engine redis|valkey]
// For each engine, on an HA cluster (primary, 1 replica, Sentinels) under write load through
// Sentinel, alternating in the same run: Set Server Type with an io-threads change (the rolling
// restart: request sent to COMPLETED, longest gap between acknowledged writes, acknowledged
// writes lost), a bare Switchover (the same figures), and Set Server Type changing maxmemory
// only (online CONFIG SET). Then, per engine, Set Block Storage Size and an allow-list change
// next to their bare kernel steps (bench/disk-and-allow-list.ts). Prints figures; asserts nothing.
// Run as root: data volumes are real (CACHESTORE_VOLUMES=auto) and the allow-lists are nftables.
import { performance } from 'node:perf_hooks';
import { haBody, type Harness } from '../test/support/harness.js';
import { missingKeys, startWriter, waitFor, type SentinelTarget } from '../test/support/writer.js';
import { median, perEngine } from './per-engine.js';
import { diskAndAllowList } from './disk-and-allow-list.js';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const only = args.includes('--engine') ? args[args.indexOf('--engine') + 1] : undefined;
const PASSWORD = 'Secr3t!pass';

const insts = (b: any): any[] => b.instance_groups.flatMap((g: any) => g.instances);
const target = (b: any): SentinelTarget => ({ sentinels: insts(b).map((i) => ({ host: i.service_ip_address, port: 26378 })), name: b.name, password: PASSWORD });

interface Figures {
  ms: number;
  gapMs: number;
  lost: number;
}

/** Runs `op` (which answers 202) under write load: time to COMPLETED, longest write gap, writes lost. */
async function underLoad(h: Harness, id: string, op: () => Promise<{ status: number; body: any }>): Promise<Figures> {
  const b = (await h.client.get(`/v1/clusters/${id}`)).body;
  const w = startWriter(target(b), `rz${Date.now()}`);
  await waitFor('writes', async () => w.ackedCount() > 300);
  const t0 = performance.now();
  const r = await op();
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  const state = await h.client.waitRequest(r.body.request_id, 120_000, 5);
  const ms = performance.now() - t0;
  if (state !== 'COMPLETED') throw new Error(JSON.stringify((await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body));
  const n = w.ackedCount();
  await waitFor('writes after', async () => w.ackedCount() > n + 300);
  const res = await w.stop();
  return { ms, gapMs: res.longestGapMs, lost: (await missingKeys(target(b), res.acked)).length };
}

function line(label: string, f: Figures[]): string {
  return `${label} ${(median(f.map((x) => x.ms)) / 1000).toFixed(2)} s, longest write gap ${median(f.map((x) => x.gapMs))} ms [${f.map((x) => x.gapMs).join(' ')}], lost ${f.reduce((s, x) => s + x.lost, 0)}`;
}

async function main() {
  await perEngine({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_VOLUMES: 'auto' }, only, async (h, engine) => {
    const redis = engine.product_image_type.startsWith('Redis');
    const t = (size: string) => `${redis ? 'redis' : 'css'}1v${size}`;
    const name = `benchrz${redis ? 'r' : 'v'}`;
    const c = await h.client.post('/v1/clusters', haBody(engine, 1, { name }));
    if (c.status !== 202) throw new Error(JSON.stringify(c.body));
    const id = c.body.resource.id;
    await h.client.waitState(id, 'RUNNING', 60_000);
    const groupId = (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups.find((g: any) => g.role_type === 'MASTER_REPLICA').id;
    const resize = (type: string) => () => h.client.post(`/v1/instance-groups/${groupId}/resize`, { server_type_name: type });

    const restart: Figures[] = [];
    const online: Figures[] = [];
    const bare: Figures[] = [];
    for (let run = 0; run < runs; run++) {
      // 1v1m2 (1 I/O thread) <-> 1v4m8 (2): io-threads changes each time.
      restart.push(await underLoad(h, id, resize(run % 2 === 0 ? t('4m8') : t('1m2'))));
      const b = (await h.client.get(`/v1/clusters/${id}`)).body;
      const replica = insts(b).find((i) => i.role_type === 'REPLICA').name;
      bare.push(await underLoad(h, id, () => h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: replica })));
      // 4m8 <-> 4m16, or 1m2 <-> 2m4: the same io-threads, maxmemory only.
      const now = run % 2 === 0 ? t('4m8') : t('1m2');
      const other = run % 2 === 0 ? t('4m16') : t('2m4');
      online.push(await underLoad(h, id, resize(other)));
      online.push(await underLoad(h, id, resize(now)));
    }
    console.log(
      [
        engine.name.padEnd(18),
        line('Set Server Type, io-threads changes (rolling restart)', restart),
        line('bare switchover', bare),
        line('Set Server Type, maxmemory only (online)', online),
      ].join(' | '),
    );
    const d = await h.client.delete(`/v1/clusters/${id}`);
    await h.client.waitRequest(d.body.request_id, 60_000);
    console.log([engine.name.padEnd(18), ...(await diskAndAllowList(h, engine, runs, redis ? 'r' : 'v'))].join(' | '));
  });
  console.log(`\nmedians over ${runs} alternating run(s) per engine`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
