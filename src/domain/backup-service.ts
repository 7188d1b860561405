// The application service behind the backup routes: backup settings, on-demand and scheduled
// backups, backup histories, and restores into a new cluster. Every change is a request in the
// operations ledger; what a request cannot do is refused here with a 400 that says why.
import type { CreateClusterBody } from '../contract/types.js';
import { expiredBackups, owedSlot } from './backup-schedule.js';
import { checkPage, notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { checkStorageRoles, serverTypeFor } from './create-cluster.js';
import { InvalidStateError, ValidationError } from './errors.js';
import { newId } from './ids.js';
import type { BackupHistory, BackupOption, Cluster, ClusterDetail, OperationRequest } from './model.js';
import { UniqueViolation, type Clock, type Store } from './ports.js';
import type { Principal } from './principal.js';
import { describeCoverage, recoveryWindows, windowFor, type LogState, type RecoveryWindow } from './recovery.js';

/** How the archived write logs stand (the backups module answers from the disk). */
export interface LogView {
  state(logFile: string): Promise<LogState | null>;
}

export interface BackupServiceDeps {
  store: Store;
  clock: Clock;
  clusters: ClusterService;
  logs: LogView;
}

export interface SetBackupBody {
  retention_period_day: string;
  starting_time_hour: string;
}

export interface RestoreBody {
  name: string;
  instance_name_prefix: string;
  server_type_name: string;
  backup_history_number?: string | null;
  backup_recovery_time?: string | null;
  block_storage_groups?: Array<{ role_type: string; size_gb: number; volume_type?: string }> | null;
  allowable_ip_addresses?: string[];
  maintenance_option?: CreateClusterBody['maintenance_option'];
  tags?: CreateClusterBody['tags'];
}

/** Who scheduled work is recorded as (created_by of its requests). */
export const SCHEDULER_USER = 'cachestore-scheduler';

const MAX_LIMIT = 1000;

export class BackupService {
  constructor(private readonly deps: BackupServiceDeps) {}

  private async cluster(p: Principal, id: string): Promise<Cluster> {
    const c = await this.deps.store.findCluster(p.accountId, id);
    if (!c) throw notFound(id);
    return c;
  }

  async setBackup(p: Principal, id: string, body: SetBackupBody): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    const option: BackupOption = { retentionPeriodDay: body.retention_period_day, startingTimeHour: body.starting_time_hour };
    return this.deps.clusters.begin(p, cluster, 'set-backup', { option });
  }

  /** Stops scheduled backups. Backups already taken stay until removed or the cluster ends. */
  async unsetBackup(p: Principal, id: string): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    return this.deps.clusters.begin(p, cluster, 'unset-backup', null);
  }

  async list(p: Principal, id: string, q: { limit?: number | null; page?: number | null }): Promise<{ backups: BackupHistory[]; total: number }> {
    await this.cluster(p, id);
    const limit = q.limit ?? 20;
    const page = q.page ?? 0;
    if (limit < 0 || limit > MAX_LIMIT) throw ValidationError.field(['query', 'limit'], `must be from 0 to ${MAX_LIMIT}`);
    if (page < 0) throw ValidationError.field(['query', 'page'], 'must be 0 or more (pages count from 0)');
    checkPage(page);
    if (limit === 0) return { backups: [], total: (await this.deps.store.listBackups(id, { limit: 1, page: 0 })).total };
    return this.deps.store.listBackups(id, { limit, page });
  }

  async remove(p: Principal, id: string, numbers: string[]): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    const loc = ['body', 'backup_history_number'];
    const wanted = [...new Set(numbers)];
    if (wanted.length === 0) throw ValidationError.field(loc, 'name at least one backup to remove (List Backup Histories shows them)');
    const all = new Map((await this.deps.store.backupsOf(id)).map((b) => [b.id, b]));
    const unknown = wanted.filter((n) => !all.has(n));
    if (unknown.length > 0) throw ValidationError.field(loc, `not backups of cluster '${cluster.name}': ${unknown.join(', ')}`);
    const running = wanted.filter((n) => all.get(n)!.state === 'RUNNING');
    if (running.length > 0) throw ValidationError.field(loc, `still being taken, remove them once they finish: ${running.join(', ')}`);
    return this.deps.clusters.begin(p, cluster, 'remove-backups', { ids: wanted });
  }

  /** An on-demand backup (extension). The request's resource is the new backup history. */
  async backupNow(p: Principal, id: string): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    return this.startBackup(p, cluster, 'on-demand', null);
  }

  /** `startedAt`: scheduled backups carry the schedule clock's time, the one retention counts by. */
  private async startBackup(p: Principal, cluster: Cluster, kind: BackupHistory['kind'], slot: string | null, startedAt?: Date): Promise<Submitted> {
    const backupId = newId();
    const make = (request: OperationRequest): BackupHistory => ({
      id: backupId,
      clusterId: cluster.id,
      accountId: cluster.accountId,
      requestId: request.id,
      kind,
      slot,
      state: 'RUNNING',
      detail: null,
      engine: cluster.engine,
      softwareVersion: cluster.softwareVersion,
      startedAt: startedAt?.toISOString() ?? request.createdAt,
      endedAt: null,
      sourceInstanceId: null,
      snapshotAt: null,
      storageKey: null,
      sizeBytes: null,
      sha256: null,
      keyCount: null,
      digest: null,
      logFile: null,
      logEndAt: null,
    });
    const r = await this.deps.clusters.begin(p, cluster, 'backup', { backup: backupId }, make);
    return { requestId: r.requestId, clusterId: backupId };
  }

  /**
   * The scheduler's turn for one cluster: the daily backup when one is owed, then expired
   * backups. Returns what it submitted; a busy cluster is simply tried again next time.
   */
  async tick(cluster: Cluster, now: Date): Promise<string[]> {
    const option = cluster.backupOption;
    if (!option) return [];
    const p: Principal = { accountId: cluster.accountId, userId: SCHEDULER_USER };
    const backups = await this.deps.store.backupsOf(cluster.id);
    const submitted: string[] = [];
    const slot = owedSlot(now, cluster.timezone, option, new Set(backups.filter((b) => b.slot).map((b) => b.slot!)));
    if (slot && cluster.serviceState === 'RUNNING') {
      const r = await this.quietly(() => this.startBackup(p, cluster, 'scheduled', slot, now));
      if (r) submitted.push(r.requestId);
    }
    const expired = expiredBackups(backups, option, now);
    if (expired.length > 0) {
      // While the backup just submitted runs, this is refused as busy and comes back next tick.
      const r = await this.quietly(() => this.deps.clusters.begin(p, cluster, 'remove-backups', { ids: expired.map((b) => b.id), reason: 'retention' }));
      if (r) submitted.push(r.requestId);
    }
    return submitted;
  }

  /** Busy or in the wrong state now: not an error for the scheduler, it comes back. */
  private async quietly(fn: () => Promise<Submitted>): Promise<Submitted | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof InvalidStateError || err instanceof UniqueViolation) return undefined;
      throw err;
    }
  }

  async windows(detail: ClusterDetail): Promise<RecoveryWindow[]> {
    const backups = await this.deps.store.backupsOf(detail.cluster.id);
    const logs = new Map<string, LogState | null>();
    for (const b of backups) if (b.logFile) logs.set(b.logFile, await this.deps.logs.state(b.logFile));
    const running = (instanceId: string | null) => detail.instances.find((i) => i.id === instanceId)?.serviceState === 'RUNNING';
    return recoveryWindows(backups, logs, running, this.deps.clock.now());
  }

  /** The seconds a point-in-time restore can reach now: one range per completed backup, oldest first. */
  async restorableRanges(p: Principal, id: string): Promise<RecoveryWindow[]> {
    const source = await this.deps.store.clusterDetail(p.accountId, id);
    if (!source) throw notFound(id);
    return this.windows(source);
  }

  /** Create Restore Cluster: a new cluster holding a backup's data, or the data as of a second. */
  async restore(p: Principal, id: string, body: RestoreBody): Promise<Submitted> {
    const source = await this.deps.store.clusterDetail(p.accountId, id);
    if (!source) throw notFound(id);
    const cluster = source.cluster;
    const number = body.backup_history_number ?? null;
    const time = body.backup_recovery_time ?? null;
    if ((number === null) === (time === null)) {
      throw ValidationError.field(['body'], 'give exactly one of backup_history_number (restore a backup) or backup_recovery_time (restore the data as of that second)');
    }
    let payload: { source: string; backup: string; recoveryTime: number | null };
    if (number !== null) {
      const b = await this.deps.store.findBackup(id, number);
      if (!b) throw ValidationError.field(['body', 'backup_history_number'], `'${number}' is not a backup of cluster '${cluster.name}'; List Backup Histories shows them`);
      if (b.state !== 'COMPLETED') throw ValidationError.field(['body', 'backup_history_number'], `backup '${number}' is ${b.state}; only a COMPLETED backup can be restored`);
      payload = { source: id, backup: b.id, recoveryTime: null };
    } else {
      const at = new Date(time!);
      const t = Math.floor(at.getTime() / 1000);
      const windows = await this.windows(source);
      const nowS = Math.floor(this.deps.clock.now().getTime() / 1000);
      const w = t <= nowS ? windowFor(windows, t) : undefined;
      if (!w) {
        throw ValidationError.field(
          ['body', 'backup_recovery_time'],
          `${at.toISOString()} ${t > nowS ? 'is in the future' : 'is not covered by the backups and their write logs'}; cluster '${cluster.name}' can be restored to ${describeCoverage(windows)}`,
        );
      }
      payload = { source: id, backup: w.backup.id, recoveryTime: t };
    }

    // Checked here, so a problem is named where the restore request has it.
    const type = serverTypeFor(body.server_type_name, cluster, ['body', 'server_type_name']);
    checkStorageRoles(body.block_storage_groups ?? [], ['body', 'block_storage_groups']);

    // The new cluster has the source's engine, topology, network and password; the request
    // names it and sizes it.
    const create: CreateClusterBody = {
      name: body.name,
      dbaas_engine_version_id: cluster.engineVersionId,
      instance_name_prefix: body.instance_name_prefix,
      subnet_id: cluster.subnetId,
      timezone: cluster.timezone,
      ha_enabled: cluster.haEnabled,
      replica_count: cluster.replicaCount,
      nat_enabled: false,
      allowable_ip_addresses: body.allowable_ip_addresses ?? [],
      tags: body.tags ?? [],
      init_config_option: {
        database_user_password: await this.deps.store.clusterPassword(id),
        database_port: cluster.databasePort,
        sentinel_port: cluster.sentinelPort,
        backup_option: cluster.backupOption
          ? { retention_period_day: cluster.backupOption.retentionPeriodDay, starting_time_hour: cluster.backupOption.startingTimeHour }
          : undefined,
      },
      maintenance_option: body.maintenance_option ?? undefined,
      instance_groups: source.groups.map((g) => {
        const data = g.roleType !== 'SENTINEL';
        return {
          role_type: g.roleType,
          server_type_name: data ? type.name : g.serverTypeName,
          block_storage_groups:
            data && body.block_storage_groups
              ? body.block_storage_groups
              : g.blockStorageGroups.map((b) => ({ role_type: b.roleType, size_gb: b.sizeGb, volume_type: b.volumeType })),
          instances: source.instances.filter((i) => i.groupId === g.id).map((i) => ({ role_type: i.roleType })),
        };
      }),
    };
    return this.deps.clusters.createCluster(p, create, 'restore', payload, cluster.parameters, cluster.commands);
  }
}
