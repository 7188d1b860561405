// The multi-part append-only file (Redis OSS 7+, Valkey) as backups use it: a rewrite cuts a new
// base (an RDB) at the instant of its fork and starts a new increment file that logs every write
// after that instant, with `#TS:<unix seconds>` annotations when `aof-timestamp-enabled` is on.
// A backup is the base; point-in-time recovery replays the increment up to a second, cut with
// the engine's own checker (`--truncate-to-timestamp`).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Endpoint } from './client.js';
import { parseInfo, withClient } from './replication.js';

const run = promisify(execFile);

export interface ManifestEntry {
  name: string;
  seq: number;
  type: 'b' | 'h' | 'i';
}

/** Parses `appendonly.aof.manifest`: lines of `file <name> seq <n> type <b|h|i>`. */
export function parseManifest(text: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 6) continue;
    const get = (k: string) => words[words.indexOf(k) + 1];
    const type = get('type');
    if (words[0] !== 'file' || (type !== 'b' && type !== 'h' && type !== 'i')) continue;
    out.push({ name: get('file').replace(/^"|"$/g, ''), seq: Number(get('seq')), type });
  }
  return out;
}

export interface AofFiles {
  /** The AOF directory (dir + appenddirname). */
  dir: string;
  /** Current base file (RDB preamble) and the increment that follows it, as absolute paths. */
  base: string;
  incr: string | null;
}

export async function readAofFiles(aofDir: string, manifestName = 'appendonly.aof.manifest'): Promise<AofFiles> {
  const entries = parseManifest(await readFile(join(aofDir, manifestName), 'utf8'));
  const base = entries.find((e) => e.type === 'b');
  if (!base) throw new Error(`the AOF manifest in ${aofDir} names no base file`);
  const incrs = entries.filter((e) => e.type === 'i');
  // One rewrite leaves one increment; more than one means writes span several (a failed rewrite).
  if (incrs.length > 1) throw new Error(`the AOF in ${aofDir} has ${incrs.length} increment files; a rewrite is needed first`);
  return { dir: aofDir, base: join(aofDir, base.name), incr: incrs[0] ? join(aofDir, incrs[0].name) : null };
}

