import { describe, expect, it } from 'vitest';
import { diskVerdict, parsePersistence } from './disk-full.js';

const MiB = 1024 * 1024;
const info = (aofWrite: string, rdb = 'ok', aof = '1') =>
  `# Persistence\r\nloading:0\r\nrdb_last_bgsave_status:${rdb}\r\naof_enabled:${aof}\r\naof_last_write_status:${aofWrite}\r\n`;

describe('parsePersistence', () => {
  it('reads the write statuses of INFO persistence', () => {
    expect(parsePersistence(info('err'))).toEqual({ aofEnabled: true, aofLastWrite: 'err', rdbLastSave: 'ok' });
    expect(parsePersistence(info('ok', 'err', '0'))).toEqual({ aofEnabled: false, aofLastWrite: 'ok', rdbLastSave: 'err' });
  });
});

describe('diskVerdict', () => {
  const full = { totalBytes: 300 * MiB, freeBytes: 1 * MiB };
  const roomy = { totalBytes: 300 * MiB, freeBytes: 100 * MiB };
  it('is full when the engine cannot write its AOF and the volume has no room', () => {
    const v = diskVerdict(parsePersistence(info('err')), full);
    expect(v.full).toBe(true);
    expect(v.detail).toMatch(/full \(1\.0 MiB free of 300\.0 MiB\).*append-only file/);
  });
  it('is not full when the engine fails to write for another reason (room left)', () => {
    expect(diskVerdict(parsePersistence(info('err')), roomy).full).toBe(false);
    expect(diskVerdict(parsePersistence(info('ok', 'err')), roomy).full).toBe(false);
  });
  it('is not full while the engine still writes, even on a nearly full volume', () => {
    expect(diskVerdict(parsePersistence(info('ok')), full).full).toBe(false);
  });
  it('a failed snapshot on a full volume counts; an AOF status of a node without AOF does not', () => {
    expect(diskVerdict(parsePersistence(info('ok', 'err')), full).full).toBe(true);
    expect(diskVerdict(parsePersistence(info('err', 'ok', '0')), full).full).toBe(false);
  });
  it('cannot tell without an answer or without a volume of its own', () => {
    expect(diskVerdict(null, full).full).toBe(false);
    expect(diskVerdict(parsePersistence(info('err')), null).full).toBe(false);
  });
  it('counts 1% of a large volume as full', () => {
    expect(diskVerdict(parsePersistence(info('err')), { totalBytes: 56 * 1024 * MiB, freeBytes: 100 * MiB }).full).toBe(true);
  });
});
