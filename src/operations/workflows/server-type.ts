// Set Server Type: the store records the group's new type first, so every configuration file
// written from then on (this workflow, restarts, failovers, heals) carries the new maxmemory and
// io-threads. maxmemory is a runtime setting: when only it changes, one CONFIG SET per data node
// applies it online (replicas first, then the primary). io-threads is read at start only: when it
// changes, the rolling restart applies both (replicas, switchover to a restarted replica, old
// primary), with no acknowledged write lost.
import { findServerType, ioThreads, maxMemoryBytes } from '../../domain/catalog.js';
import { endpointOf, type NodeSpec } from '../../drivers/driver.js';
import { configSet } from '../../engines/parameters.js';
import { each, type Step, type Workflow, type WorkflowContext } from '../workflow.js';
import { refreshTopology } from './topology-refresh.js';

interface ServerTypePayload {
  group: string;
  from: string;
  to: string;
  restart: boolean;
  primary: string | null;
}

function payload(ctx: WorkflowContext): ServerTypePayload {
  return ctx.request.payload as unknown as ServerTypePayload;
}

/** Running data nodes, replicas before the primary. */
async function runningData(ctx: WorkflowContext): Promise<NodeSpec[]> {
  const out: NodeSpec[] = [];
  for (const n of ctx.nodes.data) if (await ctx.driver.isRunning(n)) out.push(n);
  return out.sort((a, b) => Number(a.replicaOf == null) - Number(b.replicaOf == null));
}

/** The store holds `typeName` for the group, and every data node's file says so. */
async function record(ctx: WorkflowContext, typeName: string): Promise<void> {
  await ctx.store.setGroupServerType(payload(ctx).group, typeName, ctx.now(), ctx.request.createdBy);
  await ctx.reload();
  await each(ctx.nodes.data, (n) => ctx.driver.configure(n));
}

/** Puts the old type back: store, files, and maxmemory on the nodes that run. */
async function rollBack(ctx: WorkflowContext): Promise<string> {
  const p = payload(ctx);
  await record(ctx, p.from);
  const failed: string[] = [];
  for (const n of await runningData(ctx)) {
    await configSet(endpointOf(n), { maxmemory: String(n.maxMemoryBytes) }).catch(() => failed.push(n.ip));
  }
  return `the server type is ${p.from} again` + (failed.length ? ` (maxmemory could not be set back on ${failed.join(', ')})` : '');
}

function describe(name: string): string {
  const t = findServerType(name)!;
  return `${name} (maxmemory ${maxMemoryBytes(t)}, io-threads ${ioThreads(t)})`;
}

/** `restartSteps`: the rolling restart's steps, run only when io-threads changes. */
export function setServerTypeWorkflow(restartSteps: Step[], finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  const guard = (s: Step, when: (p: ServerTypePayload) => boolean): Step => ({
    name: s.name,
    async run(ctx) {
      if (!when(payload(ctx))) return;
      try {
        await s.run(ctx);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const back = await rollBack(ctx).catch((e: Error) => `setting the old type back failed too: ${e.message}`);
        const p = payload(ctx);
        throw new Error(
          `changing the server type to ${p.to} failed (${reason}); ${back}` +
            (p.restart ? `; nodes restarted before the failure run the new io-threads until their next restart` : ''),
        );
      }
    },
  });
  const applyOnline: Step = {
    name: 'apply-maxmemory',
    async run(ctx) {
      for (const n of await runningData(ctx)) await configSet(endpointOf(n), { maxmemory: String(n.maxMemoryBytes) });
    },
  };
  return {
    steps: [
      guard({
        name: 'record-server-type',
        async run(ctx) {
          await refreshTopology(ctx);
          const p = payload(ctx);
          await record(ctx, p.to);
          await ctx.event(
            `server type ${describe(p.from)} -> ${describe(p.to)}: ` +
              (p.restart ? 'io-threads changes, applying by a rolling restart' : 'applying maxmemory online (CONFIG SET), no restart'),
          );
        },
      }, () => true),
      guard(applyOnline, (p) => !p.restart),
      ...restartSteps.map((s) => guard(s, (p) => p.restart)),
    ],
    async onFailure() {
      // The guarded steps set the old type back before failing (their error says so).
    },
    finish,
  };
}
