import { describe, expect, it } from 'vitest';
import { SERVICE_STATES } from './model.js';
import { clusterFilter, enginesShouldRun, lastBackupAgeSeconds } from './metrics-scope.js';

describe('which clusters have their engines read', () => {
  it('reads engines of clusters that should serve, not of those going up or down on purpose or without processes', () => {
    const read = SERVICE_STATES.filter(enginesShouldRun);
    expect(read).toEqual(['RUNNING', 'ERROR', 'EDITING', 'SYNCHRONIZING', 'UPGRADING', 'MIGRATING']);
  });
});

describe('last backup age', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it('counts from the newest completed backup, ignoring running and failed ones', () => {
    const backups = [
      { state: 'COMPLETED' as const, endedAt: '2026-12-01T10:00:00Z' },
      { state: 'COMPLETED' as const, endedAt: '2026-12-01T11:30:00Z' },
      { state: 'FAILED' as const, endedAt: '2026-12-01T11:59:00Z' },
      { state: 'RUNNING' as const, endedAt: null },
    ];
    expect(lastBackupAgeSeconds(backups, now)).toBe(1800);
  });
  it('is null without a completed backup, and never negative for a clock a little behind', () => {
    expect(lastBackupAgeSeconds([{ state: 'FAILED', endedAt: '2026-12-01T11:00:00Z' }], now)).toBeNull();
    expect(lastBackupAgeSeconds([], now)).toBeNull();
    expect(lastBackupAgeSeconds([{ state: 'COMPLETED', endedAt: '2026-12-01T12:00:05Z' }], now)).toBe(0);
  });
});

describe('the cluster_id filter', () => {
  it('takes one id, or none', () => {
    expect(clusterFilter({})).toEqual({ ok: true, clusterId: undefined });
    expect(clusterFilter({ cluster_id: 'abc' })).toEqual({ ok: true, clusterId: 'abc' });
  });
  it('refuses a repeated, empty or overlong one', () => {
    for (const v of [['a', 'b'], '', 'x'.repeat(129)]) expect(clusterFilter({ cluster_id: v }).ok).toBe(false);
  });
});