export interface Rewrite extends AofFiles {
  /** The increment that was current before the rewrite (closed by it), by inode. */
  previousIncrIno: number | null;
  /** Just after the fork: the base holds every write before it, the new increment every one after. */
  snapshotAt: Date;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Rewrites the node's AOF (BGREWRITEAOF) and returns the second of its fork, when it finished.
 * Waits for saves and rewrites already running first, so the rewrite forks at once; `beforeFork`
 * runs right before each attempt's command (what the files were before it). Needs nothing of the
 * engine's files: any driver's nodes can be rewritten so.
 */
export async function rewriteWriteLog<T = void>(
  ep: Endpoint,
  timeoutMs = 10 * 60_000,
  beforeFork: (config: (name: string) => Promise<string>) => Promise<T> = async () => undefined as T,
): Promise<{ snapshotAt: Date; before: T }> {
  return withClient(
    ep,
    async (c) => {
      const deadline = Date.now() + timeoutMs;
      const persistence = async () => parseInfo(await c.info('persistence'));
      const idle = async () => {
        for (;;) {
          const p = await persistence();
          if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0' && p.rdb_bgsave_in_progress === '0') return p;
          if (Date.now() > deadline) throw new Error(`the engine stayed busy saving for ${timeoutMs / 1000} s`);
          await sleep(20);
        }
      };
      const config = async (name: string) => ((await c.config('GET', name)) as string[])[1] ?? '';
      if ((await config('appendonly')) !== 'yes') {
        // Turning the AOF on writes its first base; the node logs every write from then on.
        await c.config('SET', 'appendonly', 'yes');
        await sleep(50);
      }
      for (let attempt = 0; attempt < 5; attempt++) {
        const idleBefore = await idle();
        const before = await beforeFork(config);
        const reply = String(await c.call('BGREWRITEAOF'));
        const snapshotAt = new Date();
        if (/scheduled/i.test(reply)) {
          // A save started between our check and the command: its fork time is not ours to know.
          await idle();
          continue;
        }
        for (;;) {
          const p = await persistence();
          if (p.aof_rewrite_in_progress === '0' && Number(p.aof_rewrites ?? 0) > Number(idleBefore.aof_rewrites ?? 0)) {
            if (p.aof_last_bgrewrite_status !== 'ok') throw new Error('the engine could not rewrite its append-only file (aof_last_bgrewrite_status: err); see its log');
            break;
          }
          if (Date.now() > deadline) throw new Error(`the append-only file rewrite did not finish within ${timeoutMs / 1000} s`);
          await sleep(10);
        }
        return { snapshotAt, before };
      }
      throw new Error('the engine kept starting other saves; the rewrite could not begin');
    },
    5000,
  );
}

/**
 * rewriteWriteLog, and the new base and increment as files: the engine's `dir` must be on this
 * machine (the local driver's backups).
 */
export async function rewriteAof(ep: Endpoint, timeoutMs = 10 * 60_000): Promise<Rewrite> {
  let aofDir = '';
  const r = await rewriteWriteLog(ep, timeoutMs, async (config) => {
    aofDir ||= join(await config('dir'), await config('appenddirname'));
    const previous = await readAofFiles(aofDir).catch(() => undefined);
    return previous?.incr ? await stat(previous.incr).then((st) => st.ino, () => null) : null;
  });
  const now = await readAofFiles(aofDir);
  return { ...now, previousIncrIno: r.before, snapshotAt: r.snapshotAt };
}

/**
 * Lays out an AOF directory a node can start from: the backup's base, and the write log that
 * followed it when recovering to a point in time.
 */
export async function buildAofDir(target: string, base: string, incr: string | null): Promise<string> {
  await mkdir(target, { recursive: true, mode: 0o700 });
  const baseName = 'appendonly.aof.1.base.rdb';
  const incrName = 'appendonly.aof.1.incr.aof';
  await copyFile(base, join(target, baseName));
  const lines = [`file ${baseName} seq 1 type b`];
  if (incr) {
    await copyFile(incr, join(target, incrName));
    lines.push(`file ${incrName} seq 1 type i`);
  }
  const manifest = join(target, 'appendonly.aof.manifest');
  await writeFile(manifest, `${lines.join('\n')}\n`, { mode: 0o600 });
  return manifest;
}

/** Cuts the AOF behind `manifest` after the last write of second `unixSeconds` (the engine's checker). */
export async function truncateAofAt(checkAof: string, manifest: string, unixSeconds: number): Promise<void> {
  const incr = parseManifest(await readFile(manifest, 'utf8')).find((e) => e.type === 'i');
  if (incr) {
    const file = join(dirname(manifest), incr.name);
    // Every write of the log came after that second (no write between the backup and it): the
    // data then is the base alone. The checker refuses this cut ("has nothing before timestamp").
    if (await loggedOnlyAfter(file, unixSeconds)) {
      await writeFile(file, '');
      return;
    }
  }
  try {
    await run(checkAof, ['--truncate-to-timestamp', String(unixSeconds), manifest], { timeout: 10 * 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; message: string };
    throw new Error(`the write log could not be cut at ${unixSeconds}: ${String(e.stdout ?? e.message).split('\n').filter(Boolean).slice(-2).join(' ')}`);
  }
}

/**
 * Whether every write of an increment file came after second `unixSeconds` (its first `#TS:` is
 * later): the data at that second is then the base alone, and the checker refuses to cut there.
 */
export async function loggedOnlyAfter(incrFile: string, unixSeconds: number): Promise<boolean> {
  const first = firstTimestamp(await readHead(incrFile, 64 * 1024));
  return first !== null && first > unixSeconds;
}

async function readHead(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
}

/** The second of the first `#TS:<unix seconds>` annotation in a piece of an increment file, or null. */
export function firstTimestamp(text: string): number | null {
  const m = /#TS:(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The second of the last `#TS:<unix seconds>` annotation in a piece of an increment file's
 * text (its tail), or null when the piece holds none.
 */
export function lastTimestamp(text: string): number | null {
  const i = text.lastIndexOf('#TS:');
  if (i < 0) return null;
  const m = /^#TS:(\d+)/.exec(text.slice(i));
  return m ? Number(m[1]) : null;
}
