import { describe, expect, it } from 'vitest';
import { quote, renderDataNodeConfig, renderSentinelConfig } from './config.js';

const files = { dir: '/d', pidFile: '/d/p', logFile: '/d/l', serviceSecret: 'svc-secret' };

describe('engine config rendering', () => {
  it('quotes passwords so the engine reads them back exactly', () => {
    expect(quote('a\\b"c')).toBe('"a\\\\b\\"c"');
    const text = renderDataNodeConfig({ instanceId: 'i1', ip: '127.1.2.3', port: 6378, password: 'p\\w 1!', ...files, maxMemoryBytes: 100, ioThreads: 1 });
    expect(text).toContain('user default reset on ">p\\\\w 1!" ~* &* +@all -config');
    expect(text).not.toContain('requirepass');
  });

  it('gives the service its own user, and replicas connect to their primary as that user', () => {
    const text = renderDataNodeConfig({ instanceId: 'i1', ip: '127.1.2.3', port: 6378, password: 'tenant', ...files, maxMemoryBytes: 100, ioThreads: 1 });
    expect(text).toContain('user cachestore-service reset on ">svc-secret" ~* &* +@all\n');
    expect(text).toContain('masteruser cachestore-service\nmasterauth "svc-secret"');
    expect(text).not.toContain('masterauth "tenant"');
  });

  it('binds, announces and connects from the node\'s own address, and replicates when told', () => {
    const primary = renderDataNodeConfig({ instanceId: 'i1', ip: '127.1.2.3', port: 6378, password: 'x', ...files, maxMemoryBytes: 100, ioThreads: 1 });
    for (const line of ['bind 127.1.2.3', 'bind-source-addr 127.1.2.3', 'replica-announce-ip 127.1.2.3', 'maxmemory 100']) expect(primary).toContain(line);
    expect(primary).not.toMatch(/^replicaof /m);
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

  it('has Sentinels talk to the data nodes and to each other as the service, and lets the tenant only discover', () => {
    const text = renderSentinelConfig({
      nodeId: 's1', ip: '127.1.2.3', port: 26378, password: 'tenant', ...files, masterName: 'mycache', master: { ip: '127.1.2.3', port: 6378 },
      quorum: 2, downAfterMs: 1100, failoverTimeoutMs: 10000, myid: 'a'.repeat(40), knownReplicas: [], knownSentinels: [],
    });
    for (const line of [
      'sentinel sentinel-user cachestore-service', 'sentinel sentinel-pass "svc-secret"',
      'sentinel auth-user mycache cachestore-service', 'sentinel auth-pass mycache "svc-secret"',
      'user default reset on ">tenant" ~* &* +@all -sentinel|set -sentinel|config -sentinel|reset -sentinel|remove -sentinel|monitor -sentinel|failover',
    ]) expect(text).toContain(line);
    // `sentinel auth-user` names the master, so it must come after `sentinel monitor`.
    expect(text.indexOf('sentinel auth-user')).toBeGreaterThan(text.indexOf('sentinel monitor'));
  });
});
