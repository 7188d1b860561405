import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { deferral, describeWindow, dueAction, isNewerPatch, optionFromSetBody, upgradeStepAction, windowAt } from './maintenance-window.js';

const tue3 = { startingDayOfWeek: 'TUE', startingTime: '0300', periodHour: '1' };

describe('windowAt', () => {
  it('is open from the start for its length, in the cluster time zone', () => {
    // 2026-12-01 is a Tuesday; 03:00 in Seoul (UTC+9) is Monday 18:00 UTC.
    const inside = windowAt(new Date('2026-11-30T18:30:00Z'), 'Asia/Seoul', tue3);
    expect(inside).toEqual({ open: true, start: new Date('2026-11-30T18:00:00Z'), end: new Date('2026-11-30T19:00:00Z') });
    expect(windowAt(new Date('2026-11-30T18:00:00Z'), 'Asia/Seoul', tue3).open).toBe(true);
    // The end is not inside: the next window is a week later.
    expect(windowAt(new Date('2026-11-30T19:00:00Z'), 'Asia/Seoul', tue3)).toEqual({
      open: false,
      start: new Date('2026-12-07T18:00:00Z'),
      end: new Date('2026-12-07T19:00:00Z'),
    });
    expect(windowAt(new Date('2026-11-30T17:59:59Z'), 'Asia/Seoul', tue3).start).toEqual(new Date('2026-11-30T18:00:00Z'));
  });

  it('keeps a window that crosses the end of the week open on Monday', () => {
    const sun23 = { startingDayOfWeek: 'SUN', startingTime: '2300', periodHour: '3' };
    // Monday 2026-11-30 01:00 UTC is inside Sunday 23:00 + 3 h.
    const s = windowAt(new Date('2026-11-30T01:00:00Z'), 'UTC', sun23);
    expect(s).toEqual({ open: true, start: new Date('2026-11-29T23:00:00Z'), end: new Date('2026-11-30T02:00:00Z') });
  });

  it('opens at the first minute after a start time that daylight saving skips, and lasts its real hours', () => {
    // Europe/Berlin springs forward on Sunday 2027-03-28 from 02:00 to 03:00.
    const sun0230 = { startingDayOfWeek: 'SUN', startingTime: '0230', periodHour: '1' };
    const s = windowAt(new Date('2027-03-27T12:00:00Z'), 'Europe/Berlin', sun0230);
    expect(s.open).toBe(false);
    expect(s.end.getTime() - s.start.getTime()).toBe(3600_000);
    expect(s.start.toISOString()).toBe('2027-03-28T01:30:00.000Z');
  });
});

describe('deferral', () => {
  it('waits outside the window, runs inside it or without one', () => {
    expect(deferral(new Date('2026-11-30T12:00:00Z'), 'Asia/Seoul', tue3)).toBe('waiting for the maintenance window Tue 03:00–04:00 Asia/Seoul');
    expect(deferral(new Date('2026-11-30T18:10:00Z'), 'Asia/Seoul', tue3)).toBeNull();
    expect(deferral(new Date('2026-11-30T12:00:00Z'), 'Asia/Seoul', null)).toBeNull();
    // An option without a day (recorded empty) is no window.
    expect(deferral(new Date(), 'UTC', { startingDayOfWeek: null, startingTime: null, periodHour: null })).toBeNull();
  });

  it('names a window that ends the next day with its day', () => {
    expect(describeWindow('UTC', { startingDayOfWeek: 'SAT', startingTime: '2230', periodHour: '2.5' })).toBe('Sat 22:30–Sun 01:00 UTC');
  });
});

describe('optionFromSetBody', () => {
  it('keeps the start as HHMM', () => {
    expect(optionFromSetBody({ start_day_of_week: 'WED', start_time: '3', start_minute: '5', term_hour: '0.5' })).toEqual({
      startingDayOfWeek: 'WED',
      startingTime: '0305',
      periodHour: '0.5',
    });
  });

  it.each([
    ['start_time', { start_time: '24' }],
    ['start_time', { start_time: '3am' }],
    ['start_minute', { start_minute: '60' }],
    ['start_minute', { start_minute: '' }],
    ['start_day_of_week', { start_day_of_week: 'FUNDAY' }],
    ['term_hour', { term_hour: '25' }],
  ])('names %s when it is bad', (field, bad) => {
    const body = { start_day_of_week: 'TUE', start_time: '03', start_minute: '00', term_hour: '1', ...bad };
    try {
      optionFromSetBody(body);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).fields?.[0].loc).toEqual(['body', field]);
    }
  });
});

describe('isNewerPatch', () => {
  it('only a higher patch of the same major and minor', () => {
    expect(isNewerPatch('7.0.16', '7.0.15')).toBe(true);
    expect(isNewerPatch('7.0.15', '7.0.15')).toBe(false);
    expect(isNewerPatch('7.0.14', '7.0.15')).toBe(false);
    expect(isNewerPatch('7.2.0', '7.0.15')).toBe(false);
    expect(isNewerPatch('8.0.10', '8.0.9')).toBe(true);
  });
});

describe('dueAction', () => {
  const closed = new Date('2026-11-30T12:00:00Z');
  const open = new Date('2026-11-30T18:10:00Z');
  it('waits while the window is closed, is released in it or without one', () => {
    expect(dueAction('RUNNING', closed, 'Asia/Seoul', tue3)).toBe('wait');
    expect(dueAction('RUNNING', open, 'Asia/Seoul', tue3)).toBe('release');
    expect(dueAction('RUNNING', closed, 'Asia/Seoul', null)).toBe('release');
    // ERROR or busy: released to the store, which keeps it waiting until the cluster is RUNNING and free.
    expect(dueAction('ERROR', open, 'Asia/Seoul', tue3)).toBe('release');
  });
  it('fails for a cluster that is gone at once, for a STOPPED one when it comes due', () => {
    expect(dueAction('TERMINATED', closed, 'Asia/Seoul', tue3)).toBe('fail-gone');
    expect(dueAction(null, closed, 'Asia/Seoul', tue3)).toBe('fail-gone');
    expect(dueAction('STOPPED', closed, 'Asia/Seoul', tue3)).toBe('wait');
    expect(dueAction('STOPPED', open, 'Asia/Seoul', tue3)).toBe('fail-stopped');
  });
});

describe('upgradeStepAction', () => {
  it('restarts onto a newer installed patch, and skips once the cluster records it', () => {
    expect(upgradeStepAction('restart-replicas', '8.0.2', '8.0.1')).toBe('run');
    expect(upgradeStepAction('switchover', '8.0.2', '8.0.2')).toBe('skip');
  });

  it('fails a step when the installed version cannot be read, rather than skipping it', () => {
    expect(upgradeStepAction('restart-replicas', null, '8.0.1')).toBe('unreadable');
    expect(upgradeStepAction('stop-old-primary', null, '8.0.1')).toBe('unreadable');
  });

  it('always starts what an earlier step stopped', () => {
    expect(upgradeStepAction('start-old-primary', null, '8.0.1')).toBe('run');
    expect(upgradeStepAction('start-old-primary', '8.0.1', '8.0.1')).toBe('run');
  });
});
