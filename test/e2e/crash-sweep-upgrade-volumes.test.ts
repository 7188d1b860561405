// The crash sweep's second service (test/support/crash-sweep.ts, UPGRADE_AND_VOLUMES_PLAN): the
// engine patch upgrade of an HA cluster, which the service asks for itself once engine wrappers
// announce a newer patch, and Set Block Storage Size on real loop-mounted XFS volumes, each killed
// after every one of its steps. It runs on its own data dir and /24, with volumes on (root, as CI),
// beside the main sweep (crash-sweep.test.ts), which runs with volumes off.
import { describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import { exhaustiveRounds, pointCount, sweep, UPGRADE_AND_VOLUMES_PLAN } from '../support/crash-sweep.js';

describe('SIGKILL after every step of the engine upgrade and of a real volume resize', () => {
  const cs = useChildServices('cachestore-crashsweep-uv-', { listenTimeoutMs: 300_000, cleanupTimeoutMs: 300_000 });
  const plan = UPGRADE_AND_VOLUMES_PLAN;
  const rounds = exhaustiveRounds(plan.workflows);

  it(`resumes both from each of their ${pointCount(plan.workflows)} points in ${rounds.length} kills: the new binary everywhere, volumes of the recorded size, nothing untrue`, async () => {
    const out = await sweep(cs, plan, rounds, (line) => console.log(line));
    expect(out.rounds).toBe(rounds.length);
    if (out.failed.length > 0) console.log(`requests that ended FAILED (with a reason):\n${out.failed.join('\n')}`);
  }, 2_400_000);
});
