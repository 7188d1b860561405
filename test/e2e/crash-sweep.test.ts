// SIGKILL of the service after every step of every workflow (test/support/crash-sweep.ts): all
// points, every workflow held at its point in each round and one kill per round. After each
// restart on the same data dir every request ends COMPLETED (or FAILED with a reason), Show is
// what runs, and no process or file is left that no cluster accounts for. The engine patch
// upgrade and Set Block Storage Size on real volumes run beside this on a service of their own
// (crash-sweep-upgrade-volumes.test.ts).
import { describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import { exhaustiveRounds, MAIN_PLAN, pointCount, sweep } from '../support/crash-sweep.js';

describe('SIGKILL after every step of every workflow', () => {
  const cs = useChildServices('cachestore-crashsweep-', { listenTimeoutMs: 300_000, cleanupTimeoutMs: 300_000 });
  const rounds = exhaustiveRounds(MAIN_PLAN.workflows);

  it(`resumes ${MAIN_PLAN.workflows.length} workflows from each of their ${pointCount(MAIN_PLAN.workflows)} points in ${rounds.length} kills, and leaves nothing untrue`, async () => {
    const out = await sweep(cs, MAIN_PLAN, rounds, (line) => console.log(line));
    expect(out.rounds).toBe(rounds.length);
    if (out.failed.length > 0) console.log(`requests that ended FAILED (with a reason):\n${out.failed.join('\n')}`);
  }, 2_400_000);
});
