// Keeps the kernel's allow-list rules equal to what the store says: every rebuild reads every
// live cluster and hands the whole rule set to the firewall at once. Rebuilds run one at a
// time, each reading the store afresh, so an older read never overwrites a newer one.
import { accessOf, type ClusterAccess } from '../domain/allow-list.js';
import { SERVICE_STATES } from '../domain/model.js';
import type { Store } from '../domain/ports.js';
import type { Firewall } from '../drivers/driver.js';

/** Clusters that may have processes (and so rules). */
const LIVE = SERVICE_STATES.filter((s) => s !== 'TERMINATED' && s !== 'FAILED');

export class AllowLists {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly firewall: Firewall,
  ) {}

  /** null while the rules are enforced; otherwise why they are not. */
  get unavailable(): string | null {
    return this.firewall.unavailable;
  }

  /**
   * Where rules cannot be enforced, says so in the events of every live cluster that has a list
   * (at each start: the machine may have changed since the list was given).
   */
  async reportUnenforced(at: string): Promise<void> {
    const why = this.firewall.unavailable;
    if (!why) return;
    for (const c of await this.store.clustersInStates(LIVE)) {
      if (c.allowableIpAddresses.length === 0) continue;
      await this.store.addEvent(c.id, null, `allow-list (${c.allowableIpAddresses.join(', ')}) recorded but NOT enforced: ${why}`, at);
    }
  }

  /** Rebuilds every rule from the store; resolves when the kernel holds them. */
  rebuild(): Promise<void> {
    const run = this.chain.then(async () => {
      const live = await this.store.clustersInStates(LIVE);
      const rules: ClusterAccess[] = [];
      for (const c of live) {
        const detail = await this.store.clusterDetail(null, c.id);
        const access = detail && accessOf(detail);
        if (access) rules.push(access);
      }
      await this.firewall.apply(rules);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}
