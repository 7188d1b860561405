// The part-5 figures beside Set Server Type (bench/resize.ts runs them in the same pass):
// - Set Block Storage Size: request to COMPLETED for a growth of 8 GB on a standalone cluster's
//   volume, alternated with the bare steps of the same growth on a scratch volume of the same
//   size (truncate, losetup -c, xfs_growfs): the reference.
// - An allow-list change taking effect in the kernel: from Set Security Group Rules sent to the
//   first PONG a client bound to the newly allowed loopback address gets, alternated with a bare
//   `nft add element` of the same kind (a scratch table of the benchmark's own guarding another,
//   open cluster) timed the same way.
import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createBody, type Harness } from '../test/support/harness.js';
import { PASSWORD } from '../test/support/dataset.js';
import { median, type Engine } from './per-engine.js';

const exec = promisify(execFile);
const GiB = 1024 ** 3;

/** PONG from ip:port for a client bound to `source`, or null when nothing answers within `ms`. */
function quickProbe(source: string, ip: string, port: number, ms: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: ip, port, localAddress: source });
    let got = '';
    const end = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      done(v);
    };
    const t = setTimeout(() => end(false), ms);
    s.on('connect', () => s.write(`AUTH ${PASSWORD}\r\nPING\r\n`));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('+PONG')) end(true);
    });
    s.on('error', () => end(false));
  });
}

/** Milliseconds from `t0` until `source` gets PONG (fresh connections: a dropped SYN is retried only after 1 s). */
async function untilPong(t0: number, source: string, ip: string, port: number): Promise<number> {
  for (;;) {
    if (await quickProbe(source, ip, port, 100)) return performance.now() - t0;
    if (performance.now() - t0 > 30_000) throw new Error(`${source} never got PONG from ${ip}:${port}`);
  }
}

async function completed(h: Harness, r: { status: number; body: any }): Promise<void> {
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  const state = await h.client.waitRequest(r.body.request_id, 120_000, 5);
  if (state !== 'COMPLETED') throw new Error(JSON.stringify((await h.client.get(`/v1/requests/${r.body.request_id}/details`)).body));
}

const mibPerGb = (h: Harness) => h.config.volumeMibPerGb;

export async function diskAndAllowList(h: Harness, engine: Engine, runs: number, tag: string): Promise<string[]> {
  const prefix = h.config.subnets.find((s) => s.id === 'local-subnet')!.cidr.replace(/\.0\/24$/, '');
  const guarded = await completedCreate(h, createBody(engine, { name: `benchdk${tag}`, allowable_ip_addresses: [`${prefix}.200`] }));
  const open = await completedCreate(h, createBody(engine, { name: `benchop${tag}` }));
  const ipOf = async (id: string) => (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups[0].instances[0].service_ip_address as string;
  const [gip, oip] = [await ipOf(guarded), await ipOf(open)];
  const storageId = (await h.client.get(`/v1/clusters/${guarded}`)).body.instance_groups[0].block_storage_groups.find((b: any) => b.role_type === 'DATA').id;

  // A scratch volume of the same size, for the bare growth.
  const dir = join(h.dataDir, 'bench-volume');
  const image = join(h.dataDir, 'bench-volume.img');
  let sizeGb = 56;
  await mkdir(dir, { recursive: true });
  await sized(image, sizeGb * mibPerGb(h) * 1024 * 1024);
  await exec('mkfs.xfs', ['-q', '-f', image]);
  await exec('mount', ['-o', 'loop', image, dir]);
  const table = `cachestore_bench_${process.pid}`;
  const source = `${prefix}.201`;
  try {
    const device = (await exec('findmnt', ['-n', '-o', 'SOURCE', '--mountpoint', dir])).stdout.trim();
    await nft(`table inet ${table} {\n set allow { type ipv4_addr; flags interval; elements = { 127.0.0.1, ${oip} } }\n chain input { type filter hook input priority filter; policy accept;\n  ip daddr ${oip} tcp dport 6378 ip saddr != @allow drop\n }\n}\n`);
    const api: number[] = [];
    const bare: number[] = [];
    const aclApi: number[] = [];
    const aclBare: number[] = [];
    for (let run = 0; run < runs; run++) {
      sizeGb += 8;
      let t0 = performance.now();
      await completed(h, await h.client.post(`/v1/block-storage-groups/${storageId}/resize`, { size_gb: sizeGb }));
      api.push(performance.now() - t0);
      t0 = performance.now();
      await sized(image, sizeGb * mibPerGb(h) * 1024 * 1024, 'r+');
      await exec('losetup', ['-c', device]);
      await exec('xfs_growfs', ['-d', dir]);
      bare.push(performance.now() - t0);

      // Allow-list: the source gets nothing, then is allowed; time to its first PONG.
      if (await quickProbe(source, gip, 6378, 300)) throw new Error(`${source} reaches ${gip} before it is allowed`);
      t0 = performance.now();
      const r = await h.client.post(`/v1/clusters/${guarded}/security-group-rules`, { add_ip_addresses: [source] });
      aclApi.push(await untilPong(t0, source, gip, 6378));
      await completed(h, r);
      await completed(h, await h.client.post(`/v1/clusters/${guarded}/security-group-rules`, { del_ip_addresses: [source] }));

      if (await quickProbe(source, oip, 6378, 300)) throw new Error(`${source} reaches ${oip} before the bare rule allows it`);
      t0 = performance.now();
      await nft(`add element inet ${table} allow { ${source} }\n`);
      aclBare.push(await untilPong(t0, source, oip, 6378));
      await nft(`delete element inet ${table} allow { ${source} }\n`);
    }
    const ms = (xs: number[]) => `${median(xs).toFixed(0)} ms [${xs.map((x) => x.toFixed(0)).join(' ')}]`;
    return [
      `Set Block Storage Size +8 GB (${(8 * mibPerGb(h) * 1024 * 1024 / GiB).toFixed(0)} GiB of volume), request to COMPLETED ${ms(api)}`,
      `bare truncate + losetup -c + xfs_growfs of the same growth ${ms(bare)} (${((median(api) / median(bare)) * 100).toFixed(0)}% ratio API/bare)`,
      `allow-list change, request to first PONG from the new source ${ms(aclApi)}`,
      `bare nft add element to first PONG ${ms(aclBare)}`,
    ];
  } finally {
    await nft(`table inet ${table}\ndelete table inet ${table}\n`).catch(() => undefined);
    await exec('umount', [dir]).catch(() => undefined);
    await rm(image, { force: true });
    for (const id of [guarded, open]) {
      const d = await h.client.delete(`/v1/clusters/${id}`);
      if (d.status === 202) await h.client.waitRequest(d.body.request_id, 60_000);
    }
  }
}

async function completedCreate(h: Harness, body: unknown): Promise<string> {
  const c = await h.client.post('/v1/clusters', body);
  if (c.status !== 202) throw new Error(JSON.stringify(c.body));
  await h.client.waitState(c.body.resource.id, 'RUNNING', 60_000);
  return c.body.resource.id;
}

/** Creates (w) or grows (r+) a sparse file to `bytes`. */
async function sized(file: string, bytes: number, flags: 'w' | 'r+' = 'w'): Promise<void> {
  const f = await open(file, flags);
  await f.truncate(bytes);
  await f.close();
}

function nft(script: string): Promise<void> {
  return new Promise((done, fail) => {
    const p = execFile('nft', ['-f', '-'], (err) => (err ? fail(err) : done()));
    p.stdin!.end(script);
  });
}
