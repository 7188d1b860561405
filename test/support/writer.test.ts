import { describe, expect, it } from 'vitest';
import { AOF_WRITE_DELAY_MS, lostBeyondAofDelay } from './writer.js';

describe('lostBeyondAofDelay', () => {
  const killedAt = 100_000;
  const written = {
    acked: ['old', 'edge', 'recent', 'after'],
    ackedAt: [killedAt - AOF_WRITE_DELAY_MS - 1, killedAt - AOF_WRITE_DELAY_MS, killedAt - 10, killedAt + 500],
  };

  it('excuses only writes acknowledged in the engines\' delay window before the kill', () => {
    expect(lostBeyondAofDelay(['edge', 'recent'], written, killedAt)).toEqual([]);
  });

  it('reports an older write, and one acknowledged after the kill (by the restarted engine)', () => {
    expect(lostBeyondAofDelay(['old', 'recent', 'after'], written, killedAt)).toEqual(['old', 'after']);
  });
});
