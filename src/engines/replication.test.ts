// Probing a node while this process's event loop is busy, against a real redis-server: the
// service resuming many requests at once on a loaded machine blocks its loop for hundreds of
// milliseconds, and a probe whose connection was made meanwhile must still see the engine.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/child-service.js';
import { probeReplication, probeReplicationSurely } from './replication.js';

const PASSWORD = 'probe-test-pass';
let engine: ChildProcess;
let port: number;
let deadPort: number;

/** Holds the event loop, as synchronous work of many resumed requests does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

beforeAll(async () => {
  [port, deadPort] = [await freePort(), await freePort()];
  // --pdeathsig: the engine ends with this test process, also when it dies without its afterAll.
  engine = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while ((await probeReplication({ host: '127.0.0.1', port, password: PASSWORD }, 1000)) === null) {
    if (Date.now() > deadline) throw new Error('redis-server did not answer');
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(() => {
  engine?.kill('SIGKILL');
});

/** Starts `probe`, lets the loop turn `turns` times, holds it 700 ms, and returns what the probe saw. */
async function probeWhileBusy(probe: typeof probeReplication, turns: number): Promise<string | null> {
  const p = probe({ host: '127.0.0.1', port, password: PASSWORD });
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
  busy(700);
  return (await p)?.role ?? null;
}

describe('a probe of a healthy engine while the event loop is held', () => {
  it('one look of 500 ms can miss it: the connect timer fires before the connection is seen', async () => {
    // Which turn the connection is made on is ioredis's; one of the first few is it.
    const seen = [];
    for (const turns of [0, 1, 2, 3]) seen.push(await probeWhileBusy(probeReplication, turns));
    expect(seen).toContain(null);
  });

  it('the second look sees it, whichever turn the loop was held on', async () => {
    for (const turns of [0, 1, 2, 3]) expect(await probeWhileBusy(probeReplicationSurely, turns), `held after ${turns} turns`).toBe('master');
  });

  it('a dead engine is still no answer', async () => {
    expect(await probeReplicationSurely({ host: '127.0.0.1', port: deadPort, password: PASSWORD })).toBeNull();
  });
});
