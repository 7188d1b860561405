// SIGKILL of the service in the middle of every workflow, a sample of the points: each workflow
// right after its claim, after its middle step and after its last step (the exhaustive sweep of
// every point is `npm run test:crash-sweep`, test/crash-sweep/). After each restart on the same
// data dir every request ends COMPLETED (or FAILED with a reason), Show is what runs, and no
// process or file is left that no cluster accounts for (test/support/crash-sweep.ts).
import { describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import { sampleRounds, SWEPT, sweep } from '../support/crash-sweep.js';

describe('SIGKILL after a step of every workflow (sample)', () => {
  const cs = useChildServices('cachestore-crashsweep-', { listenTimeoutMs: 300_000 });

  it(`resumes ${SWEPT.length} workflows killed at their first, middle and last points, and leaves nothing untrue`, async () => {
    const out = await sweep(cs, sampleRounds(), (line) => console.log(line));
    expect(out.rounds).toBe(3);
    if (out.failed.length > 0) console.log(`requests that ended FAILED (with a reason):\n${out.failed.join('\n')}`);
  }, 900_000);
});
