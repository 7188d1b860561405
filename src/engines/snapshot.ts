// Verification of a snapshot (RDB), the same on Redis OSS and Valkey: a backup counts only once
// its file is proven restorable by loading it into a scratch engine that listens on a unix
// socket only. (Backups take their snapshots by AOF rewrite: engines/aof.ts.)
import { execFile, spawn } from 'node:child_process';
import { engineEnv } from './child-env.js';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

const SCRATCH_PREFIX = 'cachestore-verify-';
/** How long a scratch directory may be without its owner.pid before the sweep takes it for a crash's. */
const UNOWNED_GRACE_MS = 60_000;
/** util-linux's setpriv: asks the kernel to SIGKILL the scratch engine when the service dies. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Ends scratch engines whose service died and removes their directories. A scratch engine holds a
 * whole dataset in memory and is a plain child process, not one of the cluster's engines, so the
 * service's own bookkeeping never finds it; the kernel ends it with the service (setpriv
 * --pdeathsig), and this sweep (at start) ends one that escaped (the service died before setpriv
 * asked) and removes what is left. Directories of a service that is still alive (another
 * instance on this machine) are left alone. Returns how many it removed.
 */
export async function sweepScratchEngines(dir = tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const path = join(dir, name);
    const owner = Number(await readFile(join(path, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) continue;
    // No owner yet: a live service may be between making the directory and naming itself in it
    // (bench:soak saw a start of another service remove it there, and that backup FAILED).
    if (!(owner > 0) && Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) < UNOWNED_GRACE_MS) continue;
    const engine = Number(await readFile(join(path, 'engine.pid'), 'utf8').catch(() => 'NaN'));
    // Only the engine that names this directory in its title: a pid is reused in time.
    if (Number.isInteger(engine) && engine > 0 && alive(engine) && commandLine(engine).includes(path)) process.kill(engine, 'SIGKILL');
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * Proves an RDB file restorable: the engine's own checker reads it (checksum, structure) while a
 * scratch engine loads it (the two at once: each reads the whole file), and the engine must hold
 * exactly the keys the checker counted.
 */
export async function verifyRdb(rdbFile: string, bin: EngineBinaries, timeoutMs = 10 * 60_000): Promise<Verified> {
  // Only the socket and the log go to the temporary dir (a unix socket path must be short, and
  // /tmp may be a small tmpfs); the engine loads the file where it is, saving nothing back.
  const dir = await mkdtemp(join(tmpdir(), SCRATCH_PREFIX));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  let child: ReturnType<typeof spawn> | undefined;
  const checked = bin.checkRdb ? countWithChecker(bin.checkRdb, rdbFile, timeoutMs) : Promise.resolve(undefined);
  // Awaited below; until then a rejection must not count as unhandled.
  checked.catch(() => undefined);
  try {
    const socket = join(dir, 's.sock');
    const args = ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dirname(rdbFile), '--dbfilename', basename(rdbFile), '--appendonly', 'no', '--save', '', '--daemonize', 'no', '--enable-debug-command', 'local', '--logfile', join(dir, 'engine.log'),
      // Its socket (and so this directory) in its process title: the sweep knows it by that.
      '--proc-title-template', '{title} {unixsocket}'];
    child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', bin.server, ...args], { stdio: 'ignore', env: engineEnv() })
      : spawn(bin.server, args, { stdio: 'ignore', env: engineEnv() });
    if (child.pid) await writeFile(join(dir, 'engine.pid'), String(child.pid));
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
