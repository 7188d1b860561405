import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import type { Cluster, InstanceGroup } from './model.js';
import { checkServerTypeChange } from './server-type-change.js';

const GB = 1024 ** 3;
const cluster = (engine: 'redis' | 'valkey') =>
  ({ id: 'c1', name: 'shop', engine, productImageType: engine === 'redis' ? 'Redis OSS Sentinel' : 'Valkey Sentinel' }) as Cluster;
const group = (serverTypeName: string, roleType = 'MASTER_REPLICA'): InstanceGroup => ({ id: 'g1', clusterId: 'c1', roleType, serverTypeName, blockStorageGroups: [] });

function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('which server type changes are allowed', () => {
  it('applies maxmemory online when io-threads stays, restarts when it changes', () => {
    const up = checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis1v2m8', 1e6);
    expect([up.from.name, up.to.name, up.restart]).toEqual(['redis1v2m4', 'redis1v2m8', false]);
    expect(checkServerTypeChange(cluster('valkey'), group('css1v2m4'), 'css1v4m8', 1e6).restart).toBe(true);
    // Shrinking is fine while the data fits.
    expect(checkServerTypeChange(cluster('valkey'), group('css1v2m8'), 'css1v1m2', 1.4 * GB).restart).toBe(false);
  });

  it('refuses a type too small for the data in use, naming both figures', () => {
    const e = refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis1v1m2', Math.floor(1.6 * GB)));
    expect(e.status).toBe(400);
    expect(e.message).toContain(`uses 1.60 GB (${Math.floor(1.6 * GB)} bytes)`);
    expect(e.message).toContain(`maxmemory 1.50 GB (${1.5 * GB} bytes)`);
  });

  it('refuses a smaller type when no node tells the data in use, allows a larger one', () => {
    expect(refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis1v1m2', null)).message).toMatch(/could not be read/);
    expect(checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis1v2m8', null).to.name).toBe('redis1v2m8');
  });

  it('refuses unknown types, the other engine, the same type and the SENTINEL group', () => {
    expect(refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis9v9m9', 0)).message).toMatch(/'redis9v9m9' is not a server type/);
    expect(refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'css1v2m8', 0)).message).toMatch(/'css1v2m8' is a Valkey Sentinel server type.*runs Redis OSS Sentinel/);
    expect(refusal(() => checkServerTypeChange(cluster('valkey'), group('css1v2m4'), 'redis1v2m8', 0)).message).toMatch(/is a Redis OSS Sentinel server type.*runs Valkey Sentinel/);
    expect(refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4'), 'redis1v2m4', 0)).message).toMatch(/already has server type redis1v2m4/);
    expect(refusal(() => checkServerTypeChange(cluster('redis'), group('redis1v2m4', 'SENTINEL'), 'redis1v2m8', 0)).message).toMatch(/SENTINEL group.*holds no data/);
  });
});
