// When a data node's disk is full, as the service tells it: the engine's own persistence status
// (INFO persistence) says its writes to disk fail, and its volume has (next to) no room left.
// Both, so an engine that cannot save for another reason (a permission, a broken directory) is
// not called full, and a full volume the engine has not yet tripped over is not either.

export interface PersistenceStatus {
  aofEnabled: boolean;
  /** aof_last_write_status: the last write of the append-only file. */
  aofLastWrite: 'ok' | 'err';
  /** rdb_last_bgsave_status: the last snapshot. */
  rdbLastSave: 'ok' | 'err';
}

/** The fields of INFO persistence that tell whether the engine can write to its disk. Pure. */
export function parsePersistence(info: string): PersistenceStatus {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    aofEnabled: field('aof_enabled') === '1',
    aofLastWrite: field('aof_last_write_status') === 'err' ? 'err' : 'ok',
    rdbLastSave: field('rdb_last_bgsave_status') === 'err' ? 'err' : 'ok',
  };
}

/** Below this much free space (or 1% of the volume, if more) a volume counts as full. */
export const FULL_FREE_BYTES = 4 * 1024 * 1024;

export interface DiskVerdict {
  full: boolean;
  /** Why, in words a person can act on (sizes in MiB). */
  detail: string;
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Whether the node's disk is full. `status` null: the engine does not answer (not a disk
 * question); `volume` null: the node has no volume of its own, so the service cannot tell. Pure.
 */
export function diskVerdict(status: PersistenceStatus | null, volume: { totalBytes: number; freeBytes: number } | null): DiskVerdict {
  if (!status || !volume) return { full: false, detail: 'unknown' };
  const writeFails = (status.aofEnabled && status.aofLastWrite === 'err') || status.rdbLastSave === 'err';
  const room = volume.freeBytes < Math.max(FULL_FREE_BYTES, volume.totalBytes / 100);
  const space = `${mib(volume.freeBytes)} free of ${mib(volume.totalBytes)}`;
  if (writeFails && room) {
    const what = status.aofEnabled && status.aofLastWrite === 'err' ? 'its append-only file' : 'its snapshot';
    return { full: true, detail: `its data volume is full (${space}): the engine cannot write ${what} and refuses writes (MISCONF)` };
  }
  return { full: false, detail: space };
}

/**
 * What an engine's log line says about its disk: that a write failed for want of space, or that
 * it writes again. Both engines log these (Redis OSS and Valkey word them alike). Pure.
 */
export function diskLogSignal(line: string): 'full' | 'writable' | null {
  if (/No space left on device|Short write while writing|Error writing to the AOF|Write error saving DB|Background saving error/i.test(line)) return 'full';
  if (/write error looks solved|can write again|Background saving terminated with success|Background AOF rewrite finished successfully/i.test(line)) return 'writable';
  return null;
}

/**
 * Whether new log lines call for a look at the node's cluster now (instead of at the next
 * periodic pass): a disk failure always; a success only after a failure was seen (a snapshot
 * succeeding is routine otherwise). Returns the look and whether a failure is still the last word.
 */
export function diskLogLook(failing: boolean, lines: string[]): { look: boolean; failing: boolean } {
  let look = false;
  for (const line of lines) {
    const s = diskLogSignal(line);
    if (s === 'full') {
      look = true;
      failing = true;
    } else if (s === 'writable' && failing) {
      look = true;
      failing = false;
    }
  }
  return { look, failing };
}
