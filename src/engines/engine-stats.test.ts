import { describe, expect, it } from 'vitest';
import { parseInfo } from './replication.js';
import { engineStats, replicationLagBytes } from './engine-stats.js';

// Excerpts of INFO as Redis OSS 7.0 and Valkey 8.0 print it (CRLF, section headers, other fields).
const PRIMARY = [
  '# Server', 'redis_version:7.0.15', 'redis_mode:standalone', '',
  '# Clients', 'connected_clients:4', '',
  '# Memory', 'used_memory:1932720', 'used_memory_human:1.84M', 'maxmemory:1073741824', '',
  '# Stats', 'instantaneous_ops_per_sec:12', 'evicted_keys:3', 'keyspace_hits:41', 'keyspace_misses:7', '',
  '# Replication', 'role:master', 'connected_slaves:1', 'slave0:ip=127.0.0.2,port=6378,state=online,offset=9000,lag=0', 'master_repl_offset:9120', '',
  '# Keyspace', 'db0:keys=10,expires=0,avg_ttl=0',
].join('\r\n');
const REPLICA = ['# Server', 'server_mode:standalone', '# Clients', 'connected_clients:3', '# Memory', 'used_memory:1120680', 'maxmemory:0',
  '# Stats', 'instantaneous_ops_per_sec:0', 'evicted_keys:0', 'keyspace_hits:0', 'keyspace_misses:0',
  '# Replication', 'role:slave', 'master_host:127.0.0.1', 'master_link_status:up', 'slave_repl_offset:9000', 'master_repl_offset:9000'].join('\r\n');
const SENTINEL_REDIS = ['# Server', 'redis_version:7.0.15', 'redis_mode:sentinel', '# Clients', 'connected_clients:2', '# Sentinel', 'sentinel_masters:1'].join('\r\n');
const SENTINEL_VALKEY = ['# Server', 'valkey_version:8.0.1', 'server_mode:sentinel', '# Clients', 'connected_clients:1', '# Sentinel', 'sentinel_masters:1'].join('\r\n');

describe('INFO → engine metrics', () => {
  it("reads a primary's memory, load, clients, keyspace counters and offset", () => {
    expect(engineStats(parseInfo(PRIMARY))).toEqual({
      role: 'primary', connectedClients: 4, usedMemoryBytes: 1932720, maxMemoryBytes: 1073741824, opsPerSecond: 12,
      keyspaceHits: 41, keyspaceMisses: 7, evictedKeys: 3, replicationOffset: 9120,
    });
  });
  it("reads a Valkey replica's own replication offset (not its copy of the primary's)", () => {
    expect(engineStats(parseInfo(REPLICA))).toMatchObject({ role: 'replica', usedMemoryBytes: 1120680, maxMemoryBytes: 0, replicationOffset: 9000 });
  });
  it('knows a Sentinel of either engine, which has only clients', () => {
    expect(engineStats(parseInfo(SENTINEL_REDIS))).toEqual({ role: 'sentinel', connectedClients: 2 });
    expect(engineStats(parseInfo(SENTINEL_VALKEY))).toEqual({ role: 'sentinel', connectedClients: 1 });
  });
  it('leaves out a field the engine does not print rather than report 0', () => {
    const s = engineStats(parseInfo('role:master\r\nused_memory:100\r\nmaxmemory:'));
    expect(s.usedMemoryBytes).toBe(100);
    expect('maxMemoryBytes' in s && s.maxMemoryBytes !== undefined).toBe(false);
    expect(s.keyspaceHits).toBeUndefined();
  });
});

describe('replication lag', () => {
  it("is how far the replica's offset is behind the primary's, never negative", () => {
    expect(replicationLagBytes(9120, 9000)).toBe(120);
    expect(replicationLagBytes(9000, 9120)).toBe(0);
  });
});
