import { describe, expect, it } from 'vitest';
import { firstTimestamp, lastTimestamp } from './aof.js';

describe('the last write second of a write log', () => {
  it('is the last #TS annotation, whatever follows it', () => {
    const log = '#TS:1796137547\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1796137549\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n';
    expect(lastTimestamp(log)).toBe(1796137549);
  });

  it('is null for a log with no annotation (no write since the rewrite)', () => {
    expect(lastTimestamp('')).toBeNull();
    expect(lastTimestamp('*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n')).toBeNull();
  });
});

describe('the first write second of a write log', () => {
  it('is the first #TS annotation (a restore to a second before it is the backup alone)', () => {
    const log = '#TS:1796137547\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1796137549\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n';
    expect(firstTimestamp(log)).toBe(1796137547);
    expect(firstTimestamp('')).toBeNull();
  });
});
