// Write logs kept in the object store. The engine appends to its live AOF increment on this
// machine; a local spool (LogArchive: a hard link, so the file keeps growing and outlives the
// engine's rewrite) holds it, and `ship` sends the bytes it gained since the last call as a
// segment object, then a small head object:
//
//   <prefix>logs/<cluster>/<backup>.incr.aof/<start>-<end>   bytes [start, end), 16 digits each
//   <prefix>logs/<cluster>/<backup>.incr.aof/head            { identity, shipped, live, lastWriteAt }
//
// A log that is closed (the engine's rewrite dropped its name: not live) and wholly shipped loses
// its spool; from then on the object store alone holds it, and `copyOut` joins its segments.
//
// Crashes: the head is written after its segment, so a crash between the two leaves a segment
// the head does not count; the next ship starts again at the head's `shipped` and writes a
// segment that overlaps it. Segments are named by both ends, so no upload ever replaces another
// with fewer bytes (two processes shipping at once included), and `copyOut` takes each byte once,
// from the first segment that holds it: nothing is duplicated and, as long as every segment up
// to the head's count is there, nothing is missing.
import { createReadStream, type Stats } from 'node:fs';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { LogState } from '../domain/recovery.js';
import { LogArchive } from './log-archive.js';
import type { S3Bucket } from './s3-bucket.js';
import type { WriteLogStore } from './storage.js';

interface Head {
  /** The engine log it is (the spool's inode): how a rewrite says which log it closed. */
  identity: number;
  /** Bytes from the start that segments hold. */
  shipped: number;
  live: boolean;
  lastWriteAt: string;
}

interface Segment {
  key: string;
  start: number;
  end: number;
}

const SEGMENT = /\/(\d{16})-(\d{16})$/;

