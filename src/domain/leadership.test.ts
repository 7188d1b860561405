import { describe, expect, it } from 'vitest';
import { actsUntil, checkTimings, DEFAULT_LEADERSHIP, leadershipChange, leadershipTimings, mayTake } from './leadership.js';

describe('leadership lease decisions', () => {
  const NOW = 1_000_000;

  it('may be taken when nobody holds it, when it expired, or by its holder', () => {
    expect(mayTake(undefined, 'a', NOW)).toBe(true);
    expect(mayTake({ holder: null, term: 3, untilMs: NOW + 5000 }, 'a', NOW)).toBe(true);
    expect(mayTake({ holder: 'b', term: 3, untilMs: NOW }, 'a', NOW)).toBe(true);
    expect(mayTake({ holder: 'a', term: 3, untilMs: NOW + 5000 }, 'a', NOW)).toBe(true);
    expect(mayTake({ holder: 'b', term: 3, untilMs: NOW + 1 }, 'a', NOW)).toBe(false);
  });

  it('lets the leader act only until before the store lets anyone else take the lease', () => {
    const t = DEFAULT_LEADERSHIP;
    const sent = NOW;
    // The store ran the renewal at or after it was sent: its expiry is at least sent + lease.
    const storeExpiry = sent + t.leaseMs;
    expect(actsUntil(sent, t)).toBeLessThan(storeExpiry);
    expect(storeExpiry - actsUntil(sent, t)).toBe(t.marginMs);
  });

  it('starts duties on a valid lease, stops them when it is lost or ran out, and changes nothing otherwise', () => {
    expect(leadershipChange(false, true, NOW, NOW + 1)).toBe('take-duties');
    expect(leadershipChange(true, true, NOW, NOW + 1)).toBe('none');
    expect(leadershipChange(true, false, NOW, NOW + 1)).toBe('drop-duties');
    // Renewed in the store but too late by this process's clock (it stalled): not leading.
    expect(leadershipChange(true, true, NOW, NOW)).toBe('drop-duties');
    expect(leadershipChange(false, true, NOW, NOW)).toBe('none');
    expect(leadershipChange(false, false, NOW, NOW + 1)).toBe('none');
  });

  it('accepts timings whose acting part holds two renewals, and derives such timings from a lease length', () => {
    expect(checkTimings(DEFAULT_LEADERSHIP)).toBeNull();
    expect(checkTimings({ leaseMs: 2000, renewMs: 1000, marginMs: 500 })).toMatch(/two renewals/);
    expect(checkTimings({ leaseMs: 2000, renewMs: 0, marginMs: 500 })).toMatch(/positive/);
    for (const lease of [1000, 5000, 60_000]) expect(checkTimings(leadershipTimings(lease))).toBeNull();
    expect(leadershipTimings(5000)).toEqual(DEFAULT_LEADERSHIP);
  });
});
