// Set/Unset Backup, List/Remove Backup Histories, Create Restore Cluster, and the on-demand
// backup extension (POST .../backup-histories).
import type { BackupService } from '../../domain/backup-service.js';
import { asyncResponse, backupHistory } from '../serializers.js';
import type { Handler } from './handler.js';

export function backupHandlers(svc: BackupService): Record<string, Handler> {
  return {
    cachestoreSetBackup: async ({ principal, params, body }) => {
      const r = await svc.setBackup(principal, params.cluster_id, body);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreUnsetBackup: async ({ principal, params }) => {
      const r = await svc.unsetBackup(principal, params.cluster_id);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreListBackupHistories: async ({ principal, params, query }) => {
      const { backups, total } = await svc.list(principal, params.cluster_id, query);
      return { status: 200, body: { contents: backups.map(backupHistory), total_count: total } };
    },
    cachestoreRemoveBackupHistories: async ({ principal, params, body }) => {
      const r = await svc.remove(principal, params.cluster_id, body.backup_history_number);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreCreateRestore: async ({ principal, params, body }) => {
      const r = await svc.restore(principal, params.cluster_id, body);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreExtListRestorableRanges: async ({ principal, params }) => {
      const windows = await svc.restorableRanges(principal, params.cluster_id);
      const iso = (s: number) => new Date(s * 1000).toISOString();
      const contents = windows.map((w) => ({ backup_history_number: w.backup.id, from: iso(w.from), to: iso(w.to) }));
      return { status: 200, body: { contents, total_count: contents.length } };
    },
    cachestoreExtCreateBackup: async ({ principal, params }) => {
      const r = await svc.backupNow(principal, params.cluster_id);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
