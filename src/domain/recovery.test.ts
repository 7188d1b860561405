import { describe, expect, it } from 'vitest';
import type { BackupHistory } from './model.js';
import { describeCoverage, recoveryWindows, windowFor, type LogState } from './recovery.js';

const T0 = Date.UTC(2026, 10, 27, 0, 0, 0);
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const sec = (s: number) => Math.floor(T0 / 1000) + s;

function backup(id: string, snapshot: number, o: Partial<BackupHistory> = {}): BackupHistory {
  return { id, state: 'COMPLETED', snapshotAt: iso(snapshot) + '', logFile: `${id}.log`, logEndAt: null, sourceInstanceId: 'n1', ...o } as BackupHistory;
}

describe('point-in-time recovery windows', () => {
  const now = new Date(T0 + 1000 * 1000);
  it('runs a closed log to the next backup, a live log to now, a stopped one to its last write', () => {
    const logs = new Map<string, LogState | null>([
      ['a.log', { live: false, lastWriteAt: new Date(T0 + 90_000) }],
      ['b.log', { live: true, lastWriteAt: new Date(T0 + 150_000) }],
      ['c.log', { live: false, lastWriteAt: new Date(T0 + 700_500) }],
    ]);
    const w = recoveryWindows([backup('a', 10, { logEndAt: iso(100) }), backup('b', 100), backup('c', 600)], logs, () => true, now);
    // A live log reaches the last whole second before now.
    expect(w.map((x) => [x.backup.id, x.from - sec(0), x.to - sec(0)])).toEqual([['a', 10, 100], ['b', 100, 999], ['c', 600, 700]]);
    // The newest backup that covers the second is used.
    expect(windowFor(w, sec(650))?.backup.id).toBe('c');
    expect(windowFor(w, sec(100))?.backup.id).toBe('b');
    expect(windowFor(w, sec(9))).toBeUndefined();
    expect(describeCoverage(w)).toBe('2026-11-27T00:00:10Z to 2026-11-27T00:16:39Z');
  });

  it('does not trust a live log of a node that is down, nor a lost log, nor failed backups', () => {
    const logs = new Map<string, LogState | null>([['a.log', { live: true, lastWriteAt: new Date(T0 + 50_000) }], ['b.log', null]]);
    const w = recoveryWindows([backup('a', 10), backup('b', 200), backup('f', 300, { state: 'FAILED' })], logs, () => false, now);
    expect(w.map((x) => [x.backup.id, x.from - sec(0), x.to - sec(0)])).toEqual([['a', 10, 50], ['b', 200, 200]]);
    expect(describeCoverage(w)).toBe('2026-11-27T00:00:10Z to 2026-11-27T00:00:50Z, 2026-11-27T00:03:20Z');
    expect(describeCoverage([])).toMatch(/no completed backup exists yet/);
  });
});
