// Who may use a data dir. With SQLite, one service: engines, their files and the store belong to
// it (service.pid). With PostgreSQL, several service processes on one machine share the data dir
// (the engines they all manage live in it) and each leaves its pid in replicas/; the store's
// leases decide who does what. The two never mix: a SQLite service would resume requests that a
// PostgreSQL replica runs, and work from a store that does not know the others' clusters.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

async function serviceAlive(pid: number): Promise<boolean> {
  if (!(pid > 0) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return /node|tsx/.test(await readFile(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

async function pidIn(file: string): Promise<number> {
  try {
    return Number((await readFile(file, 'utf8')).trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return 0;
  }
}

/** Live service processes that share the data dir (PostgreSQL replicas). */
async function liveReplicas(dir: string): Promise<number[]> {
  const pids = (await readdir(dir).catch(() => [] as string[])).map(Number).filter((n) => Number.isInteger(n));
  const alive: number[] = [];
  for (const pid of pids) {
    if (await serviceAlive(pid)) alive.push(pid);
    else await rm(join(dir, String(pid)), { force: true });
  }
  return alive;
}

/** `shared`: this process is one of several PostgreSQL replicas on the data dir. */
export async function lockDataDir(dataDir: string, shared = false): Promise<() => Promise<void>> {
  const file = join(dataDir, 'service.pid');
  const replicas = join(dataDir, 'replicas');
  const sole = await pidIn(file);
  if (await serviceAlive(sole)) throw new Error(`another Cache Store service (pid ${sole}) uses the data dir ${dataDir}`);
  if (shared) {
    await mkdir(replicas, { recursive: true, mode: 0o700 });
    const mine = join(replicas, String(process.pid));
    await writeFile(mine, `${process.pid}\n`);
    return async () => {
      await rm(mine, { force: true });
    };
  }
  const others = await liveReplicas(replicas);
  if (others.length > 0) throw new Error(`Cache Store services on a PostgreSQL store (pids ${others.join(', ')}) use the data dir ${dataDir}`);
  await writeFile(file, `${process.pid}\n`);
  return async () => {
    await rm(file, { force: true });
  };
}
