// npm run bench:backup -- [sizeMB=256] [runs=3] [--engine redis|valkey]
// Loads a standalone cluster with about sizeMB of incompressible data (1 KiB values), then per
// run: takes an on-demand backup and reads its phases from the cluster's events (snapshot, store,
// verification: the service's own timings, for information), then times here, from outside the
// service, the backup storage's copy (the same LocalBackupStorage.put the backup runs) and a plain
// `cp` of that same stored RDB on the same disk, alternated pair by pair, which is the comparison
// the target is about (storage copy >= 70% of cp's throughput); and, for reference, `cp` + fsync
// (the service syncs the backup during verification). Last, restores the backup into a new
// cluster, timed to RUNNING. Prints figures; asserts nothing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalBackupStorage } from '../src/backups/storage.js';
import { connectTo } from '../test/support/dataset.js';
import { createBody } from '../test/support/harness.js';
import { median, perEngine } from './per-engine.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { engine: { type: 'string' } } });
const sizeMb = Number(positionals[0] ?? 256);
const runs = Number(positionals[1] ?? 3);
const only = values.engine;
if (!(sizeMb > 0) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run bench:backup -- [sizeMB=256] [runs=3] [--engine redis|valkey]');
  process.exit(2);
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
/** Alternating storage-copy / cp pairs per run. */
const PAIRS = 10;

async function load(ip: string, mb: number): Promise<void> {
  const c = connectTo(ip);
  await c.connect();
  try {
    const keys = Math.ceil((mb * 1024 * 1024) / 1024);
    for (let start = 0; start < keys; start += 1000) {
      const p = c.pipeline();
      for (let i = start; i < Math.min(keys, start + 1000); i++) p.set(`bench:${i}`, randomBytes(1024));
      await p.exec();
    }
  } finally {
    c.disconnect();
  }
}

/** Milliseconds a command takes, by the wall clock. */
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  await fh.sync();
  await fh.close();
}

