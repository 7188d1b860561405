// Set Parameter Values and Synchronize Parameter Values. Runtime ('dynamic') parameters go to
// every running data node with one CONFIG SET each (atomic per node); if a node refuses, the
// nodes already changed are set back and the request fails naming what was left as before.
// The values are then kept in the store and in every node's configuration file, so restarts,
// failovers, healed nodes, new replicas and restores run them too. Restart-only ('static')
// parameters are applied by the rolling restart (replicas, switchover, old primary).
import { PARAMETERS, type ParameterDef } from '../../domain/parameter-catalog.js';
import { endpointOf, type NodeSpec } from '../../drivers/driver.js';
import { procTitleTemplate } from '../../engines/config.js';
import { configGet, configSet, swapConfig } from '../../engines/parameters.js';
import { each, type Step, type Workflow, type WorkflowContext } from '../workflow.js';
import { refreshTopology } from './topology-refresh.js';

/** Connect timeout per node (a command may take 5 times as long before the node counts as refusing). */
const NODE_TIMEOUT_MS = 1000;

/** One parameter of a Set Parameter Values request, as the domain checked it. */
export interface ParameterChange {
  name: string;
  /** The new value in the engine's own form. */
  value: string;
  /** The value the engines ran when the request was accepted (its old_value). */
  old: string;
  apply: 'dynamic' | 'static';
}

interface SetPayload {
  changes: ParameterChange[];
  /** The tenant's values before this request (the store's), to go back to on failure. */
  before: Record<string, string>;
  /** The primary when the request was made: the rolling restart ends with it. */
  primary: string | null;
}

function payload(ctx: WorkflowContext): SetPayload {
  return ctx.request.payload as unknown as SetPayload;
}

function nameOf(ctx: WorkflowContext, n: NodeSpec): string {
  return ctx.detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
}

async function runningData(ctx: WorkflowContext): Promise<NodeSpec[]> {
  const out: NodeSpec[] = [];
  for (const n of ctx.nodes.data) if (await ctx.driver.isRunning(n)) out.push(n);
  return out;
}

/** The store's values and every data node's configuration file hold `values`. */
async function persist(ctx: WorkflowContext, values: Record<string, string>): Promise<void> {
  await ctx.store.setClusterParameters(ctx.cluster.id, values, ctx.now(), ctx.request.createdBy);
  await ctx.reload();
  await each(ctx.nodes.data, (n) => ctx.driver.configure(n));
}

function describe(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}

/** Sets the runtime values on every running data node, all or none. Returns the engine's form of them. */
async function applyRuntime(ctx: WorkflowContext, values: Record<string, string>): Promise<Record<string, string>> {
  const names = Object.keys(values);
  if (names.length === 0) return {};
  // The primary first: it is where writes go, so it changes first and is set back last.
  const nodes = (await runningData(ctx)).sort((a, b) => Number(a.replicaOf != null) - Number(b.replicaOf != null));
  const done: Array<{ node: NodeSpec; previous: Record<string, string> }> = [];
  for (const node of nodes) {
    try {
      done.push({ node, previous: await swapConfig(endpointOf(node), values, NODE_TIMEOUT_MS) });
    } catch (err) {
      const undone: string[] = [];
      for (const d of done) {
        await configSet(endpointOf(d.node), d.previous)
          .then(() => undone.push(nameOf(ctx, d.node)))
          .catch(() => undefined);
      }
      const reason = err instanceof Error ? err.message : String(err);
      const left = done.length === 0 ? 'no node was changed' : `${undone.join(', ') || 'no node'} set back to the values before`;
      throw new Error(`${nameOf(ctx, node)} refused ${describe(values)}: ${reason}; ${left}; nothing was kept`);
    }
  }
  // The engine reports some values in its own form (e.g. keyspace event classes reordered):
  // keep that form, so what is stored compares equal to what runs.
  return nodes.length > 0 ? configGet(endpointOf(nodes[0]), names) : values;
}

/** Puts everything back as it was before the request: the store, the files and the runtime values. */
async function rollBack(ctx: WorkflowContext): Promise<string> {
  const p = payload(ctx);
  await persist(ctx, p.before);
  const old = Object.fromEntries(p.changes.filter((c) => c.apply === 'dynamic').map((c) => [c.name, c.old]));
  const failed: string[] = [];
  if (Object.keys(old).length > 0) {
    for (const n of await runningData(ctx)) await configSet(endpointOf(n), old).catch(() => failed.push(nameOf(ctx, n)));
  }
  return failed.length === 0 ? 'every value was set back as before' : `every value was set back as before except on ${failed.join(', ')}`;
}

