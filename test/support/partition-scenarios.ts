// The partition scenarios of README "Partitions and fencing", shared by test/e2e/partitions.test.ts
// (which asserts on their ledgers) and bench/partitions.ts (which prints them). Each scenario
// runs writers that keep a ledger of every write a primary acknowledged, cuts one node off from
// the other nodes (test/support/partitions.ts: node-to-node traffic only; the writers and the
// service reach every node from 127.0.0.1 throughout), heals the cut, and counts the
// acknowledged writes the cluster's primary no longer has.
import { Redis } from 'ioredis';
import { fenceBoundMs } from '../../src/domain/fencing.js';
import type { Harness } from './harness.js';
import type { Partitions } from './partitions.js';
import { missingKeys, startWriter, waitFor, type SentinelTarget, type Writer, type WriterResult } from './writer.js';

export const PASSWORD = 'Secr3t!pass';
const DATA_PORT = 6378;
const SENTINEL_PORT = 26378;

export interface Ledger {
  scenario: string;
  /** Writes acknowledged, by whichever primary, while the scenario ran. */
  acknowledged: number;
  /** Acknowledged writes the primary does not have once the partition healed. */
  lost: number;
  /** When each lost write was acknowledged, in ms after the cut (negative: before it). */
  lostAckedAfterCutMs: number[];
  /** Writes acknowledged while the node was cut off. */
  acknowledgedDuringCut: number;
  /** Of those, the ones acknowledged later than the fence's bound after the cut. */
  acknowledgedAfterFenceBound: number;
  /** Primary isolated: the last write the isolated primary acknowledged, in ms after the cut. */
  isolatedLastAckMs: number | null;
  /** Primary isolated: when a Sentinel on the majority side named the new primary, ms after the cut. */
  newPrimaryAfterMs: number | null;
  /** Primary isolated: when the old primary was a linked replica of the new one, ms after the heal. */
  rejoinedAfterMs: number | null;
  /** Whether the primary was the same node before and after. */
  samePrimary: boolean;
}

export interface ClusterView {
  id: string;
  name: string;
  primary: string;
  replicas: string[];
  /** The SENTINEL group's own instance. */
  sentinel: string;
  all: string[];
}

export async function viewOf(h: Harness, id: string): Promise<ClusterView> {
  const body = (await h.client.get(`/v1/clusters/${id}`)).body;
  const insts: Array<{ role_type: string; service_ip_address: string }> = body.instance_groups.flatMap((g: any) => g.instances);
  const ip = (role: string) => insts.filter((i) => i.role_type === role).map((i) => i.service_ip_address);
  return { id, name: body.name, primary: ip('MASTER')[0], replicas: ip('REPLICA'), sentinel: ip('SENTINEL')[0], all: insts.map((i) => i.service_ip_address) };
}

/**
 * How an application finds the primary: through the Sentinels, the SENTINEL group's own first
 * (ioredis asks them in order and follows the first that answers; a Sentinel on the cut-off side
 * would keep naming the old primary, as it would to any client on that side).
 */
export function targetOf(v: ClusterView): SentinelTarget {
  const order = [v.sentinel, ...v.all.filter((a) => a !== v.sentinel)];
  return { sentinels: order.map((host) => ({ host, port: SENTINEL_PORT })), name: v.name, password: PASSWORD };
}

function client(host: string, port: number): Redis {
  const c = new Redis({ host, port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000 });
  c.on('error', () => undefined);
  return c;
}

async function once<T>(host: string, port: number, fn: (c: Redis) => Promise<T>): Promise<T | null> {
  const c = client(host, port);
  try {
    await c.connect();
    return await fn(c);
  } catch {
    return null;
  } finally {
    c.disconnect();
  }
}

