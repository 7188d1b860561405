// npm run bench:config -- [runs=5] [--engine redis|valkey]
// For each engine, on an HA cluster with 3 data nodes (primary, 2 replicas) and Sentinels:
// the time Set Parameter Values takes to apply a runtime parameter (request sent to COMPLETED,
// every data node changed), alternated with a bare CONFIG SET of the same parameter on one
// engine in the same run; then a restart-only parameter under write load: the rolling
// restart's time, the longest gap between acknowledged writes, and acknowledged writes lost.
// Prints figures; asserts nothing.
import { performance } from 'node:perf_hooks';
import { endpointOf } from '../src/drivers/driver.js';
import { configSet } from '../src/engines/parameters.js';
import { clusterNodes } from '../src/operations/nodes.js';
import { haBody, type Harness } from '../test/support/harness.js';
import { missingKeys, startWriter, waitFor, type SentinelTarget } from '../test/support/writer.js';
import { median, perEngine } from './per-engine.js';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const only = args.includes('--engine') ? args[args.indexOf('--engine') + 1] : undefined;
const PASSWORD = 'Secr3t!pass';

const insts = (b: any): any[] => b.instance_groups.flatMap((g: any) => g.instances);
const target = (b: any): SentinelTarget => ({ sentinels: insts(b).map((i) => ({ host: i.service_ip_address, port: 26378 })), name: b.name, password: PASSWORD });

async function values(h: Harness, id: string): Promise<Map<string, any>> {
  const r = await h.client.get(`/v1/clusters/${id}/parameters`);
  return new Map(r.body.contents.map((p: any) => [p.name, p]));
}

/** PUT to COMPLETED, in ms. */
async function setParameter(h: Harness, id: string, name: string, value: string): Promise<number> {
  const p = (await values(h, id)).get(name);
  const t0 = performance.now();
  const r = await h.client.request('PUT', `/v1/clusters/${id}/parameters`, { parameters: [{ id: p.id, old_value: p.applied_value, new_value: value }] });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  const state = await h.client.waitRequest(r.body.request_id, 120_000, 5);
  const ms = performance.now() - t0;
  if (state !== 'COMPLETED') throw new Error(`set ${name}: ${JSON.stringify((await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body)}`);
  return ms;
}

async function main() {
  await perEngine({ CACHESTORE_RECONCILE_INTERVAL_MS: '500' }, only, async (h, engine) => {
    const name = `benchcfg${engine.product_image_type[0] === 'R' ? 'r' : 'v'}`;
    const c = await h.client.post('/v1/clusters', haBody(engine, 2, { name }));
    if (c.status !== 202) throw new Error(JSON.stringify(c.body));
    const id = c.body.resource.id;
    await h.client.waitState(id, 'RUNNING', 60_000);
    const detail = (await h.service.store.clusterDetail(null, id))!;
    const primary = clusterNodes(detail, await h.service.store.clusterSecrets(id)).primary!;

    const api: number[] = [];
    const bare: number[] = [];
    for (let run = 0; run < runs; run++) {
      const hz = String(11 + run);
      api.push(await setParameter(h, id, 'hz', hz));
      const t0 = performance.now();
      await configSet(endpointOf(primary), { hz: String(40 + run) });
      bare.push(performance.now() - t0);
      // Back to what the service holds, so the next old_value matches.
      await configSet(endpointOf(primary), { hz });
    }

    const b = (await h.client.get(`/v1/clusters/${id}`)).body;
    const w = startWriter(target(b), 'cfg');
    await waitFor('writes', async () => w.ackedCount() > 500);
    const restartMs = await setParameter(h, id, 'tcp-backlog', '1024');
    const n = w.ackedCount();
    await waitFor('writes after the change', async () => w.ackedCount() > n + 500);
    const r = await w.stop();
    const lost = (await missingKeys(target(b), r.acked)).length;

    console.log(
      [
        engine.name.padEnd(18),
        `runtime parameter on 3 data nodes via the API ${median(api).toFixed(1)} ms [${api.map((x) => x.toFixed(1)).join(' ')}]`,
        `bare CONFIG SET on one engine ${median(bare).toFixed(2)} ms [${bare.map((x) => x.toFixed(2)).join(' ')}]`,
        `restart-only parameter (rolling restart) ${(restartMs / 1000).toFixed(2)} s, longest write gap ${r.longestGapMs} ms, ${r.acked.length} writes acknowledged, ${lost} lost`,
      ].join(' | '),
    );
    const d = await h.client.delete(`/v1/clusters/${id}`);
    await h.client.waitRequest(d.body.request_id, 60_000);
  });
  console.log(`\nmedians over ${runs} alternating run(s) per engine`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
