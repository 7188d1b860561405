// Update Commands and Synchronize Commands: a rename map reaches every data node through a
// controlled rolling restart. Why it is delicate: `rename-command` is read at start only; a
// primary writes the name it was called by into its AOF and its replication stream, so a node
// with another map fails to replay that AOF (the engine exits) or, as a replica, silently skips
// the command. So:
//  - while nodes run different maps, the catalogue's replicated write commands are denied on
//    the primary (ACL names commands by their own names, renamed or not);
//  - a standalone node rewrites its AOF first (no old name remains) and restarts with the map;
//  - in an HA cluster one replica restarts empty with the map and copies the primary in full, it
//    becomes the primary by a switchover (no acknowledged write lost), then every other node
//    restarts empty with the map and copies it: no AOF written under the old map survives.
// Sentinel needs nothing: CONFIG and SLAVEOF, which it sends, cannot be renamed.
import { endpointOf, type NodeSpec } from '../../drivers/driver.js';
import { rewriteWriteLog } from '../../engines/aof.js';
import { DISABLED, MODIFIABLE_COMMANDS, REPLICATED_WRITES } from '../../domain/command-catalog.js';
import { denyCommands, restoreUsers } from '../../engines/commands.js';
import { knownCommands } from '../../engines/parameters.js';
import { switchover } from '../switchover.js';
import type { Workflow, WorkflowContext } from '../workflow.js';
import { startDataNodes } from './steps.js';
import { refreshTopology } from './topology-refresh.js';

function nameOf(ctx: WorkflowContext, n: NodeSpec): string {
  return ctx.detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
}

/** What a node answers to for each modifiable command under `map`: its own name, the new one, or DISABLED. */
export function expectedNames(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(MODIFIABLE_COMMANDS.map((c) => [c.name, map[c.name] === undefined ? c.name : map[c.name] === '' ? DISABLED : map[c.name]]));
}

/** What a node answers to now, for each modifiable command (checking its own name and the mapped one). */
export async function appliedNames(n: NodeSpec, map: Record<string, string>): Promise<Record<string, string>> {
  const renamed = Object.values(map).filter((v) => v !== '');
  const known = await knownCommands(endpointOf(n), [...MODIFIABLE_COMMANDS.map((c) => c.name), ...renamed], 1000);
  return Object.fromEntries(
    MODIFIABLE_COMMANDS.map((c) => [c.name, known[c.name] ? c.name : map[c.name] && known[map[c.name]] ? map[c.name] : DISABLED]),
  );
}

/** Stops a data node, removes its data, and starts it with `map`; a replica copies its primary in full. */
async function restartEmpty(ctx: WorkflowContext, n: NodeSpec, map: Record<string, string>): Promise<void> {
  await ctx.driver.stop(n, { save: false });
  await ctx.driver.removeData(n);
  await startDataNodes(ctx, [{ ...n, commands: map }]);
}

/** Brings every data node to `map` (see the top of this file). Returns what it did, for the events. */
export async function rollOut(ctx: WorkflowContext, map: Record<string, string>): Promise<string> {
  await refreshTopology(ctx);
  const primary = ctx.nodes.primary;
  if (!primary) throw new Error('the cluster has no primary');
  const replicas = ctx.nodes.data.filter((n) => n !== primary);
  const rules = await denyCommands(endpointOf(primary), REPLICATED_WRITES);
  let switched = false;
  try {
    if (replicas.length === 0) {
      // Standalone: the AOF rewritten while the writes that carry command names are denied,
      // so the log the node restarts from holds no old name.
      await rewriteWriteLog(endpointOf(primary));
      await ctx.driver.stop(primary, { save: true });
      await startDataNodes(ctx, [{ ...primary, commands: map }]);
      return `${nameOf(ctx, primary)} restarted with the new command names`;
    }
    const [first, ...others] = replicas;
    await restartEmpty(ctx, first, map);
    const r = await switchover(ctx, first.instanceId);
    switched = true;
    await ctx.event(`switched over to ${nameOf(ctx, first)} (writes paused ${r.pauseMs} ms), which runs the new command names`);
    for (const n of ctx.nodes.data.filter((d) => d.instanceId !== first.instanceId)) await restartEmpty(ctx, n, map);
    return `${[first, ...others, primary].map((n) => nameOf(ctx, n)).join(', ')} restarted with the new command names (replicas copied the primary in full)`;
  } catch (err) {
    if (!switched) await restoreUsers(endpointOf(primary), rules).catch(() => undefined);
    throw err;
  }
}

/** The store and every node's configuration file hold `map`. */
async function persist(ctx: WorkflowContext, map: Record<string, string>): Promise<void> {
  await ctx.store.setClusterCommands(ctx.cluster.id, map, ctx.now(), ctx.request.createdBy);
  await ctx.reload();
  for (const n of ctx.nodes.data) await ctx.driver.configure(n);
}

export function setCommandsWorkflow(finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  return {
    steps: [
      {
        name: 'rename-commands',
        async run(ctx) {
          const map = ctx.request.payload?.map as Record<string, string>;
          try {
            await ctx.event(await rollOut(ctx, map));
          } catch (err) {
            const states = await Promise.all(
              ctx.nodes.data.map(async (n) => {
                const now = await appliedNames(n, map).catch(() => null);
                const want = expectedNames(map);
                return `${nameOf(ctx, n)} ${now === null ? 'does not answer' : Object.keys(want).every((k) => now[k] === want[k]) ? 'runs the new names' : 'runs the names before'}`;
              }),
            );
            throw new Error(`${(err as Error).message}; ${states.join(', ')}; send Update Commands again to finish`);
          }
          await persist(ctx, map);
        },
      },
    ],
    async onFailure() {
      // The step says which node runs which names; the store keeps the map before.
    },
    finish,
  };
}

/**
 * Synchronize Commands: every running data node is asked what it answers to; each difference
 * from the service's map is an event, and any difference rolls the map out again.
 */
export function syncCommandsWorkflow(finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  return {
    steps: [
      {
        name: 'sync-commands',
        async run(ctx) {
          await refreshTopology(ctx);
          const map = ctx.cluster.commands;
          const want = expectedNames(map);
          let differences = 0;
          for (const n of ctx.nodes.data) {
            if (!(await ctx.driver.isRunning(n))) continue;
            const now = await appliedNames(n, map);
            for (const [c, name] of Object.entries(want)) {
              if (now[c] === name) continue;
              differences++;
              await ctx.event(`${nameOf(ctx, n)}: ${c} answers as ${now[c]}, the service holds ${name}`);
            }
          }
          if (differences === 0) {
            await ctx.event('commands: every data node answers to the service\'s names');
            return;
          }
          await ctx.event(await rollOut(ctx, map));
          await persist(ctx, map);
        },
      },
    ],
    async onFailure() {},
    finish,
  };
}
