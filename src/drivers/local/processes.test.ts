import { spawn } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findEnginesIn, identify, isAdoptable, isRunningProcess, isSameProcess, parseStat, waitForExit } from './processes.js';

const seen = (o: Partial<{ startTicks: number; exe: string; cwd: string; zombie: boolean }> = {}) => ({
  startTicks: 1000, exe: '/usr/bin/redis-check-rdb', cwd: '/data/engines/n1/data', zombie: false, ...o,
});
const recorded = { pid: 42, startTicks: 1000, exe: '/usr/bin/redis-check-rdb' };

describe('process identity', () => {
  it('reads state and start time from /proc/<pid>/stat, whatever the title holds', () => {
    const text = '42 (redis-server 127.0.0.1:6378 ) x) S 1 42 42 0 -1 4194624 1 0 0 0 0 0 0 0 20 0 5 0 123456 1000 10 18446744073709551615';
    expect(parseStat(text)).toEqual({ state: 'S', startTicks: 123456 });
  });

  it('takes a process for the recorded engine only with the same start time and executable', () => {
    expect(isSameProcess(recorded, seen())).toBe(true);
    // The pid was recycled: a later process.
    expect(isSameProcess(recorded, seen({ startTicks: 1001 }))).toBe(false);
    expect(isSameProcess(recorded, seen({ exe: '/usr/bin/python3' }))).toBe(false);
    expect(isSameProcess(recorded, seen({ zombie: true }))).toBe(false);
    expect(isSameProcess(recorded, null)).toBe(false);
    // The package was upgraded under the running engine: still the same process.
    expect(isSameProcess(recorded, seen({ exe: '/usr/bin/redis-check-rdb (deleted)' }))).toBe(true);
  });

  it('adopts an unrecorded pid only if it is an engine working in the node\'s own data dir', () => {
    expect(isAdoptable(seen(), '/data/engines/n1/data')).toBe(true);
    expect(isAdoptable(seen({ exe: '/usr/bin/valkey-check-rdb' }), '/data/engines/n1/data')).toBe(true);
    expect(isAdoptable(seen(), '/data/engines/n2/data')).toBe(false);
    expect(isAdoptable(seen({ exe: '/usr/bin/bash' }), '/data/engines/n1/data')).toBe(false);
    expect(isAdoptable(seen({ zombie: true }), '/data/engines/n1/data')).toBe(false);
  });

  it('sees a real process as running until it exits, and a record of another start time never', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const id = (await identify(child.pid!))!;
      expect(id.pid).toBe(child.pid);
      expect(await isRunningProcess(id)).toBe(true);
      expect(await isRunningProcess({ ...id, startTicks: id.startTicks - 1 })).toBe(false);
      child.kill('SIGKILL');
      expect(await waitForExit(id, 5000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('finds an engine by the data dir it works in, and nothing else that runs there', async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), 'cachestore-proc-')));
    const engine = spawn('redis-server', ['--port', '0', '--unixsocket', join(dir, 's.sock'), '--dir', dir, '--save', ''], { stdio: 'ignore', cwd: tmpdir() });
    const other = spawn('sleep', ['30'], { stdio: 'ignore', cwd: dir });
    try {
      let found: number[] = [];
      for (let i = 0; i < 200 && found.length === 0; i++) {
        found = await findEnginesIn(join(dir));
        if (found.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      expect(found).toEqual([engine.pid]);
      expect(await findEnginesIn(join(dir, 'elsewhere'))).toEqual([]);
    } finally {
      engine.kill('SIGKILL');
      other.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
