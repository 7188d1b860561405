// The archive of write logs for point-in-time recovery. At each backup the node's new AOF
// increment is hard-linked here: the link shares the file, so it keeps growing with every write
// the node logs, and it survives when the engine deletes its own name at the next rewrite. It
// lives under the data dir beside the engines because a hard link cannot cross filesystems.
// A node on a volume of its own (drivers/local/volumes.ts) is another filesystem: there the link
// is made on the node's volume (`.wal-archive/` beside the engine's files) and the archive holds a
// symbolic link to it, so the log still grows with every write; it goes when the volume goes.
// A log whose engine files are not on this machine is written here by `begin` and `append`
// instead; what a link would tell (which log, live, last write) is then kept beside it in
// `<backup>.incr.aof.meta`, as its writer said.
import { copyFile, link, mkdir, open, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LogState } from '../domain/recovery.js';
import type { WriteLogStore } from './storage.js';

/** What `append`'s caller says of a log it writes here. */
interface Meta {
  identity: number;
  live: boolean;
  lastWriteAt: string;
}

export class LogArchive implements WriteLogStore {
  constructor(private readonly root: string) {}

  /** Where the log is kept here (the object store's spool reads it: shipped-write-logs.ts). */
  path(name: string): string {
    if (!/^[a-f0-9]{32}\/[a-f0-9]{32}\.incr\.aof$/.test(name)) throw new Error(`invalid archived log name '${name}'`);
    return join(this.root, name);
  }

  /** Links the node's current increment in as the log that follows backup `backupId`. */
  async keepLive(clusterId: string, backupId: string, incrFile: string): Promise<string> {
    const name = `${clusterId}/${backupId}.incr.aof`;
    const target = this.path(name);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    // A repeated step (after a crash) links the increment of its own, newer rewrite.
    await this.remove(name);
    try {
      await link(incrFile, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // <node data dir>/appendonlydir/<increment>: the link goes in <node data dir>/.wal-archive.
      const onVolume = join(dirname(dirname(incrFile)), '.wal-archive', name);
      await mkdir(dirname(onVolume), { recursive: true, mode: 0o700 });
      await rm(onVolume, { force: true });
      await link(incrFile, onVolume);
      await symlink(onVolume, target);
    }
    return name;
  }

  /** Copies the log as it stands now (a live log keeps growing) to a file of its own. */
  async copyOut(name: string, toFile: string): Promise<void> {
    await copyFile(this.path(name), toFile);
  }

  async identity(name: string): Promise<number | null> {
    const meta = await this.meta(name);
    if (meta) return meta.identity;
    return stat(this.path(name)).then((s) => s.ino, () => null);
  }

  /** Live: the engine still has the file as its current increment (a second name, nlink 2). */
  async state(name: string): Promise<LogState | null> {
    try {
      const s = await stat(this.path(name));
      const meta = await this.meta(name);
      if (meta) return { live: meta.live, lastWriteAt: new Date(meta.lastWriteAt) };
      return { live: s.nlink > 1, lastWriteAt: s.mtime };
    } catch {
      return null;
    }
  }

  private async meta(name: string): Promise<Meta | null> {
    const raw = await readFile(`${this.path(name)}.meta`, 'utf8').catch(() => null);
    return raw === null ? null : (JSON.parse(raw) as Meta);
  }

  private async writeMeta(name: string, meta: Meta): Promise<void> {
    const file = `${this.path(name)}.meta`;
    await writeFile(`${file}.tmp`, JSON.stringify(meta), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  async begin(clusterId: string, backupId: string, identity: number): Promise<string> {
    const name = `${clusterId}/${backupId}.incr.aof`;
    const target = this.path(name);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await this.remove(name);
    await writeFile(target, '', { mode: 0o600 });
    await this.writeMeta(name, { identity, live: true, lastWriteAt: new Date().toISOString() });
    return name;
  }

  async append(name: string, offset: number, bytes: Buffer, state: LogState): Promise<void> {
    const meta = await this.meta(name);
    if (!meta) throw new Error(`write log ${name} was not begun here (begin), so nothing can be appended to it`);
    const fh = await open(this.path(name), 'r+');
    try {
      const held = (await fh.stat()).size;
      if (offset > held) throw new Error(`write log ${name} holds ${held} bytes: an append at ${offset} would leave a gap`);
      // A repeated append (its sender did not hear the answer) adds only what is new.
      const fresh = bytes.subarray(Math.min(bytes.length, held - offset));
      if (fresh.length > 0) await fh.write(fresh, 0, fresh.length, held);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.writeMeta(name, { identity: meta.identity, live: state.live, lastWriteAt: state.lastWriteAt.toISOString() });
  }

  async remove(name: string): Promise<void> {
    const path = this.path(name);
    await rm(`${path}.meta`, { force: true });
    // A symbolic link's target on a node's volume goes with it.
    const target = await readlink(path).catch(() => null);
    if (target) await rm(target, { force: true });
    await rm(path, { force: true });
  }

  /** Nothing to send: the logs are kept here for good. */
  async ship(): Promise<number> {
    return 0;
  }

  async removeCluster(clusterId: string): Promise<void> {
    if (!/^[a-f0-9]{32}$/.test(clusterId)) throw new Error(`invalid cluster id '${clusterId}'`);
    const dir = join(this.root, clusterId);
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      if (/^[a-f0-9]{32}\.incr\.aof$/.test(f)) await this.remove(`${clusterId}/${f}`);
    }
    await rm(dir, { recursive: true, force: true });
  }
}