/**
 * The steps of Set Parameter Values. `restartSteps`: the rolling restart's steps, run only when
 * a restart-only parameter changes.
 */
export function setParametersWorkflow(restartSteps: Step[], finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  const hasStatic = (ctx: WorkflowContext) => payload(ctx).changes.some((c) => c.apply === 'static');
  const guarded: Step[] = restartSteps.map((s) => ({
    name: s.name,
    async run(ctx) {
      if (!hasStatic(ctx)) return;
      try {
        await s.run(ctx);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const statics = payload(ctx).changes.filter((c) => c.apply === 'static').map((c) => c.name);
        const back = await rollBack(ctx).catch((e: Error) => `setting values back failed too: ${e.message}`);
        throw new Error(
          `the rolling restart for ${statics.join(', ')} failed (${reason}); ${back}; nodes restarted before the failure run the new ` +
            `${statics.join(', ')} until their next restart`,
        );
      }
    },
  }));
  return {
    steps: [
      {
        name: 'apply-parameters',
        async run(ctx) {
          await refreshTopology(ctx);
          const p = payload(ctx);
          const dynamic = Object.fromEntries(p.changes.filter((c) => c.apply === 'dynamic').map((c) => [c.name, c.value]));
          const applied = await applyRuntime(ctx, dynamic);
          const statics = Object.fromEntries(p.changes.filter((c) => c.apply === 'static').map((c) => [c.name, c.value]));
          try {
            await persist(ctx, { ...p.before, ...applied, ...statics });
          } catch (err) {
            const back = await rollBack(ctx).catch((e: Error) => `setting values back failed too: ${e.message}`);
            throw new Error(`the new values could not be kept (${(err as Error).message}); ${back}`);
          }
          if (Object.keys(applied).length > 0) await ctx.event(`parameters applied on every running data node: ${describe(applied)}`);
          if (Object.keys(statics).length > 0) await ctx.event(`restart-only parameters ${describe(statics)}: applying by a rolling restart`);
        },
      },
      ...guarded,
    ],
    async onFailure() {
      // The steps set back what they changed before failing (their error says so).
    },
    finish,
  };
}

/** The value the service holds for a parameter on a node, or undefined when it does not check it. */
export function heldValue(def: ParameterDef, node: NodeSpec, tenant: Record<string, string>): string | undefined {
  const e = def.engines[node.engine];
  if (!e) return undefined;
  if (tenant[def.name] !== undefined) return tenant[def.name];
  switch (def.name) {
    case 'maxmemory':
      return String(node.maxMemoryBytes);
    case 'auto-aof-rewrite-percentage':
      return node.keepWriteLog ? '0' : '100';
    case 'proc-title-template':
      return procTitleTemplate(node.nodeId);
    case 'bind':
    case 'bind-source-addr':
    case 'replica-announce-ip':
      return node.ip;
    case 'port':
      return String(node.port);
    default:
      return def.derived ? undefined : e.default;
  }
}

/**
 * Synchronize Parameter Values: every running data node is read; each value that differs from
 * the service's is an event, and runtime ones are set back at once (one CONFIG SET per node).
 * Restart-only ones are in the node's configuration file again and apply at its next restart.
 */
export function syncParametersWorkflow(finish: (ctx: WorkflowContext) => Promise<void>): Workflow {
  return {
    steps: [
      {
        name: 'sync-parameters',
        async run(ctx) {
          await refreshTopology(ctx);
          // The files first: a node that restarts from here on runs the service's values.
          await each(ctx.nodes.data, (n) => ctx.driver.configure(n));
          let differences = 0;
          for (const node of await runningData(ctx)) {
            const defs = PARAMETERS.filter((d) => heldValue(d, node, node.parameters ?? {}) !== undefined);
            const running = await configGet(endpointOf(node), defs.map((d) => d.name));
            const fix: Record<string, string> = {};
            const later: string[] = [];
            for (const d of defs) {
              const want = heldValue(d, node, node.parameters ?? {})!;
              const have = running[d.name];
              if (have === undefined || have === want) continue;
              differences++;
              if (d.apply === 'dynamic') fix[d.name] = want;
              else later.push(d.name);
              await ctx.event(
                `${nameOf(ctx, node)}: ${d.name} was ${JSON.stringify(have)}, the service holds ${JSON.stringify(want)}` +
                  (d.apply === 'dynamic' ? '; set back' : '; applies at the node\'s next restart'),
              );
            }
            if (Object.keys(fix).length > 0) await configSet(endpointOf(node), fix);
          }
          await ctx.event(differences === 0 ? 'parameters: every data node runs the service\'s values' : `parameters: ${differences} difference(s) found`);
        },
      },
    ],
    async onFailure() {},
    finish,
  };
}
