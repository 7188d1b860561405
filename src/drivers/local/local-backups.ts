// Backups and restores of the local driver's engines, whose files are on this machine: the
// snapshot is an AOF rewrite whose new base is hard-linked into a staging directory beside the
// engines (a link holds the file even if the engine rewrites again), the new increment is kept
// live by the write-log store, verification loads the stored copy into a scratch engine of the
// installed binaries, and a restore lays out an AOF directory in the new node's data directory.
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage, StoredObject } from '../../backups/storage.js';
import type { EngineKind } from '../../domain/model.js';
import { buildAofDir, rewriteAof, truncateAofAt } from '../../engines/aof.js';
import type { EngineBinaries } from '../../engines/detect.js';
import { sweepScratchEngines, verifyRdb } from '../../engines/snapshot.js';
import { endpointOf, type BackupSource, type NodeSpec, type Snapshot, type VerifiedSnapshot } from '../driver.js';

export class LocalBackups {
  constructor(
    /** On the engines' filesystem, so the snapshot's base can be hard-linked there. */
    private readonly stagingDir: string,
    private readonly binaries: (engine: EngineKind) => EngineBinaries | undefined,
  ) {}

  private stage(name: string): string {
    return join(this.stagingDir, name);
  }

  async snapshot(node: NodeSpec, backupId: string, storage: BackupStorage): Promise<Snapshot> {
    const r = await rewriteAof(endpointOf(node));
    const dir = this.stage(backupId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A link holds the base even if the engine rewrites again; a copy where links cannot go.
    await link(r.base, join(dir, 'base.rdb')).catch(() => copyFile(r.base, join(dir, 'base.rdb')));
    let log: Snapshot['log'] = null;
    if (r.incr) {
      try {
        log = { name: await storage.logs.keepLive(node.clusterId, backupId, r.incr) };
      } catch (err) {
        log = { error: err as Error };
      }
    }
    return { snapshotAt: r.snapshotAt, closedLog: r.previousIncrIno, log };
  }

  storeSnapshot(backupId: string, storage: BackupStorage, key: string): Promise<StoredObject> {
    return storage.put(key, join(this.stage(backupId), 'base.rdb'));
  }

  async verifySnapshot(backupId: string, engine: EngineKind, storage: BackupStorage, key: string, opts: { resumed: boolean }): Promise<VerifiedSnapshot> {
    const bin = this.binaries(engine);
    if (!bin) throw new Error(`the ${engine} engine is not installed here, so the backup cannot be verified`);
    const copy = join(this.stage(backupId), 'verify.rdb');
    // A resumed verification (its process died; another replica runs it): that process's scratch
    // engine has nobody to end it but this sweep (live owners' ones are left).
    if (opts.resumed) await sweepScratchEngines().catch(() => 0);
    const sha256 = await storage.get(key, copy, null);
    const v = await verifyRdb(copy, bin).catch((err: Error) => {
      throw new Error(`verification failed: ${err.message}`);
    });
    return { sha256, ...v };
  }

  async discardSnapshot(backupId: string): Promise<void> {
    await rm(this.stage(backupId), { recursive: true, force: true });
  }

  /**
   * The backup's base (and its write log cut at the recovery second) as the AOF directory `place`
   * puts into the node's data directory.
   */
  async importBackup(node: NodeSpec, from: BackupSource, place: (node: NodeSpec, aofDir: string) => Promise<void>): Promise<void> {
    const bin = this.binaries(node.engine);
    if (!bin) throw new Error(`the ${node.engine} engine is not installed here`);
    const work = this.stage(`restore-${node.nodeId}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true, mode: 0o700 });
    try {
      await from.storage.get(from.key, join(work, 'base.rdb'), from.sha256);
      let incr: string | null = null;
      if (from.log) {
        incr = join(work, 'incr.aof');
        // A live log keeps growing: this copy is the log as it stands now, cut below.
        await from.storage.logs.copyOut(from.log.name, incr);
      }
      const manifest = await buildAofDir(join(work, 'aof'), join(work, 'base.rdb'), incr);
      if (incr && from.log) {
        if (!bin.checkAof) throw new Error(`${node.engine}-check-aof is not installed, so the write log cannot be cut at a second`);
        await truncateAofAt(bin.checkAof, manifest, from.log.until);
      }
      await place(node, join(work, 'aof'));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
