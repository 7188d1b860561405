import { describe, expect, it } from 'vitest';
import { parseCrashPoints } from '../config.js';
import { CrashPoints } from './crash-points.js';

const at = (ms: number) => new Date(ms).toISOString();
const req = (id: string, operation: string, createdMs: number) => ({ id, operation, createdAt: at(createdMs) }) as any;

describe('crash points (CACHESTORE_DEBUG_CRASH_AFTER_STEP)', () => {
  it('parses a list of <operation>:<steps done> and refuses anything else', () => {
    expect(parseCrashPoints('restart:2, create:0,create:0')).toEqual([
      { operation: 'restart', stepsDone: 2 },
      { operation: 'create', stepsDone: 0 },
      { operation: 'create', stepsDone: 0 },
    ]);
    expect(parseCrashPoints(undefined)).toEqual([]);
    expect(parseCrashPoints('')).toEqual([]);
    for (const bad of ['restart', 'restart:x', 'Restart:1', 'restart:-1', 'restart:1;stop:2']) expect(() => parseCrashPoints(bad), bad).toThrow(/entries look like/);
  });

  it('holds one request per point and dies once every point holds one', () => {
    let died = 0;
    const p = new CrashPoints(parseCrashPoints('stop:1,create:2,create:2'), 1000, () => died++);
    expect(p.take(req('a', 'stop', 1000), 0)).toBe(-1);
    expect(p.take(req('a', 'stop', 1000), 1)).toBe(0);
    // A point is taken once; a request takes one point only.
    expect(p.take(req('b', 'stop', 1000), 1)).toBe(-1);
    expect(p.take(req('c', 'create', 1001), 2)).toBe(1);
    expect(p.take(req('c', 'create', 1001), 2)).toBe(-1);
    expect(p.complete).toBe(false);
    void p.afterStep(req('d', 'create', 1002), 2);
    expect(p.complete).toBe(true);
    expect(died).toBe(1);
  });

  it('never holds a request accepted before this process started (it resumes and finishes)', () => {
    let died = 0;
    const p = new CrashPoints(parseCrashPoints('stop:0'), 5000, () => died++);
    expect(p.afterStep(req('old', 'stop', 4999), 0)).toBeUndefined();
    expect(died).toBe(0);
    expect(p.afterStep(req('new', 'stop', 5000), 0)).toBeInstanceOf(Promise);
    expect(died).toBe(1);
  });
});
