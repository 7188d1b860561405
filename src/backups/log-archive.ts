// The archive of write logs for point-in-time recovery. At each backup the node's new AOF
// increment is hard-linked here: the link shares the file, so it keeps growing with every write
// the node logs, and it survives when the engine deletes its own name at the next rewrite. It
// lives under the data dir beside the engines because a hard link cannot cross filesystems.
import { copyFile, link, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LogState } from '../domain/recovery.js';

export class LogArchive {
  constructor(private readonly root: string) {}

  private path(name: string): string {
    if (!/^[a-f0-9]{32}\/[a-f0-9]{32}\.incr\.aof$/.test(name)) throw new Error(`invalid archived log name '${name}'`);
    return join(this.root, name);
  }

  /** Links the node's current increment in as the log that follows backup `backupId`. */
  async keep(clusterId: string, backupId: string, incrFile: string): Promise<string> {
    const name = `${clusterId}/${backupId}.incr.aof`;
    const target = this.path(name);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    // A repeated step (after a crash) links the increment of its own, newer rewrite.
    await rm(target, { force: true });
    await link(incrFile, target);
    return name;
  }

  /** Copies the log as it stands now (a live log keeps growing) to a file of its own. */
  async copyOut(name: string, toFile: string): Promise<void> {
    await copyFile(this.path(name), toFile);
  }

  async inode(name: string): Promise<number | null> {
    return stat(this.path(name)).then((s) => s.ino, () => null);
  }

  /** Live: the engine still has the file as its current increment (a second name, nlink 2). */
  async state(name: string): Promise<LogState | null> {
    try {
      const s = await stat(this.path(name));
      return { live: s.nlink > 1, lastWriteAt: s.mtime };
    } catch {
      return null;
    }
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { force: true });
  }

  async removeCluster(clusterId: string): Promise<void> {
    if (!/^[a-f0-9]{32}$/.test(clusterId)) throw new Error(`invalid cluster id '${clusterId}'`);
    await rm(join(this.root, clusterId), { recursive: true, force: true });
  }
}
