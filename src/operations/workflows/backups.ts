// Backup, removal of backups, backup settings and restore. A backup is a snapshot on a replica
// when the cluster has one (the primary keeps serving): the driver rewrites the node's write log
// (an AOF rewrite), whose new base is a consistent RDB of the dataset at the rewrite's fork, and
// whose new log, kept in backup storage, records every write after it for point-in-time recovery.
// The driver sends the base to backup storage, then loads it back into a scratch engine before
// the history says COMPLETED. Where the engines' files are is the driver's business only.
import type { BackupHistory, BackupOption } from '../../domain/model.js';
import { endpointOf, type NodeSpec } from '../../drivers/driver.js';
import { withClient, waitReplicaSynced } from '../../engines/replication.js';
import type { Workflow, WorkflowContext } from '../workflow.js';
import { discardNewCluster, steps } from './steps.js';
import { refreshTopology } from './topology-refresh.js';

function backupId(ctx: WorkflowContext): string {
  return ctx.request.payload?.backup as string;
}

function storageKey(b: { clusterId: string; id: string }): string {
  return `${b.clusterId}/${b.id}.rdb`;
}

/** ENOSPC and friends in words a user can act on. */
function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC') return 'backup storage is full (no space left on device); free space or remove old backups';
  if (e.code === 'EDQUOT') return 'backup storage is over its quota; free space or remove old backups';
  return e.message ?? String(err);
}

/** A RUNNING replica that is linked to the primary, else the primary. */
async function backupSource(ctx: WorkflowContext): Promise<NodeSpec> {
  const state = (n: NodeSpec) => ctx.detail.instances.find((i) => i.id === n.instanceId)?.serviceState;
  for (const r of ctx.nodes.data.filter((n) => n.replicaOf && state(n) === 'RUNNING')) {
    try {
      await waitReplicaSynced(endpointOf(r), r.replicaOf!, 2000);
      return r;
    } catch {
      // Not linked now: try the next one, or the primary.
    }
  }
  if (!ctx.nodes.primary) throw new Error('the cluster has no primary to back up');
  return ctx.nodes.primary;
}

const backupWorkflow: Workflow = {
  steps: [
    {
      name: 'snapshot',
      async run(ctx) {
        const id = backupId(ctx);
        await refreshTopology(ctx);
        const node = await backupSource(ctx);
        const r = await ctx.driver.snapshot(node, id, ctx.backups.storage);
        let logFile: string | null = null;
        if (r.log && 'error' in r.log) {
          await ctx.event(`backup ${id}: the write log could not be archived (${explain(r.log.error)}); this backup restores, but not to a point in time after it`);
        } else if (r.log) {
          logFile = r.log.name;
        }
        // The rewrite closed the log the previous backup on this node archived: it ends here.
        if (r.closedLog !== null) {
          for (const b of await ctx.store.backupsOf(ctx.cluster.id)) {
            if (b.id === id || !b.logFile || b.logEndAt || b.sourceInstanceId !== node.instanceId) continue;
            if ((await ctx.backups.storage.logs.identity(b.logFile)) === r.closedLog) {
              await ctx.store.updateBackup(b.id, { logEndAt: r.snapshotAt.toISOString() });
            }
          }
        }
        await ctx.store.updateBackup(id, { sourceInstanceId: node.instanceId, snapshotAt: r.snapshotAt.toISOString(), logFile });
        const name = ctx.detail.instances.find((i) => i.id === node.instanceId)?.name;
        await ctx.event(`backup ${id}: snapshot taken on ${name}`);
      },
    },
    {
      name: 'store',
      async run(ctx) {
        const id = backupId(ctx);
        const t0 = performance.now();
        try {
          const o = await ctx.driver.storeSnapshot(id, ctx.backups.storage, storageKey({ clusterId: ctx.cluster.id, id }));
          await ctx.store.updateBackup(id, { storageKey: o.key, sizeBytes: o.sizeBytes });
          const ms = performance.now() - t0;
          await ctx.event(`backup ${id} stored: ${o.sizeBytes} bytes in ${ms.toFixed(1)} ms (${(o.sizeBytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`);
        } catch (err) {
          throw new Error(explain(err));
        }
      },
    },
    {
      name: 'verify',
      async run(ctx) {
        const id = backupId(ctx);
        const b = await ctx.store.findBackup(ctx.cluster.id, id);
        if (!b?.storageKey) throw new Error('the backup was not stored');
        // Verify what storage holds, read back, not the file we sent; its checksum, taken on
        // this read, is what every later read of the backup must match.
        const t0 = performance.now();
        // On disk for good while the scratch engine loads it: a backup counts only once durable.
        const [v] = await Promise.all([
          ctx.driver.verifySnapshot(id, ctx.cluster.engine, ctx.backups.storage, b.storageKey, { resumed: ctx.request.step === 'store' }),
          ctx.backups.storage.sync(b.storageKey),
        ]);
        await ctx.store.updateBackup(id, {
          state: 'COMPLETED',
          endedAt: ctx.now(),
          sha256: v.sha256,
          keyCount: v.keys,
          digest: v.digest,
          detail: `verified: ${v.keys} keys loaded in a scratch engine, digest ${v.digest}`,
        });
        await ctx.driver.discardSnapshot(id);
        await ctx.event(`backup ${id} completed: ${b.sizeBytes} bytes, ${v.keys} keys, verified in ${(performance.now() - t0).toFixed(1)} ms`);
      },
    },
  ],
  async onFailure(ctx, error) {
    // Nothing of a failed backup counts: no stored file, no log, only the history with the reason.
    const id = backupId(ctx);
    const b = await ctx.store.findBackup(ctx.cluster.id, id);
    if (b?.storageKey) await ctx.backups.storage.delete(b.storageKey);
    if (b?.logFile) await ctx.backups.storage.logs.remove(b.logFile);
    await ctx.driver.discardSnapshot(id);
    await ctx.store.updateBackup(id, { state: 'FAILED', endedAt: ctx.now(), detail: error.message, storageKey: null, logFile: null });
  },
  async finish() {
    // The cluster kept serving throughout: its state is not the backup's to set.
  },
};

