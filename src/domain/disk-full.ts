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
