// The weekly maintenance window: a day, a start time and a length, in the cluster's own time
// zone. Work that restarts nodes and need not run at once (restart-only parameters, command
// renames, engine patch upgrades) waits for it. Luxon does the time-zone arithmetic, daylight
// saving included (a start time that a spring-forward gap skips opens at the first minute after).
import { DateTime, type WeekdayNumbers } from 'luxon';
import { ValidationError } from './errors.js';
import type { MaintenanceOption, ServiceState } from './model.js';

export const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
const DAY_LABEL = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export interface SetMaintenanceBody {
  start_day_of_week: string;
  start_time: string;
  start_minute: string;
  term_hour: string;
}

/**
 * Set Maintenance's body as the option Show Cluster shows: `start_time` is the hour (0–23),
 * `start_minute` the minute (0–59), one or two digits each; the day and `term_hour` the contract
 * checks already (the day again here, for callers that skip the contract).
 */
export function optionFromSetBody(body: SetMaintenanceBody): MaintenanceOption {
  const loc = (f: string) => ['body', f];
  if (!(DAYS as readonly string[]).includes(body.start_day_of_week)) {
    throw ValidationError.field(loc('start_day_of_week'), `must be one of ${DAYS.join(', ')}`);
  }
  if (!/^\d{1,2}$/.test(body.start_time) || Number(body.start_time) > 23) {
    throw ValidationError.field(loc('start_time'), `'${body.start_time}' is not an hour of the day; give the hour the window starts, 00 to 23 (e.g. 03)`);
  }
  if (!/^\d{1,2}$/.test(body.start_minute) || Number(body.start_minute) > 59) {
    throw ValidationError.field(loc('start_minute'), `'${body.start_minute}' is not a minute; give 00 to 59 (e.g. 30)`);
  }
  if (!/^(0\.5|[1-5]\.5|[1-9]|1[0-9]|2[0-4])$/.test(body.term_hour)) {
    throw ValidationError.field(loc('term_hour'), `'${body.term_hour}' is not a window length; give hours 0.5 to 5.5 in half hours, or 1 to 24`);
  }
  const hh = body.start_time.padStart(2, '0');
  const mm = body.start_minute.padStart(2, '0');
  return { startingDayOfWeek: body.start_day_of_week, startingTime: `${hh}${mm}`, periodHour: body.term_hour };
}

interface Parsed {
  /** ISO weekday, 1 = Monday. */
  weekday: number;
  hour: number;
  minute: number;
  minutes: number;
}

function parse(o: MaintenanceOption): Parsed | null {
  const day = DAYS.indexOf((o.startingDayOfWeek ?? '') as (typeof DAYS)[number]);
  const m = /^(\d{2})(\d{2})$/.exec(o.startingTime ?? '');
  const hours = Number(o.periodHour);
  if (day < 0 || !m || !(hours > 0)) return null;
  return { weekday: day + 1, hour: Number(m[1]), minute: Number(m[2]), minutes: Math.round(hours * 60) };
}

/** Whether the option names a window at all (Create Cluster may record an empty one). */
export function hasWindow(o: MaintenanceOption | null | undefined): o is MaintenanceOption {
  return !!o && parse(o) !== null;
}

export interface WindowState {
  open: boolean;
  /** The window open now, or else the next one. */
  start: Date;
  end: Date;
}

/** Where `now` stands against the weekly window (UTC instants). */
export function windowAt(now: Date, timezone: string, o: MaintenanceOption): WindowState {
  const p = parse(o);
  if (!p) throw new Error('not a maintenance window');
  const local = DateTime.fromJSDate(now, { zone: timezone });
  let next: WindowState | null = null;
  // Last week's window may still be open (a long one that crosses the week's end).
  for (const k of [-1, 0, 1]) {
    const start = local.plus({ weeks: k }).set({ weekday: p.weekday as WeekdayNumbers, hour: p.hour, minute: p.minute, second: 0, millisecond: 0 });
    // Minutes are real time: a window over a daylight-saving change still lasts its hours.
    const end = start.plus({ minutes: p.minutes });
    const s = start.toMillis();
    const e = end.toMillis();
    if (s <= now.getTime() && now.getTime() < e) return { open: true, start: start.toJSDate(), end: end.toJSDate() };
    if (s > now.getTime() && (!next || s < next.start.getTime())) next = { open: false, start: start.toJSDate(), end: end.toJSDate() };
  }
  return next!;
}

