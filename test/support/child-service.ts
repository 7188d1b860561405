// Runs the service as a separate process (node + tsx on src/main.ts), so a test can SIGKILL it
// in the middle of an operation and start it again on the same data dir.
import { spawn, type ChildProcess } from 'node:child_process';
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

export async function startChildService(env: Record<string, string>, keys = { accessKey: 'child-key', secretKey: 'child-secret-value' }): Promise<ChildService> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      CACHESTORE_LISTEN: `127.0.0.1:${port}`,
      CACHESTORE_ACCESS_KEY: keys.accessKey,
      CACHESTORE_SECRET_KEY: keys.secretKey,
      CACHESTORE_ACCOUNT_ID: 'dddddddddddddddddddddddddddddddd',
      CACHESTORE_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const client = new SignedClient(`http://127.0.0.1:${port}`, keys);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`service did not listen: ${out}`);
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
