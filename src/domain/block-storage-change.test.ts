import { describe, expect, it } from 'vitest';
import { checkBlockStorageResize } from './block-storage-change.js';
import { DomainError } from './errors.js';
import type { BlockStorageGroup, Cluster, InstanceGroup } from './model.js';

const cluster = { id: 'c1', name: 'shop', haEnabled: true } as Cluster;
const storage = (roleType: string, sizeGb: number): BlockStorageGroup => ({ id: 'b1', name: 'shop-data', roleType, sizeGb, volumeType: 'SSD' });
const group = (roleType = 'MASTER_REPLICA'): InstanceGroup => ({ id: 'g1', clusterId: 'c1', roleType, serverTypeName: 'redis1v2m4', blockStorageGroups: [] });

function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('which block storage resizes are allowed', () => {
  it('grows a DATA volume of a data group', () => {
    expect(checkBlockStorageResize(cluster, group(), storage('DATA', 56), 64)).toEqual({ fromGb: 56, toGb: 64 });
    expect(checkBlockStorageResize(cluster, group('MASTER'), storage('DATA', 16), 5120)).toEqual({ fromGb: 16, toGb: 5120 });
  });

  it('refuses shrinking and the same size, naming the current size and what may be asked', () => {
    const same = refusal(() => checkBlockStorageResize(cluster, group(), storage('DATA', 56), 56));
    expect([same.status, same.fields?.[0].loc]).toEqual([400, ['body', 'size_gb']]);
    expect(same.message).toContain('is 56 GB now and can only grow (56 GB is its current size); choose a larger size (64 to 5120, a multiple of 8)');
    expect(refusal(() => checkBlockStorageResize(cluster, group(), storage('DATA', 56), 48)).message).toContain('(48 GB would shrink it)');
    expect(refusal(() => checkBlockStorageResize(cluster, group(), storage('DATA', 5120), 5120)).message).toContain('it is at the largest size already');
  });

  it('refuses OS volumes and the SENTINEL group, whatever the size', () => {
    expect(refusal(() => checkBlockStorageResize(cluster, group(), storage('OS', 104), 112)).message).toMatch(/OS volume of cluster 'shop'; only DATA volumes/);
    expect(refusal(() => checkBlockStorageResize(cluster, group('SENTINEL'), storage('DATA', 56), 64)).message).toMatch(/SENTINEL group .* resize the DATA block storage group of the MASTER_REPLICA group/);
  });
});