async function main() {
  const rows: string[] = [];
  await perEngine({ CACHESTORE_BACKUP_SCHEDULE_MS: '0' }, only, async (h, engine) => {
    const redis = engine.product_image_type.startsWith('Redis');
    // Memory for the dataset at 75% maxmemory, with room to spare.
    const type = `${redis ? 'redis' : 'css'}1v${sizeMb > 1500 ? '8m32' : sizeMb > 600 ? '4m16' : '2m8'}`;
    const group = { role_type: 'MASTER', server_type_name: type, block_storage_groups: [{ role_type: 'OS', size_gb: 104 }, { role_type: 'DATA', size_gb: 56 }], instances: [{ role_type: 'MASTER' }] };
    const name = redis ? 'benchredis' : 'benchvalkey';
    const c = await h.client.post('/v1/clusters', createBody(engine, { name, instance_groups: [group] }));
    if (c.status !== 202) throw new Error(JSON.stringify(c.body));
    const id = c.body.resource.id;
    await h.client.waitState(id, 'RUNNING', 60_000);
    const ip = (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups[0].instances[0].service_ip_address;
    const tLoad = performance.now();
    await load(ip, sizeMb);
    console.log(`${engine.name}: loaded ${sizeMb} MB in ${((performance.now() - tLoad) / 1000).toFixed(1)} s`);

    const r = { total: [] as number[], snapshot: [] as number[], store: [] as number[], storeMbps: [] as number[], verify: [] as number[], cpRest: [] as number[], putRest: [] as number[], restRatio: [] as number[], cpSync: [] as number[], restore: [] as number[], size: 0 };
    for (let run = 0; run < runs; run++) {
      execFileSync('sync');
      const t0 = Date.now();
      const b = await h.client.post(`/v1/clusters/${id}/backup-histories`);
      const state = await h.client.waitRequest(b.body.request_id, 30 * 60_000, 50);
      const total = Date.now() - t0;
      if (state !== 'COMPLETED') throw new Error(`backup ${state}: ${(await h.client.get(`/v1/requests/${b.body.request_id}/details`)).body.error}`);
      const number = b.body.resource.id;
      const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents as Array<{ at: string; message: string }>;
      const started = events.find((e) => e.message === 'backup started' && e.at >= new Date(t0 - 1000).toISOString());
      const snap = events.find((e) => e.message.startsWith(`backup ${number}: snapshot taken`))!;
      const stored = /stored: (\d+) bytes in ([\d.]+) ms/.exec(events.find((e) => e.message.startsWith(`backup ${number} stored`))!.message)!;
      const verified = /verified in ([\d.]+) ms/.exec(events.find((e) => e.message.startsWith(`backup ${number} completed`))!.message)!;
      const bytes = Number(stored[1]);
      r.size = bytes;
      r.total.push(total);
      r.snapshot.push(Date.parse(snap.at) - Date.parse(started?.at ?? new Date(t0).toISOString()));
      r.store.push(Number(stored[2]));
      r.storeMbps.push(mbps(bytes, Number(stored[2])));
      r.verify.push(Number(verified[1]));

      // The stored RDB: the storage's copy (storage.put, the same code) and cp, timed here, in
      // turns, so both copy the same file on the same disk under the same conditions.
      const file = join(h.config.backupDir, id, `${number}.rdb`);
      const copy = join(h.dataDir, 'plain-copy.rdb');
      const scratch = new LocalBackupStorage(join(h.dataDir, 'bench-storage'), join(h.dataDir, 'bench-wal-archive'));
      for (let i = 0; i < PAIRS; i++) {
        let cpMs = 0;
        let putMs = 0;
        const order = i % 2 === 0 ? ['put', 'cp'] : ['cp', 'put'];
        for (const way of order) {
          if (way === 'cp') cpMs = timed(() => execFileSync('cp', [file, copy]));
          else {
            const t = performance.now();
            await scratch.put('x/y.rdb', file);
            putMs = performance.now() - t;
          }
        }
        r.cpRest.push(cpMs);
        r.putRest.push(putMs);
        r.restRatio.push(cpMs / putMs);
        await rm(copy);
        await scratch.delete('x/y.rdb');
      }
      const t1 = performance.now();
      execFileSync('cp', [file, copy]);
      await fsyncFile(copy);
      r.cpSync.push(performance.now() - t1);
      await rm(copy);

      const t2 = Date.now();
      const rs = await h.client.post(`/v1/clusters/${id}/restore`, { name: `${name}r${'abcdefghij'[run % 10]}`, instance_name_prefix: 'rst', server_type_name: type, backup_history_number: number });
      if (rs.status !== 202) throw new Error(JSON.stringify(rs.body));
      if ((await h.client.waitRequest(rs.body.request_id, 30 * 60_000, 50)) !== 'COMPLETED') throw new Error('restore failed');
      r.restore.push(Date.now() - t2);
      const del = await h.client.delete(`/v1/clusters/${rs.body.resource.id}`);
      await h.client.waitRequest(del.body.request_id, 60_000);
      console.log(`  run ${run + 1}: backup ${total} ms (store ${Number(stored[2]).toFixed(0)} ms = ${mbps(bytes, Number(stored[2])).toFixed(0)} MB/s), storage copy / cp in turns ${(median(r.restRatio.slice(-PAIRS)) * 100).toFixed(0)}%, cp+fsync ${r.cpSync[run].toFixed(0)} ms, verify ${Number(verified[1]).toFixed(0)} ms, restore ${r.restore[run]} ms`);
    }
    const cpSyncMbps = mbps(r.size, median(r.cpSync));
    rows.push(
      `${engine.name}, RDB ${(r.size / 1e6).toFixed(1)} MB, medians of ${runs} run(s):`,
      `  backup end to end ${median(r.total)} ms (snapshot ${median(r.snapshot)} ms, store ${median(r.store).toFixed(0)} ms = ${median(r.storeMbps).toFixed(0)} MB/s by the service's own timing, verification ${median(r.verify).toFixed(0)} ms)`,
      `  storage copy vs cp, the same RDB, timed here in turns (${r.putRest.length} pairs): storage copy ${mbps(r.size, median(r.putRest)).toFixed(0)} MB/s, cp ${mbps(r.size, median(r.cpRest)).toFixed(0)} MB/s; median of per-pair ratios ${(median(r.restRatio) * 100).toFixed(0)}% (target >= 70%)`,
      `  for reference: cp + fsync ${cpSyncMbps.toFixed(0)} MB/s (the service's fsync runs during verification)`,
      `  verification ${median(r.verify).toFixed(0)} ms   restore to RUNNING ${median(r.restore)} ms`,
    );
  });
  console.log(`\nbench:backup, ${sizeMb} MB of 1 KiB random values`);
  for (const row of rows) console.log(row);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
