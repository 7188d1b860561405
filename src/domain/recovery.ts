// What point-in-time recovery can reach: each completed backup covers the seconds from its
// snapshot to the last second its archived write log is known complete for. A restore to second
// T uses the newest backup whose window holds T. Pure: the caller says how the logs stand.
import type { BackupHistory } from './model.js';

export interface LogState {
  /** The node still appends to this log (it is its current AOF increment). */
  live: boolean;
  lastWriteAt: Date;
}

export interface RecoveryWindow {
  backup: BackupHistory;
  /** Unix seconds, both ends included. */
  from: number;
  to: number;
}

const seconds = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);

/**
 * `logs`: the state of each backup's archived log (absent: lost). `sourceRunning`: whether the
 * node a backup was taken on still runs; a live log of a node that is down has stopped early.
 */
export function recoveryWindows(
  backups: BackupHistory[],
  logs: Map<string, LogState | null>,
  sourceRunning: (instanceId: string | null) => boolean,
  now: Date,
): RecoveryWindow[] {
  const out: RecoveryWindow[] = [];
  for (const b of backups) {
    if (b.state !== 'COMPLETED' || !b.snapshotAt) continue;
    const from = seconds(b.snapshotAt);
    let to = from;
    const log = b.logFile ? logs.get(b.logFile) : null;
    if (b.logFile && log) {
      if (b.logEndAt) to = seconds(b.logEndAt);
      // No write since the last one logged: the data stood still up to now. The current second
      // is not over yet, so the last whole one is the newest that can be restored.
      else if (log.live && sourceRunning(b.sourceInstanceId)) to = seconds(now) - 1;
      else to = seconds(log.lastWriteAt);
    }
    out.push({ backup: b, from, to: Math.max(from, to) });
  }
  return out.sort((a, b) => a.from - b.from);
}

/** The newest window that holds second `t`, or undefined. */
export function windowFor(windows: RecoveryWindow[], t: number): RecoveryWindow | undefined {
  let best: RecoveryWindow | undefined;
  for (const w of windows) if (w.from <= t && t <= w.to && (!best || w.from > best.from)) best = w;
  return best;
}

/** The covered time as ranges a person can read ("from ... to ..."), overlapping windows merged. */
export function describeCoverage(windows: RecoveryWindow[]): string {
  if (windows.length === 0) return 'no completed backup exists yet, so no point in time can be restored';
  const merged: Array<[number, number]> = [];
  for (const w of windows) {
    const last = merged[merged.length - 1];
    if (last && w.from <= last[1] + 1) last[1] = Math.max(last[1], w.to);
    else merged.push([w.from, w.to]);
  }
  const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  return merged.map(([a, b]) => (a === b ? iso(a) : `${iso(a)} to ${iso(b)}`)).join(', ');
}
