// What Synchronize Parameter Values and Synchronize Commands compare the engines with.
import { describe, expect, it } from 'vitest';
import { PARAMETERS } from '../../domain/parameter-catalog.js';
import type { NodeSpec } from '../../drivers/driver.js';
import { expectedNames } from './commands.js';
import { heldValue } from './parameters.js';

const def = (name: string) => PARAMETERS.find((d) => d.name === name)!;
const node = (engine: 'redis' | 'valkey', keepWriteLog = false): NodeSpec => ({
  nodeId: 'n1', instanceId: 'n1', clusterId: 'c1', kind: 'data', engine, ip: '127.1.2.3', port: 6378, password: 'x', serviceSecret: 'y', maxMemoryBytes: 1234, ioThreads: 1, keepWriteLog,
});

describe('the values the service holds for a node', () => {
  it('the tenant\'s value first, else the default a new cluster runs', () => {
    expect(heldValue(def('maxmemory-policy'), node('redis'), { 'maxmemory-policy': 'allkeys-lfu' })).toBe('allkeys-lfu');
    expect(heldValue(def('maxmemory-policy'), node('redis'), {})).toBe('volatile-lru');
    expect(heldValue(def('lazyfree-lazy-user-del'), node('redis'), {})).toBe('no');
    expect(heldValue(def('lazyfree-lazy-user-del'), node('valkey'), {})).toBe('yes');
  });

  it('derives what depends on the node, and skips what it cannot know or the engine lacks', () => {
    expect(heldValue(def('maxmemory'), node('redis'), {})).toBe('1234');
    expect(heldValue(def('bind'), node('redis'), {})).toBe('127.1.2.3');
    expect(heldValue(def('port'), node('valkey'), {})).toBe('6378');
    expect(heldValue(def('auto-aof-rewrite-percentage'), node('redis', true), {})).toBe('0');
    expect(heldValue(def('auto-aof-rewrite-percentage'), node('redis', false), {})).toBe('100');
    expect(heldValue(def('proc-title-template'), node('redis'), {})).toBe('{title} {listen-addr} {server-mode} cachestore:n1');
    expect(heldValue(def('maxclients'), node('redis'), {})).toBeUndefined();
    expect(heldValue(def('set-max-listpack-entries'), node('redis'), {})).toBeUndefined();
    expect(heldValue(def('set-max-listpack-entries'), node('valkey'), {})).toBe('128');
  });
});

describe('the names the service holds for the modifiable commands', () => {
  it('own name, new name, or DISABLED', () => {
    const names = expectedNames({ FLUSHDB: 'CLEARDB', KEYS: '' });
    expect(names.FLUSHDB).toBe('CLEARDB');
    expect(names.KEYS).toBe('DISABLED');
    expect(names.FLUSHALL).toBe('FLUSHALL');
    expect(names.CONFIG).toBeUndefined();
  });
});
