// diskLogSignal / diskLogLook (disk-full.ts): which engine log lines make the service look at a
// node's disk at once. The lines are the engines' own (Redis OSS 7 and Valkey 8 logs).
import { describe, expect, it } from 'vitest';
import { diskLogLook, diskLogSignal } from './disk-full.js';

const FULL = [
  '12:M 01 Dec 2026 20:01:02.003 # Error writing to the AOF file: No space left on device',
  '12:M 01 Dec 2026 20:01:02.003 # Short write while writing to the AOF file: (nwritten=12, expected=65560)',
  '15:C 01 Dec 2026 20:01:03.000 # Write error saving DB on disk: No space left on device',
  '12:M 01 Dec 2026 20:01:03.100 # Background saving error',
];
const WRITABLE = [
  '12:M 01 Dec 2026 20:02:00.000 * AOF write error looks solved, Redis can write again.',
  '12:M 01 Dec 2026 20:02:00.000 * AOF write error looks solved. Valkey can write again.',
  '12:M 01 Dec 2026 20:02:01.000 * Background saving terminated with success',
];
const ROUTINE = ['12:M 01 Dec 2026 20:00:00.000 * Ready to accept connections tcp', '12:M 01 Dec 2026 20:00:01.000 * 1 changes in 3600 seconds. Saving...'];

describe('diskLogSignal', () => {
  it.each(FULL)('calls a failed write for want of space full: %s', (l) => expect(diskLogSignal(l)).toBe('full'));
  it.each(WRITABLE)('calls a write that works again writable: %s', (l) => expect(diskLogSignal(l)).toBe('writable'));
  it.each(ROUTINE)('says nothing of routine lines: %s', (l) => expect(diskLogSignal(l)).toBeNull());
});

describe('diskLogLook', () => {
  it('looks at a failure, and at a success only after a failure', () => {
    expect(diskLogLook(false, [WRITABLE[2]])).toEqual({ look: false, failing: false });
    expect(diskLogLook(false, [ROUTINE[0], FULL[0]])).toEqual({ look: true, failing: true });
    expect(diskLogLook(true, [WRITABLE[0]])).toEqual({ look: true, failing: false });
    expect(diskLogLook(true, [ROUTINE[1]])).toEqual({ look: false, failing: true });
    expect(diskLogLook(false, [FULL[1], WRITABLE[0]])).toEqual({ look: true, failing: false });
  });
});
