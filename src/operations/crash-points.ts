// Test hook behind CACHESTORE_DEBUG_CRASH_AFTER_STEP: the crash sweep (test/e2e/crash-sweep*)
// kills the service right after a chosen step of each workflow and checks what a restart makes
// of it. Several points at once: each listed point holds one request that reaches it, and once
// every point holds one the process dies by SIGKILL (no clean-up, as a power cut or the OOM
// killer would end it), so one kill interrupts many workflows, each exactly where asked.
import type { OperationRequest } from '../domain/model.js';

export interface CrashPoint {
  operation: string;
  /** Steps recorded when the request is held: 0 right after the claim, n after the last of n steps. */
  stepsDone: number;
}

export class CrashPoints {
  /** Which request holds each point (same index as the points), undefined while none does. */
  private readonly holders: Array<string | undefined>;

  /**
   * `since`: only requests accepted by this process count (their created_at is not before it),
   * so the requests a crash interrupted resume and finish on the next start.
   */
  constructor(
    private readonly points: readonly CrashPoint[],
    private readonly since: number,
    private readonly die: () => void,
  ) {
    this.holders = points.map(() => undefined);
  }

  /** The point `request` takes now, or -1. Pure bookkeeping, no waiting. */
  take(request: Pick<OperationRequest, 'id' | 'operation' | 'createdAt'>, stepsDone: number): number {
    if (Date.parse(request.createdAt) < this.since || this.holders.includes(request.id)) return -1;
    const i = this.points.findIndex((p, j) => this.holders[j] === undefined && p.operation === request.operation && p.stepsDone === stepsDone);
    if (i >= 0) this.holders[i] = request.id;
    return i;
  }

  get complete(): boolean {
    return this.holders.every((h) => h !== undefined);
  }

  /** The worker's afterStep: holds a request at its point forever; the last one kills the process. */
  readonly afterStep = (request: OperationRequest, stepsDone: number): Promise<void> | void => {
    if (this.take(request, stepsDone) < 0) return;
    if (this.complete) this.die();
    return new Promise<void>(() => undefined);
  };
}
