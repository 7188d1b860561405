// The exhaustive crash sweep (npm run test:crash-sweep): the service SIGKILLed after every step
// of every swept workflow, all workflows at once per kill (test/support/crash-sweep.ts). Not in
// the default suite for its time: there test/e2e/crash-sweep.test.ts runs the first, middle and
// last point of each workflow.
import { describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import { exhaustiveRounds, stepsOf, SWEPT, sweep } from '../support/crash-sweep.js';

describe('SIGKILL after every step of every workflow', () => {
  const cs = useChildServices('cachestore-crashsweep-all-', { listenTimeoutMs: 300_000 });

  it('resumes every workflow from every point and leaves nothing untrue', async () => {
    const rounds = exhaustiveRounds();
    const points = SWEPT.reduce((n, w) => n + stepsOf(w.operation) + 1, 0);
    console.log(`${SWEPT.length} workflows, ${points} points, ${rounds.length} kills`);
    const out = await sweep(cs, rounds, (line) => console.log(line));
    expect(out.rounds).toBe(rounds.length);
    if (out.failed.length > 0) console.log(`requests that ended FAILED (with a reason):\n${out.failed.join('\n')}`);
  }, 3_600_000);
});
