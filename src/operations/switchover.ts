// A planned switchover with no lost acknowledged write: pause writes on the primary, wait until
// the target replica has everything the primary acknowledged, promote it, point the Sentinels
// at it, turn the old primary and the other replicas into its replicas, and let writes go.
// Writes are paused only between the pause and the Sentinels' update (milliseconds).
import type { Redis } from 'ioredis';
import { connect } from '../engines/client.js';
import { replicationInfo, withClient } from '../engines/replication.js';
import type { NodeSpec } from '../drivers/driver.js';
import type { WorkflowContext } from './workflow.js';

/** Longest the primary's writes may stay paused: the pause ends by itself after this. */
const PAUSE_LIMIT_MS = 5000;
const CATCH_UP_TIMEOUT_MS = 3000;

const ep = (n: NodeSpec) => ({ host: n.ip, port: n.port, password: n.password });

export interface SwitchoverResult {
  pauseMs: number;
  skipped: boolean;
}

/** Points a Sentinel at the new primary (a fresh monitor: see README on epochs). */
async function repoint(c: Redis, s: NodeSpec, target: NodeSpec): Promise<void> {
  const st = s.sentinel!;
  const name = st.masterName;
  const current = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string] | null;
  if (current && current[0] === target.ip && Number(current[1]) === target.port) return;
  if (current) await c.call('SENTINEL', 'REMOVE', name);
  await c.call('SENTINEL', 'MONITOR', name, target.ip, String(target.port), String(st.quorum));
  await c.call('SENTINEL', 'SET', name, 'auth-pass', s.password, 'down-after-milliseconds', String(st.downAfterMs), 'failover-timeout', String(st.failoverTimeoutMs), 'parallel-syncs', '1');
}

async function open(n: NodeSpec): Promise<Redis> {
  const c = connect(ep(n), 1000);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Makes `targetInstanceId` the primary. Safe to run again: it finishes what a crash interrupted. */
export async function switchover(ctx: WorkflowContext, targetInstanceId: string): Promise<SwitchoverResult> {
  const target = ctx.nodes.data.find((n) => n.instanceId === targetInstanceId);
  if (!target) throw new Error(`instance ${targetInstanceId} is not a data node of this cluster`);
  const old = ctx.nodes.primary;
  const others = ctx.nodes.data.filter((n) => n !== target);
  const targetInfo = await withClient(ep(target), replicationInfo);
  let pauseMs = 0;
  let skipped = false;
  if (targetInfo.role === 'master') {
    // Promoted already (a resumed request); only the rest remains to be ensured.
    skipped = old === target;
  } else {
    if (!old) throw new Error('the cluster has no primary to switch over from');
    // Every connection is open before writes pause, so the pause holds only the switch itself.
    // Every Sentinel must take the new primary, or a stale one could switch the cluster back.
    const clients: Redis[] = [];
    try {
      const primary = await open(old);
      clients.push(primary);
      const replica = await open(target);
      clients.push(replica);
      const sentinels = await Promise.all(ctx.nodes.sentinels.map(async (n) => ({ n, c: await open(n) })));
      clients.push(...sentinels.map((x) => x.c));
      const started = Date.now();
      await primary.call('CLIENT', 'PAUSE', String(PAUSE_LIMIT_MS), 'WRITE');
      try {
        const want = (await replicationInfo(primary)).offset;
        const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
        for (;;) {
          const info = await replicationInfo(replica);
          if (info.offset >= want && info.linkUp) break;
          if (Date.now() > deadline) throw new Error(`replica ${target.ip} did not catch up with the primary within ${CATCH_UP_TIMEOUT_MS} ms; nothing was changed`);
          await new Promise((r) => setTimeout(r, 1));
        }
        await replica.call('REPLICAOF', 'NO', 'ONE');
        await Promise.all(sentinels.map((x) => repoint(x.c, x.n, target)));
        await primary.call('REPLICAOF', target.ip, String(target.port));
      } finally {
        await primary.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        pauseMs = Date.now() - started;
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
  }
  await Promise.all(ctx.nodes.sentinels.map((n) => withClient(ep(n), (c) => repoint(c, n, target))));
  for (const n of others) {
    await withClient(ep(n), async (c) => {
      const info = await replicationInfo(c);
      if (info.role !== 'slave' || info.masterHost !== target.ip || info.masterPort !== target.port) {
        await c.call('REPLICAOF', target.ip, String(target.port));
      }
    }).catch(() => undefined); // a dead replica is pointed at the new primary when it comes back
  }
  for (const n of ctx.nodes.data) {
    const role = n === target ? 'MASTER' : 'REPLICA';
    await ctx.store.setInstanceRole(n.instanceId, role);
  }
  await ctx.reload();
  // Config files follow the new roles, so any later start keeps the topology.
  for (const n of ctx.nodes.data) await ctx.driver.configure(n);
  return { pauseMs, skipped };
}