/** "Tue 03:00–04:00 Asia/Seoul": the window as a person reads it. */
export function describeWindow(timezone: string, o: MaintenanceOption): string {
  const p = parse(o);
  if (!p) return 'no window';
  const startMin = p.hour * 60 + p.minute;
  const endMin = startMin + p.minutes;
  const hhmm = (m: number) => `${String(Math.floor((m % 1440) / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const endDay = Math.floor(endMin / 1440) > 0 ? `${DAY_LABEL[(p.weekday - 1 + Math.floor(endMin / 1440)) % 7]} ` : '';
  return `${DAY_LABEL[p.weekday - 1]} ${hhmm(startMin)}–${endDay}${hhmm(endMin)} ${timezone}`;
}

/** The step a request shows while it waits (Show Request Details' last_step). */
export const WAITING_PREFIX = 'waiting for the maintenance window';

export function waitingLabel(timezone: string, o: MaintenanceOption): string {
  return `${WAITING_PREFIX} ${describeWindow(timezone, o)}`;
}

/**
 * Whether work that may wait has to, now: the label to wait under, or null to run at once
 * (no window set, or the window is open).
 */
export function deferral(now: Date, timezone: string, o: MaintenanceOption | null): string | null {
  if (!hasWindow(o)) return null;
  return windowAt(now, timezone, o).open ? null : waitingLabel(timezone, o);
}

/**
 * What becomes of waiting work at a look: it fails when its cluster is gone (null: not found) or
 * STOPPED as it comes due (a restart of nodes that do not run makes no sense; the caller sends it
 * again), waits while the window is closed, and is released otherwise (the store still releases
 * it only onto a RUNNING cluster with no other active request; else it waits for the next look).
 */
export function dueAction(state: ServiceState | null, now: Date, timezone: string, o: MaintenanceOption | null): 'fail-gone' | 'wait' | 'fail-stopped' | 'release' {
  if (state === null || state === 'TERMINATED' || state === 'FAILED') return 'fail-gone';
  if (hasWindow(o) && !windowAt(now, timezone, o).open) return 'wait';
  return state === 'STOPPED' ? 'fail-stopped' : 'release';
}

/** Whether upgradeStepAction needs the installed version for this step (a start never does). */
export function upgradeStepReadsVersion(step: string): boolean {
  return !step.startsWith('start-');
}

/**
 * What a step of the engine patch upgrade does, given the version the installed binary reports
 * now (null: it could not be read) and the one the cluster records. Starting what was stopped
 * always runs (it does nothing to a node that runs). An unreadable version fails the step: were
 * it skipped, a later step that reads it could record the new version over a node never
 * restarted onto it (the crash sweep saw `--version` time out at load 45, and the request
 * complete as "nothing to upgrade" with half the nodes on the new binary).
 */
export function upgradeStepAction(step: string, installed: string | null, recorded: string): 'run' | 'skip' | 'unreadable' {
  if (!upgradeStepReadsVersion(step)) return 'run';
  if (installed === null) return 'unreadable';
  return isNewerPatch(installed, recorded) ? 'run' : 'skip';
}

/** Whether `installed` is a newer patch of `running` (same major and minor, higher patch). */
export function isNewerPatch(installed: string, running: string): boolean {
  const a = /^(\d+)\.(\d+)\.(\d+)$/.exec(installed);
  const b = /^(\d+)\.(\d+)\.(\d+)$/.exec(running);
  if (!a || !b) return false;
  return a[1] === b[1] && a[2] === b[2] && Number(a[3]) > Number(b[3]);
}
