import { describe, expect, it } from 'vitest';
import { parseSentinelState, quote, renderDataNodeConfig, renderSentinelConfig } from './config.js';

const files = { dir: '/d', pidFile: '/d/p', logFile: '/d/l' };

describe('engine config rendering', () => {
  it('quotes passwords so the engine reads them back exactly', () => {
    expect(quote('a\\b"c')).toBe('"a\\\\b\\"c"');
    const text = renderDataNodeConfig({ instanceId: 'i1', ip: '127.1.2.3', port: 6378, password: 'p\\w 1!', ...files, maxMemoryBytes: 100, ioThreads: 1 });
    expect(text).toContain('requirepass "p\\\\w 1!"');
    expect(text).toContain('masterauth "p\\\\w 1!"');
  });

  it('binds, announces and connects from the node\'s own address, and replicates when told', () => {
    const primary = renderDataNodeConfig({ instanceId: 'i1', ip: '127.1.2.3', port: 6378, password: 'x', ...files, maxMemoryBytes: 100, ioThreads: 1 });
    for (const line of ['bind 127.1.2.3', 'bind-source-addr 127.1.2.3', 'replica-announce-ip 127.1.2.3', 'maxmemory 100']) expect(primary).toContain(line);
    expect(primary).not.toContain('replicaof');
    const replica = renderDataNodeConfig({ instanceId: 'i2', ip: '127.1.2.4', port: 6378, password: 'x', ...files, maxMemoryBytes: 100, ioThreads: 1, replicaOf: { ip: '127.1.2.3', port: 6378 } });
    expect(replica).toContain('replicaof 127.1.2.3 6378');
  });

  it('tells a Sentinel the primary, the replicas and the other Sentinels, and an epoch when given', () => {
    const base = {
      nodeId: 's1', ip: '127.1.2.3', port: 26378, password: 'x', ...files, masterName: 'mycache', master: { ip: '127.1.2.3', port: 6378 },
      quorum: 2, downAfterMs: 1100, failoverTimeoutMs: 10000, myid: 'a'.repeat(40),
      knownReplicas: [{ ip: '127.1.2.4', port: 6378 }], knownSentinels: [{ ip: '127.1.2.4', port: 26378, myid: 'b'.repeat(40) }],
    };
    const text = renderSentinelConfig(base);
    for (const line of [
      'sentinel monitor mycache 127.1.2.3 6378 2', 'sentinel down-after-milliseconds mycache 1100', 'sentinel announce-ip 127.1.2.3',
      'sentinel known-replica mycache 127.1.2.4 6378', `sentinel known-sentinel mycache 127.1.2.4 26378 ${'b'.repeat(40)}`, `sentinel myid ${'a'.repeat(40)}`,
    ]) expect(text).toContain(line);
    expect(text).not.toContain('current-epoch');
    expect(renderSentinelConfig({ ...base, epoch: 42 })).toContain('sentinel config-epoch mycache 42');
  });
});

describe('reading a Sentinel configuration back', () => {
  it('finds the primary it monitors and its epochs, as Sentinel rewrites them after a failover', () => {
    // The shape Sentinel itself writes (CONFIG REWRITE after +switch-master).
    const text = [
      'sentinel monitor other 127.0.0.9 6379 2',
      'sentinel monitor mycache 127.1.0.3 6378 2',
      'sentinel config-epoch other 9',
      'sentinel config-epoch mycache 4',
      'sentinel leader-epoch mycache 4',
      'sentinel current-epoch 5',
    ].join('\n');
    expect(parseSentinelState(text, 'mycache')).toEqual({ master: { ip: '127.1.0.3', port: 6378 }, configEpoch: 4, currentEpoch: 5 });
  });

  it('reads the epoch the service wrote after a switchover, and zero where none was written', () => {
    const base = { nodeId: 's', ip: '127.1.0.1', port: 26378, password: 'pw', ...files, masterName: 'c', master: { ip: '127.1.0.2', port: 6378 }, quorum: 2, downAfterMs: 1100, failoverTimeoutMs: 10000, myid: 'a'.repeat(40), knownReplicas: [], knownSentinels: [] };
    expect(parseSentinelState(renderSentinelConfig({ ...base, epoch: 1796000000 }), 'c')).toEqual({ master: { ip: '127.1.0.2', port: 6378 }, configEpoch: 1796000000, currentEpoch: 1796000000 });
    expect(parseSentinelState(renderSentinelConfig(base), 'c')).toEqual({ master: { ip: '127.1.0.2', port: 6378 }, configEpoch: 0, currentEpoch: 0 });
  });
});