/** Deletes backups' files and histories; used by Remove Backup Histories, retention and terminate. */
export async function removeBackups(ctx: WorkflowContext, backups: BackupHistory[]): Promise<void> {
  for (const b of backups) {
    if (b.storageKey) await ctx.backups.storage.delete(b.storageKey);
    if (b.logFile) await ctx.backups.storage.logs.remove(b.logFile);
    await ctx.store.deleteBackups([b.id]);
  }
}

const removeBackupsWorkflow: Workflow = {
  steps: [
    {
      name: 'remove-backups',
      async run(ctx) {
        const ids = (ctx.request.payload?.ids as string[]) ?? [];
        const all = await ctx.store.backupsOf(ctx.cluster.id);
        const chosen = all.filter((b) => ids.includes(b.id) && b.state !== 'RUNNING');
        await removeBackups(ctx, chosen);
        const why = ctx.request.payload?.reason === 'retention' ? ' (older than the retention period)' : '';
        await ctx.event(`removed ${chosen.length} backup(s)${why}: ${chosen.map((b) => b.id).join(', ')}`);
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};

/** Applies the write-log setting to the running data nodes and to their configuration files. */
async function applyBackupOption(ctx: WorkflowContext, option: BackupOption | null): Promise<void> {
  await ctx.store.setBackupOption(ctx.cluster.id, option, ctx.now(), ctx.request.createdBy);
  await ctx.reload();
  for (const n of ctx.nodes.data) {
    await ctx.driver.configure(n);
    if (!(await ctx.driver.isRunning(n))) continue;
    await withClient(endpointOf(n), (c) => c.config('SET', 'auto-aof-rewrite-percentage', option ? '0' : '100'), 2000).catch(() => undefined);
  }
}

const setBackupWorkflow: Workflow = {
  steps: [
    {
      name: 'set-backup',
      async run(ctx) {
        const option = ctx.request.payload?.option as BackupOption;
        await applyBackupOption(ctx, { ...option, enabledAt: ctx.request.createdAt });
        await ctx.event(`daily backup at ${option.startingTimeHour}:00 ${ctx.cluster.timezone}, kept ${option.retentionPeriodDay} days`);
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};

const unsetBackupWorkflow: Workflow = {
  steps: [
    {
      name: 'unset-backup',
      async run(ctx) {
        await applyBackupOption(ctx, null);
        await ctx.event('scheduled backups turned off; existing backups are kept until removed');
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};

/** Places the chosen backup (cut at the recovery second, if one was asked) on the new primary. */
async function seedFromBackup(ctx: WorkflowContext): Promise<void> {
  const { source, backup, recoveryTime } = ctx.request.payload as { source: string; backup: string; recoveryTime: number | null };
  const b = await ctx.store.findBackup(source, backup);
  if (!b || b.state !== 'COMPLETED' || !b.storageKey || !b.sha256) throw new Error(`backup ${backup} is no longer available`);
  const primary = ctx.nodes.primary;
  if (!primary) throw new Error('the new cluster has no primary');
  if (recoveryTime !== null && !b.logFile) throw new Error(`backup ${b.id} has no archived write log to recover a point in time from`);
  const log = recoveryTime !== null && b.logFile ? { name: b.logFile, until: recoveryTime } : null;
  await ctx.driver.importBackup(primary, { storage: ctx.backups.storage, key: b.storageKey, sha256: b.sha256, log });
  const what = recoveryTime !== null ? `data as of ${new Date(recoveryTime * 1000).toISOString()} (backup ${b.id} and its write log)` : `backup ${b.id}`;
  await ctx.event(`restoring ${what} of cluster ${source}`);
}

const restoreWorkflow: Workflow = {
  steps: [steps.allowList, { name: 'seed-data', run: seedFromBackup }, steps.startData, steps.startSentinels],
  onFailure: discardNewCluster,
};

export const BACKUP_WORKFLOWS = {
  backup: backupWorkflow,
  'remove-backups': removeBackupsWorkflow,
  'set-backup': setBackupWorkflow,
  'unset-backup': unsetBackupWorkflow,
  restore: restoreWorkflow,
} satisfies Record<string, Workflow>;
