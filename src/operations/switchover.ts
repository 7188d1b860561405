// A planned switchover with no lost acknowledged write. The Sentinels stop first (so none acts
// on the moment in between); writes pause on the primary; the target replica catches up to the
// primary's replication offset and is promoted; the old primary follows it; writes resume. Then
// the other replicas follow, the store records the roles, and the Sentinels start again
// monitoring the new primary with a configuration epoch higher than any before, so no stale
// Sentinel can switch the cluster back. Writes pause only for the switch itself (milliseconds);
// clients that discover the primary through Sentinel wait the ~100 ms the Sentinels are down.
import type { Redis } from 'ioredis';
import { connect } from '../engines/client.js';
import { replicationInfo, withClient } from '../engines/replication.js';
import { endpointOf, type NodeSpec } from '../drivers/driver.js';
import { READY_TIMEOUT_MS, type WorkflowContext } from './workflow.js';

/** Longest the primary's writes may stay paused: the pause ends by itself after this. */
const PAUSE_LIMIT_MS = 5000;
const CATCH_UP_TIMEOUT_MS = 3000;

export interface SwitchoverResult {
  pauseMs: number;
  skipped: boolean;
}

async function open(n: NodeSpec): Promise<Redis> {
  const c = connect(endpointOf(n), 1000);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Starts every Sentinel again from the store's topology; `epoch` makes that topology win. */
async function restartSentinels(ctx: WorkflowContext, epoch?: number): Promise<void> {
  await Promise.all(
    ctx.nodes.sentinels.map(async (n) => {
      const node = epoch ? { ...n, sentinel: { ...n.sentinel!, epoch } } : n;
      await ctx.driver.stop(node, { save: false });
      await ctx.driver.configure(node);
      await ctx.driver.launch(node);
      await ctx.driver.waitReady(node, READY_TIMEOUT_MS);
    }),
  );
}

/** Makes `targetInstanceId` the primary. Safe to run again: it finishes what a crash interrupted. */
export async function switchover(ctx: WorkflowContext, targetInstanceId: string): Promise<SwitchoverResult> {
  const target = ctx.nodes.data.find((n) => n.instanceId === targetInstanceId);
  if (!target) throw new Error(`instance ${targetInstanceId} is not a data node of this cluster`);
  const old = ctx.nodes.primary;
  const targetInfo = await withClient(endpointOf(target), replicationInfo);
  if (targetInfo.role !== 'master' && !targetInfo.linkUp) {
    throw new Error(`replica ${target.ip} is still copying the primary; try again when it shows RUNNING`);
  }
  let pauseMs = 0;
  const skipped = targetInfo.role === 'master' && old === target;
  if (targetInfo.role !== 'master') {
    if (!old) throw new Error('the cluster has no primary to switch over from');
    // Every connection is open before writes pause, so the pause holds only the switch itself.
    const clients: Redis[] = [];
    try {
      const primary = await open(old);
      clients.push(primary);
      const replica = await open(target);
      clients.push(replica);
      await Promise.all(ctx.nodes.sentinels.map((n) => ctx.driver.stop(n, { save: false })));
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
        await primary.call('REPLICAOF', target.ip, String(target.port));
      } finally {
        await primary.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        pauseMs = Date.now() - started;
      }
    } catch (err) {
      // Nothing changed: the Sentinels go back to watching the primary they knew.
      await restartSentinels(ctx).catch(() => undefined);
      throw err;
    } finally {
      for (const c of clients) c.disconnect();
    }
  }
  for (const n of ctx.nodes.data.filter((d) => d !== target)) {
    await withClient(endpointOf(n), async (c) => {
      const info = await replicationInfo(c);
      if (info.role !== 'slave' || info.masterHost !== target.ip || info.masterPort !== target.port) {
        await c.call('REPLICAOF', target.ip, String(target.port));
      }
    }).catch(() => undefined); // a dead replica follows the new primary when it is started again
  }
  for (const n of ctx.nodes.data) await ctx.store.setInstanceRole(n.instanceId, n === target ? 'MASTER' : 'REPLICA');
  await ctx.reload();
  await restartSentinels(ctx, Math.floor(Date.now() / 1000));
  // Config files follow the new roles, so any later start keeps the topology.
  for (const n of ctx.nodes.data) await ctx.driver.configure(n);
  return { pauseMs, skipped };
}
