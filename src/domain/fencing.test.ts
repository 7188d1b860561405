import { describe, expect, it } from 'vitest';
import { FENCE_MAX_LAG_S, fenceBoundMs, fencedParameters, fenceProblem, isFenced, refusesWrites } from './fencing.js';

const ha = { haEnabled: true, replicas: 2 };
const standalone = { haEnabled: false, replicas: 0 };

describe('fencedParameters', () => {
  it('fences an HA cluster with replicas: at least one replica within the lag bound', () => {
    expect(fencedParameters({}, ha)).toEqual({ 'min-replicas-to-write': '1', 'min-replicas-max-lag': String(FENCE_MAX_LAG_S) });
    expect(fencedParameters({ 'maxmemory-policy': 'allkeys-lru' }, { haEnabled: true, replicas: 1 })['maxmemory-policy']).toBe('allkeys-lru');
  });
  it('leaves standalone clusters (nothing to fence with) as the tenant set them', () => {
    const tenant = { 'min-replicas-to-write': '0' };
    expect(fencedParameters(tenant, standalone)).toBe(tenant);
    expect(isFenced({ haEnabled: true, replicas: 0 })).toBe(false);
  });
  it('keeps a tenant value that is tighter than the fence', () => {
    expect(fencedParameters({ 'min-replicas-to-write': '2', 'min-replicas-max-lag': '1' }, ha)).toEqual({ 'min-replicas-to-write': '2', 'min-replicas-max-lag': '1' });
  });
  it('overrides a looser tenant value (stored before the fence), a lag of 0 (no limit) included', () => {
    expect(fencedParameters({ 'min-replicas-to-write': '0', 'min-replicas-max-lag': '10' }, ha)).toEqual({ 'min-replicas-to-write': '1', 'min-replicas-max-lag': String(FENCE_MAX_LAG_S) });
    expect(fencedParameters({ 'min-replicas-max-lag': '0' }, ha)['min-replicas-max-lag']).toBe(String(FENCE_MAX_LAG_S));
  });
});

describe('fenceProblem', () => {
  it('refuses values that loosen the fence of an HA cluster, naming the allowed range', () => {
    expect(fenceProblem('min-replicas-to-write', '0', ha)).toMatch(/1 or more/);
    expect(fenceProblem('min-replicas-max-lag', '10', ha)).toMatch(/1 to 2 seconds/);
    expect(fenceProblem('min-replicas-max-lag', '0', ha)).toMatch(/1 to 2 seconds/);
  });
  it('accepts tighter values, other parameters, and anything on a standalone cluster', () => {
    expect(fenceProblem('min-replicas-to-write', '2', ha)).toBeNull();
    expect(fenceProblem('min-replicas-max-lag', '1', ha)).toBeNull();
    expect(fenceProblem('maxmemory-policy', 'noeviction', ha)).toBeNull();
    expect(fenceProblem('min-replicas-to-write', '0', standalone)).toBeNull();
  });
});

describe('refusesWrites', () => {
  it('is true while fewer replicas count than the fence needs', () => {
    expect(refusesWrites(0, 1)).toBe(true);
    expect(refusesWrites(1, 2)).toBe(true);
    expect(refusesWrites(2, 1)).toBe(false);
  });
  it('is false when the fence is off (the engines do not report the count)', () => {
    expect(refusesWrites(undefined, 1)).toBe(false);
    expect(refusesWrites(0, 0)).toBe(false);
  });
});

describe('fenceBoundMs', () => {
  it('is the lag plus two seconds of whole-second counting and checking', () => {
    expect(fenceBoundMs(2)).toBe(4000);
    expect(fenceBoundMs()).toBe((FENCE_MAX_LAG_S + 2) * 1000);
  });
});
