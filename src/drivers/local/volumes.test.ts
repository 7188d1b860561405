import { describe, expect, it } from 'vitest';
import { mountAt, parseMountInfo, volumeBytes } from './volumes.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '301 22 7:3 / /tmp/cs\\040dir/engines/abc/data rw,nosuid,nodev,relatime shared:150 - xfs /dev/loop3 rw,attr2,inode64',
  '302 301 7:4 / /tmp/cs\\040dir/engines/abc/data rw,relatime - xfs /dev/loop4 rw',
  '303 22 0:50 / /tmp/other rw - tmpfs tmpfs rw,size=256k',
].join('\n');

describe('volumes', () => {
  it('sizes a volume from the block storage size and the scale', () => {
    expect(volumeBytes(56, 1024)).toBe(56 * 1024 ** 3);
    expect(volumeBytes(16, 20)).toBe(320 * 1024 ** 2);
  });

  it('reads mount points and sources from mountinfo, escapes undone', () => {
    const m = parseMountInfo(MOUNTINFO);
    expect(m).toHaveLength(4);
    expect(m[1]).toEqual({ mountPoint: '/tmp/cs dir/engines/abc/data', source: '/dev/loop3', fsType: 'xfs' });
  });

  it('finds the mount on exactly a directory, the topmost when stacked', () => {
    const m = parseMountInfo(MOUNTINFO);
    expect(mountAt(m, '/tmp/cs dir/engines/abc/data/')?.source).toBe('/dev/loop4');
    expect(mountAt(m, '/tmp/cs dir/engines/abc')).toBeUndefined();
    expect(mountAt(m, '/tmp/other')?.fsType).toBe('tmpfs');
  });
});
