// npm run bench:partitions -- [runs=1] [--engine redis|valkey] [--unfenced]
// For each engine: an HA cluster (primary, 2 replicas, Sentinels), then the partition scenarios
// of README "Partitions and fencing" (test/support/partition-scenarios.ts) with nftables cuts
// between the nodes' addresses: replica isolated, Sentinel minority isolated, primary isolated
// while a client keeps writing to it, then healed. Prints each scenario's ledger: writes
// acknowledged, lost, and when the isolated primary acknowledged its last write after the cut.
// --unfenced sets min-replicas-to-write 0 on every data node behind the service's back, to show
// what the same cuts lose without the fence. Asserts nothing.
import { parseArgs } from 'node:util';
import { fenceBoundMs } from '../src/domain/fencing.js';
import { endpointOf } from '../src/drivers/driver.js';
import { configSet } from '../src/engines/parameters.js';
import { clusterNodes } from '../src/operations/nodes.js';
import { haBody } from '../test/support/harness.js';
import { describeLedger, primaryIsolated, replicaIsolated, sentinelMinority, type Ledger } from '../test/support/partition-scenarios.js';
import { partitions } from '../test/support/partitions.js';
import { perEngine } from './per-engine.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { engine: { type: 'string' }, unfenced: { type: 'boolean', default: false } } });
const runs = Number(positionals[0] ?? 1);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run bench:partitions -- [runs=1] [--engine redis|valkey] [--unfenced]');
  process.exit(2);
}

async function main() {
  console.log(`bench:partitions, ${runs} run(s) per engine, ${values.unfenced ? 'UNFENCED (min-replicas-to-write 0)' : `fenced (bound ${fenceBoundMs()} ms)`}`);
  const net = await partitions(`bench_partitions_${process.pid}`);
  try {
    await perEngine({ CACHESTORE_RECONCILE_INTERVAL_MS: '1000' }, values.engine, async (h, engine) => {
      const kind = engine.product_image_type.startsWith('Redis') ? 'redis' : 'valkey';
      for (let run = 0; run < runs; run++) {
        // Names are letters only.
        const tag = String.fromCharCode(97 + run);
        const r = await h.client.post('/v1/clusters', haBody(engine, 2, { name: `bp${kind}${tag}`, instance_name_prefix: `bp${kind[0]}${tag}` }));
        if (r.status !== 202 || (await h.client.waitRequest(r.body.request_id, 60_000)) !== 'COMPLETED') throw new Error(`create failed: ${JSON.stringify(r.body)}`);
        const id = r.body.resource.id as string;
        if (values.unfenced) {
          const detail = (await h.service.store.clusterDetail(null, id))!;
          for (const n of clusterNodes(detail, await h.service.store.clusterSecrets(id)).data) await configSet(endpointOf(n), { 'min-replicas-to-write': '0' });
        }
        const ledgers: Ledger[] = [
          await replicaIsolated(h, net, id, fenceBoundMs() + 1500),
          await sentinelMinority(h, net, id, 2500),
          await primaryIsolated(h, net, id, 1000),
        ];
        for (const l of ledgers) console.log(describeLedger(engine.name, l));
        const d = await h.client.delete(`/v1/clusters/${id}`);
        await h.client.waitRequest(d.body.request_id, 60_000);
      }
    });
  } finally {
    await net.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
