import { describe, expect, it } from 'vitest';
import type { InstalledEngine } from '../../engines/detect.js';
import { mergeReadings } from './installed-engines.js';

function found(engine: 'redis' | 'valkey', softwareVersion: string): InstalledEngine {
  const v = { id: `${engine}-${softwareVersion}`, engine, softwareVersion } as InstalledEngine['version'];
  return { version: v, binaries: { server: `/usr/bin/${engine}-server`, sentinel: `/usr/bin/${engine}-sentinel`, checkAof: null, checkRdb: null } };
}

describe('mergeReadings', () => {
  it('takes what a new reading finds over the last one, engine by engine', () => {
    const merged = mergeReadings([found('redis', '7.0.15'), found('valkey', '8.0.1')], [found('valkey', '8.0.2')]);
    expect(merged.map((e) => e.version.id)).toEqual(['redis-7.0.15', 'valkey-8.0.2']);
  });

  it('keeps an engine the new reading missed, and adds one it found for the first time', () => {
    expect(mergeReadings([found('redis', '7.0.15')], []).map((e) => e.version.id)).toEqual(['redis-7.0.15']);
    expect(mergeReadings([], [found('valkey', '8.0.1'), found('redis', '7.0.15')]).map((e) => e.version.id)).toEqual(['valkey-8.0.1', 'redis-7.0.15']);
  });
});
