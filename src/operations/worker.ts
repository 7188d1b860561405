// Executes the operations ledger. A worker claims a request with a lease, keeps the lease alive
// with a heartbeat, runs the workflow's steps from the one after the last recorded step, and
// records the outcome. A request whose worker died (lease expired) is claimed again and resumes.
import { randomUUID } from 'node:crypto';
import { releasesAutoRestartHold, TRANSITIONS } from '../domain/lifecycle.js';
import { WAITING_PREFIX } from '../domain/maintenance-window.js';
import type { OperationRequest, ServiceState } from '../domain/model.js';
import type { Clock, Lease, Store } from '../domain/ports.js';
import type { Driver } from '../drivers/driver.js';
import type { AllowLists } from './allow-lists.js';
import { clusterNodes, DEFAULT_SENTINEL_TIMINGS, type SentinelTimings } from './nodes.js';
import type { BackupTools, WorkflowContext } from './workflow.js';
import { WORKFLOWS } from './workflows/index.js';
import { LeaseLost } from './lease.js';
import type { OperationsMetrics } from './service-metrics.js';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WorkerOptions {
  store: Store;
  driver: Driver;
  clock: Clock;
  logger: Logger;
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  /** Test hook: pause after each recorded step, so a test can kill the service mid-operation. */
  stepDelayMs?: number;
  /**
   * Test hook: awaited with the number of steps done (0 right after the claim, then after each
   * recorded step). The crash sweep (CACHESTORE_DEBUG_CRASH_AFTER_STEP) holds a request here and
   * kills the process.
   */
  afterStep?: (request: OperationRequest, stepsDone: number) => Promise<void> | void;
  sentinelTimings?: SentinelTimings;
  backups: BackupTools;
  allowLists: AllowLists;
  /** Step durations and request outcomes for GET /metrics. */
  metrics?: Pick<OperationsMetrics, 'step' | 'finished'>;
  /** Called when a cluster's operation finished (e.g. to watch its Sentinels). */
  onFinished?: (clusterId: string) => void;
}

