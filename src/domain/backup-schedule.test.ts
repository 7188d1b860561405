import { describe, expect, it } from 'vitest';
import { expiredBackups, latestSlot, owedSlot } from './backup-schedule.js';
import type { BackupHistory } from './model.js';

describe('daily backup slots in the cluster time zone', () => {
  it('is the most recent starting hour at or before now, in local time', () => {
    // 2026-11-27 05:00 in Seoul (UTC+9) is 2026-11-26 20:00 UTC: today's 03:00 has passed.
    expect(latestSlot(new Date('2026-11-26T20:00:00Z'), 'Asia/Seoul', 3).toISOString()).toBe('2026-11-26T18:00:00.000Z');
    // At 02:59 local it is still yesterday's.
    expect(latestSlot(new Date('2026-11-26T17:59:00Z'), 'Asia/Seoul', 3).toISOString()).toBe('2026-11-25T18:00:00.000Z');
    expect(latestSlot(new Date('2026-11-26T18:00:00Z'), 'Asia/Seoul', 3).toISOString()).toBe('2026-11-26T18:00:00.000Z');
    expect(latestSlot(new Date('2026-06-01T12:00:00Z'), 'UTC', 0).toISOString()).toBe('2026-06-01T00:00:00.000Z');
  });

  it('follows daylight saving time: 02:00 in New York is 06:00 UTC in summer, 07:00 in winter', () => {
    expect(latestSlot(new Date('2026-07-01T12:00:00Z'), 'America/New_York', 2).toISOString()).toBe('2026-07-01T06:00:00.000Z');
    expect(latestSlot(new Date('2026-12-01T12:00:00Z'), 'America/New_York', 2).toISOString()).toBe('2026-12-01T07:00:00.000Z');
    // 2026-03-08 02:00 does not exist there (clocks jump to 03:00): the backup runs at 03:00 EDT.
    expect(latestSlot(new Date('2026-03-08T12:00:00Z'), 'America/New_York', 2).toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('owes the latest slot once, and none from before the schedule was set', () => {
    const option = { retentionPeriodDay: '7', startingTimeHour: '3', enabledAt: '2026-11-26T19:00:00Z' };
    const now = new Date('2026-11-27T18:30:00Z');
    expect(owedSlot(now, 'Asia/Seoul', option, new Set())).toBe('2026-11-27T18:00:00.000Z');
    expect(owedSlot(now, 'Asia/Seoul', option, new Set(['2026-11-27T18:00:00.000Z']))).toBeNull();
    // Set at 04:00 local, the 03:00 slot of that day is not owed.
    expect(owedSlot(new Date('2026-11-26T20:00:00Z'), 'Asia/Seoul', option, new Set())).toBeNull();
  });

  it('expires finished backups older than the retention period, never a running one', () => {
    const b = (id: string, startedAt: string, state: BackupHistory['state'] = 'COMPLETED') => ({ id, startedAt, state }) as BackupHistory;
    const now = new Date('2026-12-10T00:00:00Z');
    const all = [b('old', '2026-12-02T23:59:59Z'), b('edge', '2026-12-03T00:00:00Z'), b('new', '2026-12-09T00:00:00Z'), b('oldfail', '2026-11-01T00:00:00Z', 'FAILED'), b('run', '2026-11-01T00:00:00Z', 'RUNNING')];
    expect(expiredBackups(all, { retentionPeriodDay: '7', startingTimeHour: '0' }, now).map((x) => x.id)).toEqual(['old', 'oldfail']);
  });
});
