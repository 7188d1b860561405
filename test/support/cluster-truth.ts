// Whether what the API says about clusters is what runs and lies on disk: engine processes alive
// and answering exactly where Show says RUNNING, roles as Show names them, and no process or file
// that no cluster accounts for. For tests that kill the service and look at what is left.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { withClient } from '../../src/engines/replication.js';
import type { SignedClient } from './client.js';
import { PASSWORD } from './dataset.js';
import { instancesOf } from './observe.js';
import { listFiles } from './files.js';
import { loopDevicesUnder, mountsUnder } from './volumes.js';

export interface TruthOptions {
  /**
   * The data volumes' scale (CACHESTORE_VOLUME_MIB_PER_GB) when the service runs on real volumes:
   * then every data node of a cluster not gone has its data dir mounted from a loop device of its
   * DATA size, and no other mount or loop device is left under the data dir.
   */
  volumeMibPerGb?: number;
}

/** A live engine or Sentinel process of the data dir, by the address its title carries. */
export interface EngineProcess {
  pid: number;
  /** ip:port */
  addr: string;
  cmdline: string;
}

/** Every engine process working below `<dataDir>/engines` (its cwd is a node's data dir). */
export function engineProcessesUnder(dataDir: string): EngineProcess[] {
  const root = join(dataDir, 'engines') + '/';
  const out: EngineProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readlinkSync(`/proc/${name}/cwd`).startsWith(root)) continue;
      // A zombie is gone for every purpose that matters here.
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${name}/stat`, 'utf8'))) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const addr = /\b(\d+\.\d+\.\d+\.\d+:\d+)\b/.exec(cmdline)?.[1] ?? '?';
      out.push({ pid: Number(name), addr, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** ip:port of each node directory below `<dataDir>/engines`, from its configuration file. */
async function nodeDirAddresses(dataDir: string): Promise<Array<{ dir: string; addr: string }>> {
  const out: Array<{ dir: string; addr: string }> = [];
  for (const dir of await readdir(join(dataDir, 'engines')).catch(() => [] as string[])) {
    const conf = await readFile(join(dataDir, 'engines', dir, 'engine.conf'), 'utf8').catch(() => '');
    const ip = /^bind (\S+)/m.exec(conf)?.[1];
    const port = /^port (\d+)/m.exec(conf)?.[1];
    out.push({ dir, addr: ip && port ? `${ip}:${port}` : `? (no configuration in ${dir})` });
  }
  return out;
}

/** As the tenant connects (cluster password, no user name). */
function withRedis<T>(host: string, port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  return withClient({ host, port, password: PASSWORD }, fn, 5000);
}

const sorted = (xs: string[]) => [...xs].sort();

/** Polls `fn` (which throws while things are not right yet) until it passes or `ms` run out. */
async function eventually<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Addresses where a cluster in this Show state must run processes (none: it runs none). */
function expectedAddresses(show: any): string[] | 'per-instance' {
  const state = show.service_state;
  if (['STOPPED', 'TERMINATED', 'FAILED'].includes(state)) return [];
  if (state === 'ERROR') return 'per-instance';
  if (state !== 'RUNNING') throw new Error(`cluster ${show.name} is ${state} with no request running`);
  const opt = show.init_config_option;
  const out: string[] = [];
  for (const i of instancesOf(show)) {
    if (i.role_type === 'SENTINEL') out.push(`${i.service_ip_address}:${opt.sentinel_port}`);
    else {
      out.push(`${i.service_ip_address}:${opt.database_port}`);
      if (show.ha_enabled) out.push(`${i.service_ip_address}:${opt.sentinel_port}`);
    }
  }
  return out;
}

/** Node directories a cluster in this state keeps (every node, until it is terminated or failed). */
function expectedDirs(show: any): string[] {
  if (['TERMINATED', 'FAILED'].includes(show.service_state)) return [];
  const opt = show.init_config_option;
  return instancesOf(show).flatMap((i) =>
    i.role_type === 'SENTINEL'
      ? [`${i.service_ip_address}:${opt.sentinel_port}`]
      : [`${i.service_ip_address}:${opt.database_port}`, ...(show.ha_enabled ? [`${i.service_ip_address}:${opt.sentinel_port}`] : [])],
  );
}

/**
 * Asserts that the clusters `ids` are what Show says, and that nothing else runs or lies under
 * `dataDir`: throws with every difference found. `servicePids`: every service process the test
 * started on this data dir (a scratch verification engine of one of them must not outlive it).
 * Call with no request running.
 */
export async function assertClustersTrue(client: SignedClient, dataDir: string, ids: Iterable<string>, servicePids: number[], opts: TruthOptions = {}): Promise<void> {
  const problems = await clusterProblems(client, dataDir, ids, servicePids, opts);
  if (problems.length > 0) throw new Error(`the clusters are not what Show says:\n  ${problems.join('\n  ')}`);
}

/** What assertClustersTrue finds wrong, one line each ([] when all is true). */
export async function clusterProblems(client: SignedClient, dataDir: string, ids: Iterable<string>, servicePids: number[], opts: TruthOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const shows: any[] = [];
  for (const id of ids) {
    const r = await client.get(`/v1/clusters/${id}`);
    if (r.status !== 200) throw new Error(`Show Cluster ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    shows.push(r.body);
  }
  const wantProcs: string[] = [];
  const perInstance = new Set<string>();
  for (const show of shows) {
    const want = expectedAddresses(show);
    const opt = show.init_config_option;
    if (want === 'per-instance') {
      // An ERROR cluster: each data instance runs iff Show calls it RUNNING; its Sentinels may
      // or may not run.
      for (const i of instancesOf(show)) {
        if (i.role_type !== 'SENTINEL' && i.service_state === 'RUNNING') wantProcs.push(`${i.service_ip_address}:${opt.database_port}`);
        if (i.role_type === 'SENTINEL' || show.ha_enabled) perInstance.add(`${i.service_ip_address}:${opt.sentinel_port}`);
      }
      continue;
    }
    wantProcs.push(...want);
    if (show.service_state !== 'RUNNING') continue;
    // RUNNING: every instance says so, answers, and has the role Show gives it.
    const data = instancesOf(show).filter((i) => i.role_type !== 'SENTINEL');
    const primaries = data.filter((i) => i.role_type === 'MASTER');
    if (primaries.length !== 1) problems.push(`${show.name}: ${primaries.length} instances shown as MASTER`);
    for (const i of instancesOf(show)) if (i.service_state !== 'RUNNING') problems.push(`${show.name}: cluster RUNNING but ${i.name} is ${i.service_state}`);
    for (const i of data) {
      try {
        await eventually(async () => {
          const info = await withRedis(i.service_ip_address, opt.database_port, (c) => c.info('replication'));
          const role = /role:(\w+)/.exec(info)?.[1];
          const want = i.role_type === 'MASTER' ? 'master' : 'slave';
          if (role !== want) throw new Error(`${show.name}: ${i.name} is shown ${i.role_type} but its engine says role:${role}`);
          if (role === 'slave') {
            const host = /master_host:(\S+)/.exec(info)?.[1];
            if (host !== primaries[0]?.service_ip_address) throw new Error(`${show.name}: replica ${i.name} follows ${host}, not the primary shown (${primaries[0]?.service_ip_address})`);
            if (!/master_link_status:up/.test(info)) throw new Error(`${show.name}: replica ${i.name} is not linked to its primary`);
          }
        }, 15_000);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (show.ha_enabled) {
      const sentinels = [...data.map((i) => i.service_ip_address), ...instancesOf(show).filter((i) => i.role_type === 'SENTINEL').map((i) => i.service_ip_address)];
      for (const ip of sentinels) {
        try {
          await eventually(async () => {
            const addr = (await withRedis(ip, opt.sentinel_port, (c) => c.call('SENTINEL', 'get-master-addr-by-name', show.name))) as string[] | null;
            if (addr?.[0] !== primaries[0]?.service_ip_address) throw new Error(`${show.name}: Sentinel ${ip} names ${addr?.[0]} the primary, Show names ${primaries[0]?.service_ip_address}`);
          }, 15_000);
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
    }
  }

  // Processes: exactly one where expected, none anywhere else.
  const procs = engineProcessesUnder(dataDir);
  const running = procs.map((p) => p.addr);
  for (const addr of new Set(wantProcs)) {
    const n = running.filter((a) => a === addr).length;
    if (n !== 1) problems.push(`${n} engine processes at ${addr}, where Show says one runs`);
  }
  for (const p of procs) {
    if (wantProcs.includes(p.addr) || perInstance.has(p.addr)) continue;
    problems.push(`orphan engine process ${p.pid} (${p.cmdline}): no cluster shown RUNNING there`);
  }

  // Files: a node directory per node of every cluster that is not gone, nothing else.
  const wantDirs = sorted(shows.flatMap(expectedDirs));
  const dirs = await nodeDirAddresses(dataDir);
  const haveDirs = sorted(dirs.map((d) => d.addr));
  if (JSON.stringify(haveDirs) !== JSON.stringify(wantDirs)) {
    const extra = dirs.filter((d) => !wantDirs.includes(d.addr) || haveDirs.filter((a) => a === d.addr).length > 1);
    problems.push(`node directories [${haveDirs.join(', ')}] are not the nodes of the clusters shown [${wantDirs.join(', ')}]; suspicious: ${extra.map((d) => `${d.dir} (${d.addr})`).join(', ')}`);
  }
  if (opts.volumeMibPerGb !== undefined) problems.push(...(await volumeProblems(dataDir, shows, dirs, opts.volumeMibPerGb)));
  // Nothing half-written or staged is left once no request runs.
  const staged = await listFiles(join(dataDir, 'backup-staging'));
  if (staged.length > 0) problems.push(`files left in backup-staging: ${staged.join(', ')}`);
  const all = await listFiles(dataDir);
  const partial = all.filter((f) => /\.(tmp|partial)$/.test(f));
  if (partial.length > 0) problems.push(`half-written files left: ${partial.join(', ')}`);
  // Backups: one file per COMPLETED backup of a cluster that exists; none of a terminated one.
  for (const show of shows) {
    const files = all.filter((f) => f.startsWith(`backups/${show.id}/`));
    const logs = all.filter((f) => f.startsWith(`wal-archive/${show.id}/`));
    if (show.service_state === 'TERMINATED') {
      if (files.length + logs.length > 0) problems.push(`${show.name} is TERMINATED but its backup files remain: ${[...files, ...logs].join(', ')}`);
      continue;
    }
    const h = await client.get(`/v1/clusters/${show.id}/backup-histories?limit=1000`);
    const completed = (h.body.contents ?? []).filter((b: any) => b.backup_state === 'COMPLETED');
    const running = (h.body.contents ?? []).filter((b: any) => b.backup_state === 'RUNNING');
    if (running.length > 0) problems.push(`${show.name}: backups ${running.map((b: any) => b.backup_history_number).join(', ')} still RUNNING with no request running`);
    if (files.length !== completed.length) problems.push(`${show.name}: ${completed.length} COMPLETED backups but backup files [${files.join(', ')}]`);
  }
  // Scratch engines of backup verification live and die with their service.
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith('cachestore-verify-')) continue;
    const owner = Number(await readFile(join(tmpdir(), name, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (servicePids.includes(owner)) problems.push(`scratch verification directory ${name} of service ${owner} left in ${tmpdir()}`);
  }
  return problems;
}

/** Data volumes: a mount of the recorded DATA size on every data node of a cluster not gone, nothing else. */
async function volumeProblems(dataDir: string, shows: any[], dirs: Array<{ dir: string; addr: string }>, mibPerGb: number): Promise<string[]> {
  const problems: string[] = [];
  const dirOf = new Map(dirs.map((d) => [d.addr, d.dir]));
  const mounts = await mountsUnder(dataDir);
  const wanted = new Set<string>();
  for (const show of shows) {
    if (['TERMINATED', 'FAILED'].includes(show.service_state)) continue;
    for (const g of show.instance_groups) {
      const gb = g.block_storage_groups.find((b: any) => b.role_type === 'DATA')?.size_gb;
      for (const i of g.instances.filter((i: any) => i.role_type !== 'SENTINEL')) {
        const dir = dirOf.get(`${i.service_ip_address}:${show.init_config_option.database_port}`);
        if (!dir) continue; // the node directory check above names it
        const point = join(dataDir, 'engines', dir, 'data');
        wanted.add(point);
        const m = mounts.filter((x) => x.mountPoint === point);
        if (m.length !== 1) {
          problems.push(`${show.name}: ${m.length} mounts on the data dir of ${i.name}, not one`);
          continue;
        }
        const dev = m[0].source.replace('/dev/', '');
        const bytes = Number((await readFile(`/sys/class/block/${dev}/size`, 'utf8').catch(() => '0')).trim()) * 512;
        if (bytes !== gb * mibPerGb * 1024 * 1024) problems.push(`${show.name}: the volume of ${i.name} has ${bytes} bytes, not the ${gb} GB Show records (${gb * mibPerGb} MiB)`);
      }
    }
  }
  for (const m of mounts) if (!wanted.has(m.mountPoint)) problems.push(`mount ${m.source} on ${m.mountPoint}: no node of a cluster shown has it`);
  const loops = await loopDevicesUnder(dataDir);
  if (loops.length !== mounts.length) problems.push(`${loops.length} loop devices [${loops.join(', ')}] for ${mounts.length} mounts under the data dir`);
  return problems;
}