/** Segments fetched ahead while a log is copied out, and the largest fetched so (the rest stream). */
const READ_AHEAD = 8;
const READ_AHEAD_MAX_SEGMENT = 8 * 1024 * 1024;

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export class ShippedWriteLogs implements WriteLogStore {
  private readonly spool: LogArchive;
  /** The last head this process wrote or read, by log: no GET of it at every ship. */
  private readonly heads = new Map<string, Head>();
  /** One ship of a log at a time in this process. */
  private readonly shipping = new Map<string, Promise<void>>();

  constructor(
    private readonly bucket: S3Bucket,
    private readonly spoolDir: string,
  ) {
    this.spool = new LogArchive(spoolDir);
  }

  private dir(name: string): string {
    this.spool.path(name); // checks the name
    return `logs/${name}/`;
  }

  private async spoolStat(name: string): Promise<Stats | null> {
    return stat(this.spool.path(name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
  }

  private async head(name: string): Promise<Head | null> {
    const cached = this.heads.get(name);
    if (cached) return cached;
    const raw = await this.bucket.readBytes(`${this.dir(name)}head`);
    if (!raw) return null;
    const head = JSON.parse(raw.toString('utf8')) as Head;
    this.heads.set(name, head);
    return head;
  }

  private async writeHead(name: string, head: Head): Promise<void> {
    await this.bucket.putBytes(`${this.dir(name)}head`, JSON.stringify(head));
    this.heads.set(name, head);
  }

  async keepLive(clusterId: string, backupId: string, file: string): Promise<string> {
    const name = `${clusterId}/${backupId}.incr.aof`;
    // A repeated step (after a crash) keeps the increment of its own, newer rewrite: what the
    // earlier try shipped is another log.
    await this.remove(name);
    await this.spool.keepLive(clusterId, backupId, file);
    try {
      const s = (await this.spoolStat(name))!;
      await this.writeHead(name, { identity: s.ino, shipped: 0, live: s.nlink > 1, lastWriteAt: s.mtime.toISOString() });
    } catch (err) {
      // The backup goes on without its log (local-backups.ts): no spool for the timer to ship.
      await this.spool.remove(name).catch(() => undefined);
      throw err;
    }
    return name;
  }

  /** A log whose bytes arrive by `append` (its engine's files are elsewhere): no spool, only the store. */
  async begin(clusterId: string, backupId: string, identity: number): Promise<string> {
    const name = `${clusterId}/${backupId}.incr.aof`;
    await this.remove(name);
    await this.writeHead(name, { identity, shipped: 0, live: true, lastWriteAt: new Date().toISOString() });
    return name;
  }

  /**
   * One segment of exactly the bytes given, then the head. A repeated append overlaps what is
   * held, which `copyOut` takes once; the head never counts less than it did.
   */
  async append(name: string, offset: number, bytes: Buffer, state: LogState): Promise<void> {
    this.heads.delete(name); // the store's head, not an older one of this process
    const head = await this.head(name);
    if (!head) throw new Error(`write log ${name} was not begun in the object store (begin), so nothing can be appended to it`);
    if (offset > head.shipped) throw new Error(`write log ${name} holds ${head.shipped} bytes: an append at ${offset} would leave a gap`);
    const end = offset + bytes.length;
    if (end > head.shipped) {
      await this.bucket.upload(`${this.dir(name)}${String(offset).padStart(16, '0')}-${String(end).padStart(16, '0')}`, Readable.from([bytes]), bytes.length);
    }
    await this.writeHead(name, { identity: head.identity, shipped: Math.max(head.shipped, end), live: state.live, lastWriteAt: state.lastWriteAt.toISOString() });
  }

  /** Ships every log spooled here; returns how many bytes went out. Called on a timer by the leader. */
  async ship(): Promise<number> {
    let bytes = 0;
    const errors: string[] = [];
    for (const name of await this.spooled()) {
      try {
        bytes += await this.shipOne(name);
      } catch (err) {
        errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length > 0) throw new Error(`shipping write logs to ${this.bucket.describe()} failed: ${errors.join('; ')}`);
    return bytes;
  }

  private async spooled(): Promise<string[]> {
    const out: string[] = [];
    for (const cluster of await readdir(this.spoolDir).catch(() => [] as string[])) {
      if (!/^[a-f0-9]{32}$/.test(cluster)) continue;
      for (const f of await readdir(join(this.spoolDir, cluster)).catch(() => [] as string[])) {
        if (/^[a-f0-9]{32}\.incr\.aof$/.test(f)) out.push(`${cluster}/${f}`);
      }
    }
    return out;
  }

  /** Ships one log's new bytes (one at a time per log); nothing when it has no spool here. */
  private shipOne(name: string): Promise<number> {
    let sent = 0;
    const prev = this.shipping.get(name) ?? Promise.resolve();
    const next = prev.then(async () => {
      sent = await this.shipNow(name);
    });
    const done = next.catch(() => undefined);
    this.shipping.set(name, done);
    void done.then(() => {
      if (this.shipping.get(name) === done) this.shipping.delete(name);
    });
    return next.then(() => sent);
  }

  private async shipNow(name: string): Promise<number> {
    const s = await this.spoolStat(name);
    if (!s) return 0;
    const head = await this.head(name);
    // A head of another engine log (a keepLive that crashed before its head): start over.
    const from = head && head.identity === s.ino ? Math.min(head.shipped, s.size) : 0;
    const size = s.size;
    if (size > from) {
      // Up to the size seen now: the engine may append meanwhile; that goes next time.
      const key = `${this.dir(name)}${String(from).padStart(16, '0')}-${String(size).padStart(16, '0')}`;
      await this.bucket.upload(key, createReadStream(this.spool.path(name), { start: from, end: size - 1 }), size - from);
    }
    const live = s.nlink > 1;
    const next: Head = { identity: s.ino, shipped: size, live, lastWriteAt: s.mtime.toISOString() };
    if (!head || head.identity !== next.identity || head.shipped !== next.shipped || head.live !== live || head.lastWriteAt !== next.lastWriteAt) {
      await this.writeHead(name, next);
    }
    // Closed and wholly in the store (the head says so): the spool has nothing more to give.
    if (!live) await this.spool.remove(name);
    return size - from;
  }

  async copyOut(name: string, toFile: string): Promise<void> {
    if (await this.spoolStat(name)) {
      // So that the store holds every byte the engine logged, before the restore reads it.
      await this.shipOne(name);
      try {
        await this.spool.copyOut(name, toFile);
        return;
      } catch (err) {
        // Closed and shipped meanwhile: the store alone holds it now.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const head = await this.head(name);
    const segments = await this.segments(name);
    if (!head && segments.length === 0) throw new Error(`write log ${name} is not in the object store (${this.bucket.describe()})`);
    // Which bytes come from which segment: each byte once, from the first segment holding it.
    const plan: Array<{ key: string; from: number; size: number }> = [];
    let pos = 0;
    for (const seg of segments) {
      if (seg.end <= pos) continue;
      if (seg.start > pos) break;
      plan.push({ key: seg.key, from: pos - seg.start, size: seg.end - pos });
      pos = seg.end;
    }
    const want = head?.shipped ?? pos;
    if (pos < want) throw new Error(`write log ${name} is damaged: the object store holds its bytes up to ${pos}, ${want} were shipped`);
    const out = await open(toFile, 'w', 0o600);
    // A day of writes is thousands of small segments: a few are fetched ahead (in memory, small
    // ones only), so a restore waits for one round trip at a time, not one per segment.
    const ahead = new Map<number, Promise<Buffer>>();
    const fetchAhead = (from: number) => {
      for (let j = from; j < Math.min(plan.length, from + READ_AHEAD); j++) {
        if (ahead.has(j) || plan[j].size > READ_AHEAD_MAX_SEGMENT) continue;
        const p = this.readSegment(plan[j].key, plan[j].from).then(collect);
        p.catch(() => undefined); // awaited in its turn; one that fails after an earlier failure is moot
        ahead.set(j, p);
      }
    };
    try {
      for (let i = 0; i < plan.length; i++) {
        fetchAhead(i);
        const buffered = ahead.get(i);
        ahead.delete(i);
        if (buffered) {
          const data = await buffered;
          await out.write(data, 0, data.length);
        } else {
          for await (const chunk of await this.readSegment(plan[i].key, plan[i].from)) await out.write(chunk as Buffer);
        }
      }
      await out.close();
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(toFile, { force: true });
      throw err;
    }
  }

  private async readSegment(key: string, from: number): Promise<Readable> {
    const body = await this.bucket.read(key, from);
    if (!body) throw new Error(`segment ${key} went away while it was read`);
    return body;
  }

  private async segments(name: string): Promise<Segment[]> {
    const out: Segment[] = [];
    for (const o of await this.bucket.list(this.dir(name))) {
      const m = SEGMENT.exec(o.key);
      if (m) out.push({ key: o.key, start: Number(m[1]), end: Number(m[2]) });
    }
    // By start, the longest first: it covers what the shorter ones would.
    return out.sort((a, b) => a.start - b.start || b.end - a.end);
  }

  async identity(name: string): Promise<number | null> {
    const s = await this.spoolStat(name);
    if (s) return s.ino;
    return (await this.head(name))?.identity ?? null;
  }

  /**
   * From the spool when it is here (shipped first: the window it answers is what a restore will
   * find), else from the head: a log whose spool is gone is closed, its last write recorded.
   */
  async state(name: string): Promise<LogState | null> {
    if (await this.spoolStat(name)) {
      // The store out of reach must not hide the recovery windows: the timer reports it.
      await this.shipOne(name).catch(() => undefined);
      const s = await this.spoolStat(name);
      if (s) return { live: s.nlink > 1, lastWriteAt: s.mtime };
    }
    this.heads.delete(name); // another process may have shipped it since
    const head = await this.head(name);
    return head ? { live: head.live, lastWriteAt: new Date(head.lastWriteAt) } : null;
  }

  async remove(name: string): Promise<void> {
    await this.spool.remove(name);
    for (const o of await this.bucket.list(this.dir(name))) await this.bucket.delete(o.key);
    this.heads.delete(name);
  }

  async removeCluster(clusterId: string): Promise<void> {
    await this.spool.removeCluster(clusterId);
    for (const o of await this.bucket.list(`logs/${clusterId}/`)) await this.bucket.delete(o.key);
    for (const name of this.heads.keys()) if (name.startsWith(`${clusterId}/`)) this.heads.delete(name);
  }
}
