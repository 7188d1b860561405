// The PostgreSQL server the store tests use, brought up by the test run itself (vitest
// globalSetup: test/support/postgres-global-setup.ts), so `npm test` needs no server started by hand:
//
// - CACHESTORE_TEST_PG_URL set: that server, as given.
// - otherwise, if a server answers at 127.0.0.1:5432 (trust auth, user postgres; the probe URL
//   can be changed with CACHESTORE_TEST_PG_PROBE_URL): that one.
// - otherwise a private server: initdb in a temp dir (as the postgres user when run as root,
//   since PostgreSQL refuses to run as root), started on a free loopback port, stopped and
//   removed when the run ends. scripts/install-deps.sh installs the server binaries.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_PG_ADMIN_URL } from './databases.js';

export interface TestPostgres {
  /** Admin connection URL (what CACHESTORE_TEST_PG_URL takes). */
  url: string;
  /** True when this run started the server (and stop() removes it). */
  private: boolean;
  /** The address looked at first (without its password). */
  probed?: string;
  /** The private server's data dir and postmaster pid, for tests of this file. */
  dataDir?: string;
  pid?: number;
  stop(): Promise<void>;
}

/** Whether a server answers `SELECT 1` at `url` within `timeoutMs`. */
export async function answers(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A TCP port nobody listens on now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The directory holding initdb and postgres: Debian keeps them per major version. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = spawnSync('ls', [root], { encoding: 'utf8' }).stdout.split('\n').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const m of majors) if (existsSync(join(root, m, 'bin', 'initdb'))) return join(root, m, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  return which ? join(which, '..') : undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('running as root, and there is no postgres user to run a private PostgreSQL server as: run scripts/install-deps.sh');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

async function startPrivate(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server at 127.0.0.1:5432 and no initdb to start a private one: run scripts/install-deps.sh (it installs postgresql)');
  const user = postgresUser();
  const dir = await mkdtemp(join(tmpdir(), 'cachestore-pg-'));
  const dataDir = join(dir, 'data');
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  let child: ChildProcess | undefined;
  const removeAll = async () => {
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (user) await chown(dir, user.uid, user.gid);
    const init = spawnSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], { ...ids, env, cwd: dir, encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${(init.stderr || init.stdout).trim().split('\n').slice(-3).join(' ')}`);
    const port = await freePort();
    // Durability settings off: the data goes away with the run.
    child = spawn(
      join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      { ...ids, env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (d) => (log = (log + String(d)).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (await answers(url, 1000)) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the private PostgreSQL server did not come up on port ${port}: ${log.trim().split('\n').slice(-3).join(' ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = child.pid!;
    const running = child;
    return {
      url,
      private: true,
      dataDir,
      pid,
      async stop() {
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, no waiting for clients).
        if (running.exitCode === null && running.signalCode === null) {
          running.kill('SIGINT');
          const timer = setTimeout(() => running.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        await removeAll();
      },
    };
  } catch (err) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    await removeAll();
    throw err;
  }
}

/** The server the store tests use, started by this run if none answers (see the top of the file). */
export async function ensureTestPostgres(opts: { given?: string; probeUrl?: string } = {}): Promise<TestPostgres> {
  const given = 'given' in opts ? opts.given : process.env.CACHESTORE_TEST_PG_URL;
  if (given) return { url: given, private: false, stop: async () => undefined };
  const probe = opts.probeUrl ?? (process.env.CACHESTORE_TEST_PG_PROBE_URL || DEFAULT_PG_ADMIN_URL);
  if (await answers(probe)) return { url: probe, private: false, stop: async () => undefined };
  const u = new URL(probe);
  return { ...(await startPrivate()), probed: `${u.hostname}:${u.port || 5432}` };
}
