import { describe, expect, it } from 'vitest';
import { dfBytes } from './kubernetes-driver.js';

describe('dfBytes (the volume reading in a pod)', () => {
  it('reads GNU and busybox `df -Pk` alike, in bytes', () => {
    const gnu = 'Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/sdb          16337788 1048576  15272828       7% /data\n';
    expect(dfBytes(gnu)).toEqual({ totalBytes: 16337788 * 1024, freeBytes: 15272828 * 1024 });
    const busybox = 'Filesystem           1024-blocks    Used Available Capacity Mounted on\n/dev/nvme1n1          8191416     24   7755764   0% /data\n';
    expect(dfBytes(busybox)).toEqual({ totalBytes: 8191416 * 1024, freeBytes: 7755764 * 1024 });
  });

  it('refuses an answer that is not df\'s, saying what came', () => {
    expect(() => dfBytes('sh: df: not found\n')).toThrow(/df answered what it should not: sh: df: not found/);
    expect(() => dfBytes('')).toThrow(/df answered/);
  });
});
