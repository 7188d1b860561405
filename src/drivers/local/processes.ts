// Finding and ending the engine processes this service started, by what only the service
// controls: the engine's pid file in the node's directory (mode 700), and the process's start
// time and executable that the service records beside it when it launches the engine. The
// process title is for people only: a tenant could once change it (proc-title-template), and a
// recycled pid must never be taken for the engine (its start time differs).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { basename } from 'node:path';

/** What the service records when it launches an engine (engine.launch, beside the pid file). */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot; a new process with the same pid differs. */
  startTicks: number;
  /** /proc/<pid>/exe at launch. */
  exe: string;
}

/** What /proc says about a pid now. */
export interface SeenProcess {
  startTicks: number;
  exe: string;
  cwd: string;
  /** Exited, waiting to be reaped: not running. */
  zombie: boolean;
}

/** State and start time from the text of /proc/<pid>/stat (the name in parentheses may hold spaces). */
export function parseStat(text: string): { state: string; startTicks: number } {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); starttime is field 22.
  return { state: fields[0], startTicks: Number(fields[19]) };
}

/** A binary being replaced while the process runs shows as "<path> (deleted)": the same program. */
function normalExe(exe: string): string {
  return exe.replace(/ \(deleted\)$/, '');
}

/** Whether the process seen now is the one recorded at launch. Pure. */
export function isSameProcess(recorded: ProcessIdentity, seen: SeenProcess | null): boolean {
  return seen !== null && !seen.zombie && seen.startTicks === recorded.startTicks && normalExe(seen.exe) === normalExe(recorded.exe);
}

const ENGINE_EXE = /^(redis|valkey)-(server|sentinel|check-rdb|check-aof)$/;

/**
 * Whether a pid found in a node's pid file, with no launch record for it, is that node's engine:
 * an engine binary whose working directory is the node's data dir (the engine changes into its
 * `dir` at start, and the tenant cannot change `dir`). Used once per process, to adopt engines
 * launched before the service recorded identities (or when it died between launch and record).
 */
export function isAdoptable(seen: SeenProcess | null, dataDir: string): boolean {
  return seen !== null && !seen.zombie && ENGINE_EXE.test(basename(normalExe(seen.exe))) && seen.cwd === dataDir;
}

/** What /proc says about a pid, or null when there is no such process (or it is not ours to read). */
export async function inspect(pid: number): Promise<SeenProcess | null> {
  try {
    const [stat, exe, cwd] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readlink(`/proc/${pid}/exe`), readlink(`/proc/${pid}/cwd`)]);
    const s = parseStat(stat);
    return { startTicks: s.startTicks, exe, cwd, zombie: s.state === 'Z' };
  } catch {
    return null;
  }
}

/**
 * Every live engine process working in `dataDir` (see isAdoptable), by a scan of /proc: for an
 * engine whose pid file is gone (two launches raced, one removed what the other wrote).
 */
export async function findEnginesIn(dataDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (cwd === dataDir && isAdoptable(await inspect(pid), dataDir)) out.push(pid);
  }
  return out;
}

/** The identity of a live process, to record at launch. */
export async function identify(pid: number): Promise<ProcessIdentity | null> {
  const seen = await inspect(pid);
  return seen && !seen.zombie ? { pid, startTicks: seen.startTicks, exe: seen.exe } : null;
}

export async function isRunningProcess(id: ProcessIdentity): Promise<boolean> {
  return isSameProcess(id, await inspect(id.pid));
}

export async function waitForExit(id: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isRunningProcess(id))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return !(await isRunningProcess(id));
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function cmdline(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return null;
  }
}

async function carriesMarker(pid: number, marker: string): Promise<boolean> {
  const line = await cmdline(pid);
  // The marker must be a whole word of the title: `cachestore:<id>` is not `cachestore:<id>-sentinel`.
  if (line === null || !line.split(/\s+/).includes(marker)) return false;
  const seen = await inspect(pid);
  return seen !== null && !seen.zombie;
}

/**
 * Every live pid whose title carries `marker`. For people and test clean-up only: the service
 * itself never relies on titles. Read synchronously: /proc files are in memory, and ~300 small
 * synchronous reads take ~3 ms where the same reads through the thread pool took ~40 ms of
 * queueing under load.
 */
export async function findByMarker(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!line.includes(marker)) continue;
    if (await carriesMarker(pid, marker)) out.push(pid);
  }
  return out;
}
