// When scheduled backups are owed, and when backups expire. A cluster with a backup option is
// backed up once a day at `starting_time_hour` o'clock in the cluster's own time zone; Luxon
// does the time-zone arithmetic (daylight-saving gaps included), which Intl alone does not.
import { DateTime } from 'luxon';
import type { BackupHistory, BackupOption } from './model.js';

/** The most recent daily slot at or before `now`, as a UTC instant. */
export function latestSlot(now: Date, timezone: string, hour: number): Date {
  const local = DateTime.fromJSDate(now, { zone: timezone });
  let slot = local.set({ hour, minute: 0, second: 0, millisecond: 0 });
  if (slot.toMillis() > now.getTime()) slot = local.minus({ days: 1 }).set({ hour, minute: 0, second: 0, millisecond: 0 });
  return slot.toJSDate();
}

/**
 * The slot a scheduled backup is owed for now, if any: the latest slot, unless it came before
 * the schedule was set or its backup exists already. A slot missed while the service was down is
 * taken when it comes back (once: only the latest slot is ever owed).
 */
export function owedSlot(now: Date, timezone: string, option: BackupOption, taken: ReadonlySet<string>): string | null {
  const slot = latestSlot(now, timezone, Number(option.startingTimeHour));
  if (option.enabledAt && slot.getTime() < new Date(option.enabledAt).getTime()) return null;
  const key = slot.toISOString();
  return taken.has(key) ? null : key;
}

/** Backups older than the retention period (counted from their start), running ones excepted. */
export function expiredBackups(backups: BackupHistory[], option: BackupOption, now: Date): BackupHistory[] {
  const limit = now.getTime() - Number(option.retentionPeriodDay) * 24 * 3600 * 1000;
  return backups.filter((b) => b.state !== 'RUNNING' && new Date(b.startedAt).getTime() < limit);
}
