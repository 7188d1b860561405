// Runs the service as a separate process (node + tsx on src/main.ts), so a test can SIGKILL it
// in the middle of an operation and start it again on the same data dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { removeNftTable } from '../../src/drivers/local/nftables.js';
import { killEnginesUnder } from './engines.js';
import { unmountVolumesUnder } from './volumes.js';
import { testSubnet } from './harness.js';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SignedClient } from './client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface ChildService {
  child: ChildProcess;
  client: SignedClient;
  /** Everything the process printed (stdout and stderr). */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Every service a test of this process started and that has not exited. */
const started = new Set<ChildProcess>();

/** `listenTimeoutMs`: how long the start may take (a start re-adopting many clusters takes longer under load). */
export async function startChildService(env: Record<string, string>, keys = { accessKey: 'child-key', secretKey: 'child-secret-value' }, listenTimeoutMs = 60_000): Promise<ChildService> {
  const port = await freePort();
  // setpriv --pdeathsig: the kernel ends the service with this test process, so a test that
  // timed out (vitest does not stop its function) never leaves a service running after the file.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      CACHESTORE_LISTEN: `127.0.0.1:${port}`,
      CACHESTORE_ACCESS_KEY: keys.accessKey,
      CACHESTORE_SECRET_KEY: keys.secretKey,
      CACHESTORE_ACCOUNT_ID: 'dddddddddddddddddddddddddddddddd',
      CACHESTORE_LOG_LEVEL: 'info',
      // As in the harness: real data volumes only where a test asks (or CACHESTORE_TEST_VOLUMES=auto).
      CACHESTORE_VOLUMES: process.env.CACHESTORE_TEST_VOLUMES ?? 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const client = new SignedClient(`http://127.0.0.1:${port}`, keys);
  // Compiling the service with tsx takes seconds, many more on a machine under load.
  const deadline = Date.now() + listenTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      // Never leave it behind: it would hold the data dir's lock against the next start.
      child.kill('SIGKILL');
      throw new Error(`service did not listen within ${listenTimeoutMs / 1000} s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    client,
    output: () => out,
    kill: (signal) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/** Polls the request's details until `step` is its last finished step. */
export async function waitStep(s: ChildService, requestId: string, step: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const d = await s.client.get(`/v1/requests/${requestId}/details`);
    if (d.body.last_step === step) return;
    if (d.body.state === 'COMPLETED' || d.body.state === 'FAILED') throw new Error(`request ended (${d.body.state}) before step ${step}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`step ${step} not reached`);
}

export interface ChildServices {
  dataDir: string;
  /** The service process of the moment (SIGKILLed after each test). */
  current: ChildService | undefined;
  /** Starts the service on the shared data dir and subnet, with `env` added. */
  start(env?: Record<string, string>): Promise<ChildService>;
}

/**
 * For a describe block whose tests kill and restart the service: one data dir and subnet for all
 * its starts; the service is SIGKILLed after each test, engines and files removed after all.
 */
export function useChildServices(prefix: string, opts: { listenTimeoutMs?: number; cleanupTimeoutMs?: number } = {}): ChildServices {
  const subnet = testSubnet();
  const s: ChildServices = {
    dataDir: '',
    current: undefined,
    async start(env = {}) {
      s.current = await startChildService({ CACHESTORE_DATA_DIR: s.dataDir, CACHESTORE_SUBNETS: `local-subnet=${subnet}`, ...env }, undefined, opts.listenTimeoutMs);
      return s.current;
    },
  };
  beforeAll(async () => {
    s.dataDir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await s.current?.kill('SIGKILL');
    s.current = undefined;
  });
  afterAll(async () => {
    await s.current?.kill('SIGKILL');
    // Also those a timed-out test started after its afterEach had run.
    for (const c of started) c.kill('SIGKILL');
    await killEnginesUnder(s.dataDir);
    // Loop devices and nftables tables are the kernel's: never leave one behind (rm cannot
    // remove a mount point; the crash sweep's allow-list workflow left a table per run).
    await unmountVolumesUnder(s.dataDir);
    await removeNftTable(s.dataDir);
    await rm(s.dataDir, { recursive: true, force: true });
    // A large fleet on a loaded machine takes longer than the suite's hook timeout to end.
  }, opts.cleanupTimeoutMs);
  return s;
}