export class Worker {
  /** Names the process (its pid) for people reading the ledger's lease owner; unique by the UUID. */
  readonly id = `worker-${process.pid}-${randomUUID()}`;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids of the requests this worker runs now: it never claims one of them again. */
  private readonly runningIds = new Set<string>();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  /** Public so a second worker on the same store (another replica) can be made like this one. */
  constructor(readonly o: WorkerOptions) {
    this.concurrency = o.concurrency ?? 16;
    this.leaseMs = o.leaseMs ?? 15_000;
    this.pollMs = o.pollMs ?? 1_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Wakes the claim loop at once (a request was just recorded). */
  notify(): void {
    this.wake?.();
  }

  /** Stops claiming and waits for the requests in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: OperationRequest | undefined;
      if (this.inFlight.size < this.concurrency) {
        try {
          const now = this.o.clock.now();
          claimed = await this.o.store.claimRequest(this.id, now.getTime(), this.leaseMs, now.toISOString(), [...this.runningIds]);
        } catch (err) {
          this.o.logger.error({ err }, 'claiming a request failed');
        }
      }
      if (claimed) {
        const id = claimed.id;
        this.runningIds.add(id);
        const p = this.execute(claimed).finally(() => {
          this.runningIds.delete(id);
          this.inFlight.delete(p);
          this.notify();
        });
        this.inFlight.add(p);
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private async execute(request: OperationRequest): Promise<void> {
    const { store, logger } = this.o;
    const now = () => this.o.clock.now().toISOString();
    const lease = { requestId: request.id, workerId: this.id };
    // Once another worker holds the request, this one never acts on it again.
    let lost = false;
    const renew = async (): Promise<boolean> => {
      if (lost) return false;
      if (!(await store.renewLease(request.id, this.id, Date.now() + this.leaseMs))) lost = true;
      return !lost;
    };
    const heartbeat = setInterval(() => {
      renew().catch((err) => logger.warn({ err }, 'lease renewal failed'));
    }, Math.max(200, Math.floor(this.leaseMs / 3)));
    const log = { request_id: request.id, cluster_id: request.clusterId, operation: request.operation };
    let ctx: WorkflowContext | undefined;
    const workflow = WORKFLOWS[request.operation];
    try {
      ctx = await this.context(request, now, lease);
      // A request released from waiting for its maintenance window starts from its first step.
      const waited = request.step?.startsWith(WAITING_PREFIX) ?? false;
      const resumeAt = request.step && !waited ? workflow.steps.findIndex((s) => s.name === request.step) + 1 : 0;
      if (request.step && !waited) {
        await ctx.event(`${request.operation} resumed after step '${request.step}'`);
        logger.info({ ...log, step: request.step }, 'resuming request');
      } else {
        await ctx.event(`${request.operation} started`);
      }
      await this.o.afterStep?.(request, resumeAt);
      for (const [i, step] of workflow.steps.slice(resumeAt).entries()) {
        if (!(await renew())) throw new LeaseLost(lease);
        const t0 = Date.now();
        await step.run(ctx);
        await store.recordStep(request.id, this.id, step.name, now());
        const ms = Date.now() - t0;
        logger.info({ ...log, step: step.name, ms }, 'step done');
        this.o.metrics?.step(request.operation, step.name, ms / 1000);
        await this.o.afterStep?.(request, resumeAt + i + 1);
        if (this.o.stepDelayMs) await new Promise((r) => setTimeout(r, this.o.stepDelayMs));
      }
      if (workflow.finish) await workflow.finish(ctx);
      else await this.finish(ctx, 'success');
      await ctx.event(`${request.operation} completed`);
      if (releasesAutoRestartHold(request.operation)) await store.releaseAutoRestart(request.clusterId);
      if (!(await store.finishRequest(request.id, 'COMPLETED', null, now(), this.id))) throw new LeaseLost(lease);
      logger.info(log, 'request completed');
      this.o.metrics?.finished(request, 'COMPLETED');
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // A step that failed because the lease went (recordStep refuses a worker that lost it)
      // is the new holder's to finish: no clean-up, no state, no outcome from here.
      if (err instanceof LeaseLost || !(await renew().catch(() => false))) {
        logger.warn({ ...log, reason: error.message }, 'lease taken over by another worker; leaving the request to it');
        return;
      }
      logger.warn({ ...log, reason: error.message }, 'request failed');
      try {
        if (ctx) {
          await workflow.onFailure(ctx, error);
          await ctx.event(`${request.operation} failed: ${error.message}`);
          // Workflows that report what they find tell the truth after a failure too.
          if (workflow.finish) await workflow.finish(ctx);
          else await this.finish(ctx, 'failure');
        } else {
          await store.setClusterStateHeld(request.clusterId, TRANSITIONS[request.operation].failure, now(), lease);
        }
        // A cluster an operation left ERROR is the operator's to look at: the service does not
        // start its processes again by itself until the next Start or Restart.
        if (TRANSITIONS[request.operation].during !== null && (await store.findCluster(null, request.clusterId))?.serviceState === 'ERROR') {
          await store.holdAutoRestart(request.clusterId, `${request.operation} failed: ${error.message}`, now());
        }
      } catch (cleanupErr) {
        logger.error({ ...log, err: cleanupErr }, 'clean-up after a failed request failed');
      }
      await store.finishRequest(request.id, 'FAILED', error.message, now(), this.id).catch((e) => logger.error({ err: e }, 'recording a failure failed'));
      this.o.metrics?.finished(request, 'FAILED');
    } finally {
      clearInterval(heartbeat);
      this.o.onFinished?.(request.clusterId);
    }
  }

  private async context(request: OperationRequest, now: () => string, lease: Lease): Promise<WorkflowContext> {
    const { store, driver } = this.o;
    const secrets = await store.clusterSecrets(request.clusterId);
    const timings = this.o.sentinelTimings ?? DEFAULT_SENTINEL_TIMINGS;
    const load = async () => {
      const detail = await store.clusterDetail(null, request.clusterId);
      if (!detail) throw new Error('the cluster no longer exists');
      return { detail, nodes: clusterNodes(detail, secrets, timings) };
    };
    const first = await load();
    const ctx: WorkflowContext = {
      request,
      cluster: first.detail.cluster,
      detail: first.detail,
      nodes: first.nodes,
      store,
      driver,
      backups: this.o.backups,
      allowLists: this.o.allowLists,
      now,
      lease,
      event: (message) => store.addEvent(request.clusterId, request.id, message, now()),
      async reload() {
        const next = await load();
        ctx.cluster = next.detail.cluster;
        ctx.detail = next.detail;
        ctx.nodes = next.nodes;
      },
    };
    return ctx;
  }

  /** Moves instances and cluster to where the operation ends. */
  private async finish(ctx: WorkflowContext, outcome: 'success' | 'failure'): Promise<void> {
    const { store, driver } = ctx;
    const t = TRANSITIONS[ctx.request.operation];
    for (const inst of ctx.detail.instances) {
      let state: ServiceState = t.success;
      if (outcome === 'failure') {
        const node = ctx.nodes.all.find((n) => n.nodeId === inst.id);
        const healthy = node ? await driver.isHealthy(node) : false;
        // A cluster that never came up (create, restore) has FAILED instances, as it is FAILED itself.
        state = healthy ? 'RUNNING' : t.failure === 'FAILED' ? 'FAILED' : 'ERROR';
      }
      await store.setInstanceState(inst.id, state);
    }
    const state = outcome === 'success' ? t.success : t.failure;
    if (!(await store.setClusterStateHeld(ctx.cluster.id, state, ctx.now(), ctx.lease))) throw new LeaseLost(ctx.lease);
    await ctx.event(`cluster is ${state}`);
  }
}