/** The primary a Sentinel names, as ip. */
export function sentinelNames(sentinelIp: string, name: string): Promise<string | null> {
  return once(sentinelIp, SENTINEL_PORT, async (c) => ((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[] | null)?.[0] ?? null);
}

/** A data node's INFO replication as fields. */
export async function replicationOf(ip: string): Promise<Record<string, string> | null> {
  const text = await once(ip, DATA_PORT, (c) => c.info('replication'));
  if (text === null) return null;
  return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

/** Whether `ip` is a replica of `primary` with its link up and caught up with it. */
async function caughtUp(ip: string, primary: string): Promise<boolean> {
  const [r, p] = await Promise.all([replicationOf(ip), replicationOf(primary)]);
  return r?.role === 'slave' && r.master_host === primary && r.master_link_status === 'up' && p !== null && Number(r.slave_repl_offset) >= Number(p.master_repl_offset);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ledger(scenario: string, results: WriterResult[], missing: Set<string>, cutAt: number, healAt: number, extra: Partial<Ledger>): Ledger {
  const lostAckedAfterCutMs: number[] = [];
  let acknowledged = 0;
  let acknowledgedDuringCut = 0;
  let acknowledgedAfterFenceBound = 0;
  for (const r of results) {
    r.acked.forEach((k, i) => {
      acknowledged++;
      if (r.ackedAt[i] >= cutAt && r.ackedAt[i] < healAt) acknowledgedDuringCut++;
      if (r.ackedAt[i] >= cutAt + fenceBoundMs() && r.ackedAt[i] < healAt) acknowledgedAfterFenceBound++;
      if (missing.has(k)) lostAckedAfterCutMs.push(r.ackedAt[i] - cutAt);
    });
  }
  return {
    scenario,
    acknowledged,
    lost: lostAckedAfterCutMs.length,
    lostAckedAfterCutMs,
    acknowledgedDuringCut,
    acknowledgedAfterFenceBound,
    isolatedLastAckMs: null,
    newPrimaryAfterMs: null,
    rejoinedAfterMs: null,
    samePrimary: true,
    ...extra,
  };
}

async function started(writers: Writer[]): Promise<void> {
  await waitFor('writes acknowledged before the cut', async () => writers.every((w) => w.ackedCount() > 50), 30_000);
}

/** Which acknowledged keys `primary` lacks, after it has every replica caught up (so reads are final). */
async function lostOn(v: ClusterView, results: WriterResult[]): Promise<Set<string>> {
  return new Set(await missingKeys(targetOf(v), results.flatMap((r) => r.acked)));
}

/**
 * A replica cut off from every other node (its Sentinel with it: they share the address) for
 * `cutMs`: the primary keeps its other replica, so it keeps acknowledging; nothing fails over.
 */
export async function replicaIsolated(h: Harness, net: Partitions, id: string, cutMs: number): Promise<Ledger> {
  const v = await viewOf(h, id);
  const [replica] = v.replicas;
  const w = startWriter(targetOf(v), `ri${Date.now()}`);
  await started([w]);
  const cutAt = Date.now();
  await net.cut(replica, v.all);
  await sleep(cutMs);
  const healAt = Date.now();
  await net.heal();
  await waitFor('the cut-off replica linked and caught up again', () => caughtUp(replica, v.primary), 60_000, 100);
  const r = await w.stop();
  const after = await viewOf(h, id);
  // The rejoined replica holds every write too: read it directly.
  const onReplica = await missingKeys({ host: replica, port: DATA_PORT, password: PASSWORD }, r.acked);
  const l = ledger('replica isolated', [r], await lostOn(v, [r]), cutAt, healAt, { samePrimary: after.primary === v.primary });
  return { ...l, lost: l.lost + onReplica.length };
}

/** The SENTINEL group's own instance cut off from the data nodes and the other Sentinels. */
export async function sentinelMinority(h: Harness, net: Partitions, id: string, cutMs: number): Promise<Ledger> {
  const v = await viewOf(h, id);
  // The writer asks the data nodes' Sentinels (the majority): the cut-off one is last.
  const t = targetOf(v);
  const w = startWriter({ ...t, sentinels: [...t.sentinels.slice(1), t.sentinels[0]] }, `sm${Date.now()}`);
  await started([w]);
  const cutAt = Date.now();
  await net.cut(v.sentinel, v.all);
  await sleep(cutMs);
  const healAt = Date.now();
  await net.heal();
  const r = await w.stop();
  const after = await viewOf(h, id);
  const named = await sentinelNames(v.sentinel, v.name);
  return ledger('Sentinel minority isolated', [r], await lostOn(v, [r]), cutAt, healAt, { samePrimary: after.primary === v.primary && named === v.primary });
}

/**
 * The primary (and its Sentinel) cut off from its replicas and the other Sentinels, while a
 * client pinned to it keeps writing and an application writes through Sentinel; the majority
 * fails over; then the cut heals and the old primary must rejoin as a replica of the new one.
 * The cut lasts until a new primary is named and the old one refuses writes, plus `extraMs`.
 */
export async function primaryIsolated(h: Harness, net: Partitions, id: string, extraMs: number): Promise<Ledger & { oldPrimary: string; newPrimary: string }> {
  const v = await viewOf(h, id);
  const old = v.primary;
  const pinned = startWriter({ host: old, port: DATA_PORT, password: PASSWORD }, `pp${Date.now()}`);
  const app = startWriter(targetOf(v), `pa${Date.now()}`);
  await started([pinned, app]);
  const cutAt = Date.now();
  await net.cut(old, v.all);
  const named = await waitFor('a Sentinel of the majority to name a new primary', async () => {
    const ip = await sentinelNames(v.sentinel, v.name);
    return ip && ip !== old ? ip : null;
  }, 60_000, 50);
  const newPrimaryAfterMs = Date.now() - cutAt;
  // A fenced primary refuses the pinned client's writes from now on (NOREPLICAS): nothing
  // acknowledged for 2 s. An unfenced one (bench --unfenced) never stops: go on after 15 s.
  const until = Date.now() + 15_000;
  while (pinned.lastAckAt() > Date.now() - 2000 && Date.now() < until) await sleep(100);
  await waitFor('writes acknowledged by the new primary', async () => app.lastAckAt() > cutAt + newPrimaryAfterMs, 60_000, 50);
  await sleep(extraMs);
  const healAt = Date.now();
  await net.heal();
  await waitFor('the old primary to rejoin as a replica of the new one', () => caughtUp(old, named), 60_000, 100);
  const rejoinedAfterMs = Date.now() - healAt;
  const [rp, ra] = [await pinned.stop(), await app.stop()];
  const lastOnOld = rp.ackedAt.filter((t) => t >= cutAt).pop();
  const after = await viewOf(h, id);
  const l = ledger('primary isolated, partition healed', [rp, ra], await lostOn(after, [rp, ra]), cutAt, healAt, {
    isolatedLastAckMs: lastOnOld === undefined ? null : lastOnOld - cutAt,
    newPrimaryAfterMs,
    rejoinedAfterMs,
    samePrimary: false,
  });
  return { ...l, oldPrimary: old, newPrimary: named };
}

/** One line of a ledger, for the benchmark and for failure messages. */
export function describeLedger(engine: string, l: Ledger): string {
  const ms = (x: number | null) => (x === null ? '-' : `${(x / 1000).toFixed(1)} s`);
  const lostWhen = l.lost ? ` (acknowledged ${Math.min(...l.lostAckedAfterCutMs)}..${Math.max(...l.lostAckedAfterCutMs)} ms after the cut)` : '';
  return (
    `${engine.padEnd(7)} ${l.scenario.padEnd(36)} acknowledged ${String(l.acknowledged).padStart(6)} (${l.acknowledgedDuringCut} during the cut), ` +
    `lost ${l.lost}${lostWhen}; isolated primary's last ack ${ms(l.isolatedLastAckMs)} after the cut, new primary after ${ms(l.newPrimaryAfterMs)}, ` +
    `rejoined ${ms(l.rejoinedAfterMs)} after the heal`
  );
}
