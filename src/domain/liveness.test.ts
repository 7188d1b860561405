import { describe, expect, it } from 'vitest';
import { afterClose, onDeath, type ClosePolicy } from './liveness.js';

const P: ClosePolicy = { firstRetryMs: 100, maxRetryMs: 1000 };

describe('a watch connection that closed', () => {
  it('reports the death of a process believed alive (also one found dead when a reconnect fails), once the driver says it is gone', () => {
    expect(afterClose(true, false, 1, P)).toEqual({ kind: 'report-death' });
  });

  it('reports nothing when a revive of a dead process fails (the death was reported already)', () => {
    expect(afterClose(false, false, 1, P)).toEqual({ kind: 'stay-down' });
  });

  it('connects again to a process that still runs, waiting longer each time it is closed again (a CLIENT KILL loop), capped', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => afterClose(true, true, n, P))).toEqual(
      [100, 200, 400, 800, 1000, 1000].map((delayMs) => ({ kind: 'reconnect', delayMs })),
    );
    expect(afterClose(false, true, 0, P)).toEqual({ kind: 'reconnect', delayMs: 100 });
  });
});

describe('what a death means for the cluster', () => {
  const primary = { kind: 'data' as const, ip: '127.0.0.1', port: 6378, storedPrimary: true };
  const ha = { ha: true, fastFailover: true };

  it('fails an HA primary over at once when Sentinel still names it', () => {
    expect(onDeath(primary, ha, { ip: '127.0.0.1', port: 6378 })).toBe('fail-over');
  });

  it('only looks at the cluster when Sentinel names another primary already (it failed over by itself)', () => {
    expect(onDeath(primary, ha, { ip: '127.0.0.2', port: 6378 })).toBe('look-at-cluster');
  });

  it("goes by the store's primary when no Sentinel answers", () => {
    expect(onDeath(primary, ha, null)).toBe('fail-over');
    expect(onDeath({ ...primary, storedPrimary: false }, ha, null)).toBe('look-at-cluster');
  });

  it('looks at the cluster for a replica, a Sentinel, a standalone engine, or with the fast failover off', () => {
    expect(onDeath({ ...primary, storedPrimary: false }, ha, { ip: '127.0.0.2', port: 6378 })).toBe('look-at-cluster');
    expect(onDeath({ ...primary, kind: 'sentinel', port: 26378 }, ha, { ip: '127.0.0.1', port: 26378 })).toBe('look-at-cluster');
    expect(onDeath(primary, { ha: false, fastFailover: true }, null)).toBe('look-at-cluster');
    expect(onDeath(primary, { ha: true, fastFailover: false }, { ip: '127.0.0.1', port: 6378 })).toBe('look-at-cluster');
  });
});
