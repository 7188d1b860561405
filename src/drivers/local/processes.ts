// Finding and ending the engine processes this service started. An engine is recognised by the
// marker in its process title (engines/config.ts), so a recycled pid is never mistaken for it.
import { readdir, readFile } from 'node:fs/promises';

export async function cmdline(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return null;
  }
}

export async function isAlive(pid: number, marker: string): Promise<boolean> {
  const line = await cmdline(pid);
  // The marker must be a whole word of the title: `cachestore:<id>` is not `cachestore:<id>-sentinel`.
  if (line === null || !line.split(/\s+/).includes(marker)) return false;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) has exited already; it only waits for its parent to reap it.
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every live pid whose title carries `marker` (all of /proc read at once: a scan is ~10 ms). */
export async function findByMarker(marker: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p !== process.pid);
  const alive = await Promise.all(pids.map((pid) => isAlive(pid, marker)));
  return pids.filter((_, i) => alive[i]);
}

export async function waitForExit(pid: number, marker: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid, marker))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return !(await isAlive(pid, marker));
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
