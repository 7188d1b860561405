import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killEnginesUnder } from '../../test/support/engines.js';
import { testSubnet } from '../../test/support/harness.js';
import type { NodeSpec } from '../drivers/driver.js';
import { InstalledEngines } from '../drivers/local/installed-engines.js';
import { LocalDriver } from '../drivers/local/local-driver.js';
import { ping } from './client.js';
import { parseSentinelState, quote, renderDataNodeConfig, renderSentinelConfig } from './config.js';

const files = { dir: '/d', pidFile: '/d/p', logFile: '/d/l', serviceSecret: 'svc-secret' };

describe('engine config rendering', () => {
  it('quotes passwords for the engine\'s config parser (backslash and double quote escaped)', () => {
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
      'sentinel monitor mycache 127.1.2.3 6378 2', 'sentinel down-after-milliseconds mycache 1100', 'sentinel announce-ip 127.1.2.3', 'bind-source-addr 127.1.2.3',
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

// The engine itself reads the rendered file: a password with the characters a config parser
// treats specially must authenticate exactly as written, and nothing near it.
describe.each(['redis', 'valkey'] as const)('%s reads a rendered password back exactly', (engine) => {
  let dir: string;
  let driver: LocalDriver;
  const base = testSubnet().replace(/\.0\/24$/, '');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'config-test-'));
    const engines = new InstalledEngines(process.env.PATH ?? '');
    await engines.read();
    driver = new LocalDriver(dir, engines);
  });
  afterAll(async () => {
    await killEnginesUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['spaces, # and !', 'a b#c!1x'],
    ['a backslash and a double quote', 'p\\w"q1!x'],
    ['a trailing backslash', 'Secr3t!\\'],
  ])('with %s', async (_what, password) => {
    const nodeId = `cfg-${engine}-${password.length}-${password.charCodeAt(1)}`;
    const node: NodeSpec = {
      nodeId, instanceId: nodeId, clusterId: 'c', kind: 'data', engine,
      ip: `${base}.${10 + Math.floor(Math.random() * 200)}`, port: 6378, password, serviceSecret: 'f'.repeat(64), maxMemoryBytes: 1e8, ioThreads: 1, replicaOf: null,
    };
    await driver.configure(node);
    await driver.launch(node);
    try {
      await driver.waitReady(node, 10_000);
      expect(await ping({ host: node.ip, port: node.port, password })).toBe(true);
      for (const near of [password.slice(0, -1), `${password} `, password.replace(/\\/g, '\\\\'), `"${password}"`].filter((p) => p !== password)) {
        expect(await ping({ host: node.ip, port: node.port, password: near }), near).toBe(false);
      }
    } finally {
      await driver.kill(node);
    }
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
