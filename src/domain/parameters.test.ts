import { describe, expect, it } from 'vitest';
import { PARAMETERS } from './parameter-catalog.js';
import { allowedValues, checkValue, isModifiable, parameterGroups, parseMemory } from './parameters.js';
import type { EngineVersion } from './catalog.js';

const def = (name: string) => PARAMETERS.find((d) => d.name === name)!;
const check = (name: string, engine: 'redis' | 'valkey', raw: string, current?: string) => checkValue(def(name), def(name).engines[engine]!, raw, current);

describe('parameter values against the catalogue', () => {
  it('integers within the engine\'s own range, per engine', () => {
    expect(check('maxmemory-samples', 'redis', '100')).toEqual({ ok: true, value: '100' });
    expect(check('maxmemory-samples', 'valkey', '100')).toEqual({ ok: false, allowed: '1..64' });
    expect(check('maxmemory-samples', 'valkey', '64')).toEqual({ ok: true, value: '64' });
    expect(check('maxmemory-samples', 'valkey', '0')).toEqual({ ok: false, allowed: '1..64' });
    expect(check('hz', 'redis', ' 007 ')).toEqual({ ok: true, value: '7' });
    expect(check('hz', 'redis', '1.5').ok).toBe(false);
    expect(check('hz', 'redis', '10mb').ok).toBe(false);
    expect(check('slowlog-log-slower-than', 'redis', '-1')).toEqual({ ok: true, value: '-1' });
    expect(check('slowlog-log-slower-than', 'redis', '-2').ok).toBe(false);
    expect(check('slowlog-max-len', 'redis', '9223372036854775807')).toEqual({ ok: true, value: '9223372036854775807' });
    expect(check('slowlog-max-len', 'redis', '9223372036854775808').ok).toBe(false);
  });

  it('memory values in bytes or with the engine\'s units, stored in bytes', () => {
    expect(parseMemory('10mb')).toBe(10n * 1024n * 1024n);
    expect(parseMemory('10M')).toBe(10_000_000n);
    expect(parseMemory('1gb')).toBe(1024n ** 3n);
    expect(parseMemory('5tb')).toBeNull();
    expect(check('active-defrag-ignore-bytes', 'redis', '10mb')).toEqual({ ok: true, value: '10485760' });
    expect(check('client-query-buffer-limit', 'valkey', '1kb')).toEqual({ ok: false, allowed: '1048576..9223372036854775807 (bytes; k, kb, m, mb, g, gb accepted)' });
  });

  it('booleans and enums, case-insensitive, with the engine\'s own choices', () => {
    expect(check('activedefrag', 'redis', 'YES')).toEqual({ ok: true, value: 'yes' });
    expect(check('activedefrag', 'redis', 'true')).toEqual({ ok: false, allowed: 'yes,no' });
    expect(check('maxmemory-policy', 'valkey', 'allkeys-lfu')).toEqual({ ok: true, value: 'allkeys-lfu' });
    expect(check('maxmemory-policy', 'valkey', 'lru').ok).toBe(false);
    // Valkey knows loglevel "nothing", Redis 7.0 does not.
    expect(check('loglevel', 'valkey', 'nothing')).toEqual({ ok: true, value: 'nothing' });
    expect(check('loglevel', 'redis', 'nothing').ok).toBe(false);
  });

  it('client-output-buffer-limit: classes merged into the current value, replica shown as slave', () => {
    const current = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60';
    expect(check('client-output-buffer-limit', 'redis', 'replica 1mb 0 0', current)).toEqual({
      ok: true,
      value: 'normal 0 0 0 slave 1048576 0 0 pubsub 33554432 8388608 60',
    });
    expect(check('client-output-buffer-limit', 'redis', 'normal 0 0', current).ok).toBe(false);
    expect(check('client-output-buffer-limit', 'redis', 'master 0 0 0', current).ok).toBe(false);
    expect(check('client-output-buffer-limit', 'redis', 'pubsub 1x 0 0', current).ok).toBe(false);
  });

  it('keyspace events and latency percentiles', () => {
    expect(check('notify-keyspace-events', 'redis', 'Ex')).toEqual({ ok: true, value: 'Ex' });
    expect(check('notify-keyspace-events', 'redis', '')).toEqual({ ok: true, value: '' });
    expect(check('notify-keyspace-events', 'redis', 'Eq').ok).toBe(false);
    expect(check('latency-tracking-info-percentiles', 'valkey', '50  99.9')).toEqual({ ok: true, value: '50 99.9' });
    expect(check('latency-tracking-info-percentiles', 'valkey', '101').ok).toBe(false);
    expect(allowedValues(def('latency-tracking-info-percentiles'), def('latency-tracking-info-percentiles').engines.redis!)).toMatch(/0 to 100/);
  });

  it('lists the service-owned parameters as not modifiable, and the engines\' differences', () => {
    for (const n of ['maxmemory', 'appendonly', 'save', 'port', 'bind', 'proc-title-template', 'replica-priority', 'repl-timeout', 'io-threads', 'maxclients', 'aof-timestamp-enabled']) {
      expect(isModifiable(def(n)), n).toBe(false);
    }
    for (const n of ['maxmemory-policy', 'timeout', 'notify-keyspace-events', 'tcp-backlog']) expect(isModifiable(def(n)), n).toBe(true);
    expect(def('tcp-backlog').apply).toBe('static');
    expect(def('set-max-listpack-entries').engines.redis).toBeUndefined();
    expect(def('set-max-listpack-entries').engines.valkey).toBeDefined();
    expect(PARAMETERS.find((d) => d.name === 'requirepass' || d.name === 'masterauth')).toBeUndefined();
    expect(new Set(PARAMETERS.map((d) => d.name)).size).toBe(PARAMETERS.length);
  });

  it('one group per product and major version, with stable ids', () => {
    const v = (engine: 'redis' | 'valkey', version: string): EngineVersion => ({
      id: version, engine, productImageType: engine === 'redis' ? 'Redis OSS Sentinel' : 'Valkey Sentinel', name: version, dbaasEngine: engine === 'redis' ? 'Redis OSS' : 'Valkey',
      majorVersion: version.split('.').slice(0, 2).join('.'), softwareVersion: version, osType: 'Debian', osVersion: '12', endOfService: false,
    });
    const groups = parameterGroups([v('redis', '7.0.15'), v('redis', '7.0.14'), v('valkey', '8.0.1')]);
    expect(groups.map((g) => g.name)).toEqual(['default.redis7.0', 'default.valkey8.0']);
    expect(parameterGroups([v('valkey', '8.0.1')])[0].id).toBe(groups[1].id);
  });
});
