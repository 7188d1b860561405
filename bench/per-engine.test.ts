import { describe, expect, it } from 'vitest';
import { median } from './per-engine.js';

describe('median (the figure every benchmark prints)', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([7])).toBe(7);
  });
  it('is the mean of the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 20])).toBe(15);
  });
  it('is NaN for no values', () => {
    expect(median([])).toBeNaN();
  });
});
