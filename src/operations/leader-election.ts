// Elects the one service process, of several on one store, that runs the singleton duties (see
// duties.ts): a lease row renewed every second (domain/leadership.ts decides). Taking and dropping
// the duties run one after the other, apart from the renewals, so a long first look at every
// cluster never delays a renewal. A leader stops its duties when its lease ends by its own clock,
// even with the store unreachable (a partitioned or stalled leader), before another can take them.
import type { LeadershipStore } from '../domain/ports.js';
import { actsUntil, checkTimings, DEFAULT_LEADERSHIP, leadershipChange, type LeadershipTimings } from '../domain/leadership.js';
import type { Logger } from './worker.js';

export interface LeaderElectionOptions {
  store: LeadershipStore;
  /** This process, as the lease names it. */
  id: string;
  logger: Logger;
  timings?: LeadershipTimings;
  /** Start the duties (this process now leads). */
  lead(term: number): Promise<void>;
  /** Stop them (the lease is gone, or the service stops). */
  resign(): Promise<void>;
}

const NAME = 'duties';

export class LeaderElection {
  private readonly t: LeadershipTimings;
  private term: number | null = null;
  /** Until when (this process's clock) it may act as leader. */
  private deadline = 0;
  /** Whether the duties run here (or are being started). */
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** Starting and stopping the duties, in order. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly o: LeaderElectionOptions) {
    this.t = o.timings ?? DEFAULT_LEADERSHIP;
    const bad = checkTimings(this.t);
    if (bad) throw new Error(`leadership timings: ${bad}`);
  }

  /** Whether this process may act as the leader now. */
  isLeading(): boolean {
    return this.leading && Date.now() < this.deadline;
  }

  /** The first attempt, and the duties started if it won (awaited), then a renewal every renewMs. */
  async start(): Promise<void> {
    await this.tick();
    await this.transitions;
    this.schedule();
  }

  /** Stops renewing; the duties stop and the lease is given up, so another process leads at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    await this.ticking;
    if (this.leading) this.change(false);
    await this.transitions;
    if (this.term !== null) await this.o.store.releaseLeadership(NAME, this.o.id, this.term).catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.t.renewMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.ticking = this.attempt().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async attempt(): Promise<void> {
    const sent = Date.now();
    let holds: boolean;
    try {
      if (this.term !== null && (await this.o.store.renewLeadership(NAME, this.o.id, this.term, sent, this.t.leaseMs))) {
        holds = true;
      } else {
        const term = await this.o.store.takeLeadership(NAME, this.o.id, sent, this.t.leaseMs);
        if (term !== null && term !== this.term) this.o.logger.info({ holder: this.o.id, term }, 'this process leads the singleton duties now');
        this.term = term;
        holds = term !== null;
      }
      if (holds) this.setDeadline(actsUntil(sent, this.t));
    } catch (err) {
      // The store did not answer: a leader goes on until its deadline (the expiry timer ends it).
      this.o.logger.warn({ err }, 'renewing the leadership lease failed');
      holds = this.term !== null;
    }
    if (this.stopped) return;
    const change = leadershipChange(this.leading, holds, Date.now(), this.deadline);
    if (change === 'take-duties') this.change(true);
    else if (change === 'drop-duties') this.change(false);
  }

  private setDeadline(at: number): void {
    this.deadline = at;
    if (this.expiry) clearTimeout(this.expiry);
    // Fires only when no renewal came in time: a stalled or cut-off leader stops by itself.
    this.expiry = setTimeout(() => {
      if (this.leading && Date.now() >= this.deadline) {
        this.o.logger.warn({ holder: this.o.id, term: this.term }, 'the leadership lease ran out before it was renewed');
        this.term = null;
        this.change(false);
      }
    }, Math.max(0, at - Date.now()));
    this.expiry.unref();
  }

  private change(lead: boolean): void {
    this.leading = lead;
    const term = this.term ?? 0;
    this.transitions = this.transitions
      .then(() => (lead ? this.o.lead(term) : this.o.resign()))
      .catch((err: unknown) => this.o.logger.error({ err }, lead ? 'starting the singleton duties failed' : 'stopping the singleton duties failed'));
    if (!lead) this.o.logger.info({ holder: this.o.id }, 'this process no longer leads the singleton duties');
  }
}
