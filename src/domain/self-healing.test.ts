import { describe, expect, it } from 'vitest';
import { backoffDelay, choosePrimary, restartDecision, type PrimaryCandidate, type RestartPolicy } from './self-healing.js';

const P: RestartPolicy = { firstDelayMs: 1000, maxDelayMs: 8000, maxStarts: 5, windowMs: 60_000 };

describe('restart backoff', () => {
  it('waits 1, 2, 4 s… capped', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, P))).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it('starts a node found dead once the first delay has passed since it was found', () => {
    expect(restartDecision({ deadSince: 5000, starts: [] }, 5000, P)).toEqual({ kind: 'wait', untilMs: 6000 });
    expect(restartDecision({ deadSince: 5000, starts: [] }, 6000, P)).toEqual({ kind: 'restart', attempt: 1 });
  });

  it('waits the backoff after the last start, counted from that start', () => {
    const h = { deadSince: 0, starts: [1000, 3000] };
    expect(restartDecision(h, 6500, P)).toEqual({ kind: 'wait', untilMs: 7000 });
    expect(restartDecision(h, 7000, P)).toEqual({ kind: 'restart', attempt: 3 });
  });

  it('counts the wait from the death when the node ran for a while after its last start', () => {
    // Started at 1 s, ran, found dead again at 30 s: the second start waits 2 s from then.
    expect(restartDecision({ deadSince: 30_000, starts: [1000] }, 30_500, P)).toEqual({ kind: 'wait', untilMs: 32_000 });
  });

  it('gives up after maxStarts starts within the window, and not for starts older than it', () => {
    const starts = [1000, 3000, 7000, 15_000, 23_000];
    expect(restartDecision({ deadSince: 0, starts }, 24_000, P)).toEqual({ kind: 'give-up', starts: 5 });
    // Once the first start is out of the window, four recent ones remain: a fifth is allowed.
    expect(restartDecision({ deadSince: 0, starts }, 61_500, P)).toEqual({ kind: 'restart', attempt: 5 });
  });
});

function node(nodeId: string, o: Partial<PrimaryCandidate> = {}): PrimaryCandidate {
  return { nodeId, lastWriteAt: null, hasData: true, sentinelEpoch: null, storePrimary: false, ...o };
}

describe('choosing the primary of an HA cluster whose every data node died', () => {
  it('keeps the primary the store names when it logged the latest write', () => {
    const c = choosePrimary([node('a', { storePrimary: true, lastWriteAt: 100 }), node('b', { lastWriteAt: 90 }), node('c', { lastWriteAt: 95 })]);
    expect(c.nodeId).toBe('a');
  });

  it('trusts the newest Sentinel configuration over the store (a failover the service did not see)', () => {
    const c = choosePrimary([
      node('a', { storePrimary: true, lastWriteAt: 100, sentinelEpoch: 1 }),
      node('b', { lastWriteAt: 101, sentinelEpoch: 2 }),
    ]);
    expect(c.nodeId).toBe('b');
    expect(c.why).toMatch(/epoch 2/);
  });

  it('never picks a replica whose write lands a second after the primary’s last one (it applied it later)', () => {
    // The replica applied the primary's last writes in the next second; it may lack later ones.
    const c = choosePrimary([node('a', { storePrimary: true, lastWriteAt: 100 }), node('b', { lastWriteAt: 101 }), node('c', { lastWriteAt: 102 })]);
    expect(c.nodeId).toBe('a');
  });

  it('picks the node that logged writes well after the recorded primary stopped (it was promoted)', () => {
    const c = choosePrimary([node('a', { storePrimary: true, lastWriteAt: 100 }), node('b', { lastWriteAt: 140 }), node('c', { lastWriteAt: 120 })]);
    expect(c.nodeId).toBe('b');
    expect(c.why).toMatch(/latest write/);
  });

  it('keeps the recorded primary when it logged nothing since its last rewrite (its writes are in the base)', () => {
    const c = choosePrimary([node('a', { storePrimary: true, lastWriteAt: null }), node('b', { lastWriteAt: 140 })]);
    expect(c.nodeId).toBe('a');
  });

  it('keeps the recorded primary when no node logged any write since its last rewrite', () => {
    const c = choosePrimary([node('a'), node('b', { storePrimary: true }), node('c')]);
    expect(c.nodeId).toBe('b');
  });

  it('never picks a node with nothing on disk over one with data', () => {
    const c = choosePrimary([node('a', { storePrimary: true, hasData: false }), node('b')]);
    expect(c.nodeId).toBe('b');
  });
});
