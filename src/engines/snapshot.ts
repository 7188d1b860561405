// Verification of a snapshot (RDB), the same on Redis OSS and Valkey: a backup counts only once
// its file is proven restorable by loading it into a scratch engine that listens on a unix
// socket only. (Backups take their snapshots by AOF rewrite: engines/aof.ts.)
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { EngineBinaries } from './detect.js';
import { parseInfo } from './replication.js';

const run = promisify(execFile);

export interface Verified {
  keys: number;
  /** DEBUG DIGEST of the loaded dataset: equal datasets have equal digests. */
  digest: string;
}

/** Keys the engine's checker counts in an RDB (read minus already expired); throws if damaged. */
async function countWithChecker(checkRdb: string, rdbFile: string, timeoutMs: number): Promise<number | undefined> {
  const { stdout } = await run(checkRdb, [rdbFile], { timeout: timeoutMs }).catch((err) => {
    throw new Error(`the snapshot is damaged: ${String(err.stdout ?? err.message).split('\n').filter(Boolean).slice(-2).join(' ')}`);
  });
  const read = Number(/(\d+) keys read/.exec(stdout)?.[1] ?? NaN);
  const expired = Number(/(\d+) already expired/.exec(stdout)?.[1] ?? 0);
  return Number.isFinite(read) ? read - expired : undefined;
}

/**
 * Proves an RDB file restorable: the engine's own checker reads it (checksum, structure) while a
 * scratch engine loads it (the two at once: each reads the whole file), and the engine must hold
 * exactly the keys the checker counted.
 */
export async function verifyRdb(rdbFile: string, bin: EngineBinaries, timeoutMs = 10 * 60_000): Promise<Verified> {
  // Only the socket and the log go to the temporary dir (a unix socket path must be short, and
  // /tmp may be a small tmpfs); the engine loads the file where it is, saving nothing back.
  const dir = await mkdtemp(join(tmpdir(), 'cachestore-verify-'));
  let child: ReturnType<typeof spawn> | undefined;
  const checked = bin.checkRdb ? countWithChecker(bin.checkRdb, rdbFile, timeoutMs) : Promise.resolve(undefined);
  // Awaited below; until then a rejection must not count as unhandled.
  checked.catch(() => undefined);
  try {
    const socket = join(dir, 's.sock');
    child = spawn(
      bin.server,
      ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dirname(rdbFile), '--dbfilename', basename(rdbFile), '--appendonly', 'no', '--save', '', '--daemonize', 'no', '--enable-debug-command', 'local', '--logfile', join(dir, 'engine.log')],
      { stdio: 'ignore' },
    );
    const c = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          if (c.status !== 'ready') await c.connect();
          if ((await c.ping()) === 'PONG') break;
        } catch {
          c.disconnect();
        }
        if (child.exitCode !== null) {
          await checked; // the checker's account of the damage, when it has one
          throw new Error('the scratch engine could not load the snapshot; see its log');
        }
        if (Date.now() > deadline) throw new Error('the scratch engine did not load the snapshot in time');
        await new Promise((r) => setTimeout(r, 20));
      }
      const keyspace = parseInfo(await c.info('keyspace'));
      const keys = Object.values(keyspace).reduce((n, v) => n + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0);
      const digest = String(await c.call('DEBUG', 'DIGEST'));
      const expected = await checked;
      if (expected !== undefined && keys !== expected) {
        throw new Error(`the snapshot holds ${expected} keys but ${keys} loaded`);
      }
      return { keys, digest };
    } finally {
      c.disconnect();
    }
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    await checked.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
