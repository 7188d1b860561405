import { describe, expect, it } from 'vitest';
import { nftTableName, renderNftScript } from './nftables.js';

describe('the nftables script', () => {
  it('with nothing to guard, removes the table in one transaction', () => {
    expect(renderNftScript('cachestore_x', [])).toBe('table inet cachestore_x\ndelete table inet cachestore_x\n');
  });

  it('replaces the whole table: one allow set and one guarded-endpoint set per cluster', () => {
    const s = renderNftScript('cachestore_x', [
      { clusterId: 'c1', allowed: ['10.0.0.0/24', '127.0.0.1/32'], endpoints: [{ ip: '127.77.0.2', port: 6378 }, { ip: '127.77.0.2', port: 26379 }] },
    ]);
    expect(s.split('\n').slice(0, 3)).toEqual(['table inet cachestore_x', 'delete table inet cachestore_x', 'table inet cachestore_x {']);
    expect(s).toContain('elements = { 10.0.0.0/24, 127.0.0.1/32 }');
    expect(s).toContain('elements = { 127.77.0.2 . 6378, 127.77.0.2 . 26379 }');
    expect(s).toContain('ip daddr . tcp dport @guard_0 ip saddr != @allow_0 drop comment "cluster c1"');
  });

  it('names the table from the data dir, so services with their own data dirs keep apart', () => {
    expect(nftTableName('/tmp/a')).toMatch(/^cachestore_[0-9a-f]{12}$/);
    expect(nftTableName('/tmp/a')).toBe(nftTableName('/tmp/b/../a'));
    expect(nftTableName('/tmp/a') === nftTableName('/tmp/b')).toBe(false);
  });
});
