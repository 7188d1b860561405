// Composition root: config -> store -> engines and driver -> workers and reconciler -> HTTP.
// Used by main.ts and by tests that run the whole service in-process.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { bootstrapCredential } from './bootstrap.js';
import type { Config } from './config.js';
import { createBackupStorage } from './backups/index.js';
import { BackupService } from './domain/backup-service.js';
import { CatalogService } from './domain/catalog-service.js';
import { ClusterService } from './domain/cluster-service.js';
import { CommandService } from './domain/command-service.js';
import { ParameterService } from './domain/parameter-service.js';
import { ServerTypeService } from './domain/server-type-change.js';
import { SecurityGroupService } from './domain/security-group-service.js';
import { BlockStorageService } from './domain/block-storage-change.js';
import type { Credential } from './domain/model.js';
import { systemClock, type Clock } from './domain/ports.js';
import { createDrivers } from './drivers/index.js';
import { AllowLists } from './operations/allow-lists.js';
import type { EngineVersion } from './domain/catalog.js';
import type { Driver } from './drivers/driver.js';
import { buildApp } from './http/app.js';
import { tightenModes } from './file-modes.js';
import { loadSecretBox } from './store/master-key.js';
import { isMainThread } from 'node:worker_threads';
import { lockDataDir } from './lock.js';
import { EngineConfig } from './operations/engine-config.js';
import { BackupScheduler } from './operations/backup-scheduler.js';
import { MaintenanceScheduler } from './operations/maintenance-scheduler.js';
import { MaintenanceService } from './domain/maintenance-service.js';
import { upgradeEngines } from './operations/engine-upgrade.js';
import { PrimaryWatch } from './operations/primary-watch.js';
import { Reconciler } from './operations/reconciler.js';
import { Duties } from './operations/duties.js';
import { LeaderElection } from './operations/leader-election.js';
import { leadershipTimings } from './domain/leadership.js';
import { Worker } from './operations/worker.js';
import { CrashPoints } from './operations/crash-points.js';
import { openDatabase } from './store/db.js';
import { metricsToken } from './metrics-token.js';
import { EngineMetrics } from './operations/engine-metrics.js';
import { ServiceMetrics } from './operations/service-metrics.js';
import { SqlStore } from './store/sql-store.js';

export interface Service {
  app: FastifyInstance;
  store: SqlStore;
  credential: Credential;
  /** Where engines run (CACHESTORE_DRIVER). */
  driver: Driver;
  reconciler: Reconciler;
  scheduler: BackupScheduler;
  worker: Worker;
  /** Maintenance windows and engine patch upgrades (tests call tick() after moving the schedule clock). */
  maintenance: MaintenanceScheduler;
  /** Closes the API, lets running requests finish, and releases the store. Engines keep running. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  clock?: Clock;
  /** The backup schedule's clock (tests move it to a backup hour). */
  scheduleClock?: Clock;
  checkResponses?: boolean;
  announce?: (text: string) => void;
}

export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now().getTime();
  const logger = pino({ level: config.logLevel });
  // Everything the service and its engines write holds data or secrets (the store, engine
  // configs and data files, backups, logs): none of it is for other users of the machine.
  // (A worker thread may not set it; the service runs on the main thread.)
  if (isMainThread) process.umask(0o077);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // Files an earlier version wrote under a looser umask are brought to the same rule.
  await tightenModes([config.dataDir, config.backupDir]);
  // Before anything is opened: a backup storage that cannot be used (a wrong bucket or
  // credential) ends the start with what to set.
  const storage = await createBackupStorage(config);
  if (config.backupStorage === 'local' && config.driver === 'kubernetes') {
    logger.warn({ dir: config.backupDir }, 'backups are kept in this process\'s own directory: another replica of the service cannot verify or restore them, and a replaced pod loses them; set CACHESTORE_BACKUP_STORAGE=s3 (README, Deploying the service on Kubernetes)');
  }
  if (config.backupStorage === 's3') logger.info({ bucket: config.s3?.bucket, endpoint: config.s3?.endpoint ?? 'AWS', prefix: config.s3?.prefix }, 'backups and their write logs go to an S3 object store');
  // With PostgreSQL, several service processes may share the store and this data dir (replicas).
  const shared = config.database.kind === 'postgres';
  const unlock = await lockDataDir(config.dataDir, shared);
  const db = await openDatabase(config.database);
  // Secrets are sealed in the store with the master key (store/master-key.ts); what an earlier
  // version kept in plaintext, or a previous key sealed, is sealed again with it now.
  const { box, source: keySource } = await loadSecretBox(config.dataDir, config);
  const store = new SqlStore(db, box);
  const resealed = await store.resealSecrets();
  if (resealed > 0) logger.info({ values: resealed, key: box.currentId }, 'sealed secrets in the store with the current master key');
  logger.info({ key: box.currentId, from: keySource === config.dataDir ? 'data dir' : keySource }, 'master key for secrets at rest');
  const { driver, firewall } = await createDrivers(config, logger);
  // The catalogue offers what the driver can run (read again at each maintenance look).
  let engines: EngineVersion[] = await driver.offeredEngines();
  // Allow-lists: the kernel's rules are rebuilt from the store now, so a restart (or a crash
  // between two changes) never leaves a cluster open or shut against what the store says.
  const allowLists = new AllowLists(store, firewall);
  if (allowLists.unavailable) logger.warn(`allow-lists are recorded but NOT enforced: ${allowLists.unavailable}`);
  // A rebuild the kernel refuses ends the start: better no service than rules other than the store's.
  await allowLists.rebuild();
  await allowLists.reportUnenforced(clock.now().toISOString());
  const credential = await bootstrapCredential(config.dataDir, config.bootstrap, opts.announce ?? ((t) => console.log(t)));
  // The bootstrap key in force is this start's: one an earlier start used is revoked (rotation
  // through the environment), on every instance sharing the store.
  const boot = await store.saveBootstrapCredential(credential, clock.now().toISOString());
  if (boot.revoked.length > 0) logger.info({ accessKeys: boot.revoked }, 'revoked the earlier bootstrap access key(s)');
  if (boot.revokedItself) {
    logger.warn(
      { accessKey: credential.accessKey },
      'the bootstrap access key was revoked by an operator and stays revoked: use a key from `cachestore admin keys issue`, or set a new CACHESTORE_ACCESS_KEY and CACHESTORE_SECRET_KEY',
    );
  }

  const scrape = await metricsToken(config.dataDir, config.metricsToken);
  logger.info({ from: scrape.source }, 'GET /metrics scrape token (Authorization: Bearer)');
  const metrics = new ServiceMetrics(async (r) => (await store.backupsOf(r.clusterId)).find((b) => b.requestId === r.id));

  const backupTools = { storage };

  const sentinelTimings = { downAfterMs: config.sentinelDownAfterMs, failoverTimeoutMs: config.sentinelFailoverTimeoutMs };
  const reconciler = new Reconciler({
    store,
    driver,
    clock,
    logger,
    intervalMs: config.reconcileIntervalMs,
    healAfterMs: config.healAfterMs,
    sentinelTimings,
    // A death told by a liveness link: a primary is failed over at once, anything else is
    // looked at (and started again) at once. Called only after start, once primaryWatch exists.
    onProcessDeath: (node, cluster) => void primaryWatch.died(node, cluster),
    // Only while this process leads (always, with SQLite): set once the election exists.
    mayAct: () => election === null || election.isLeading(),
    metrics,
  });
  const primaryWatch = new PrimaryWatch({
    store,
    clock,
    logger,
    enabled: config.primaryWatchMs > 0,
    lookAt: (id) => void reconciler.checkCluster(id),
  });
  const worker = new Worker({
    store,
    driver,
    clock,
    logger,
    concurrency: config.workerConcurrency,
    leaseMs: config.requestLeaseMs,
    stepDelayMs: config.debugStepDelayMs,
    afterStep: config.debugCrashAfterStep.length > 0 ? new CrashPoints(config.debugCrashAfterStep, startedAt, () => process.kill(process.pid, 'SIGKILL')).afterStep : undefined,
    sentinelTimings,
    backups: backupTools,
    allowLists,
    metrics,
    // After an operation, look at the cluster once (and start watching its Sentinels).
    onFinished: (id) => {
      // Terminated and failed clusters lose their rules; a failed change keeps the stored list in force.
      allowLists.rebuild().catch((err: unknown) => logger.error({ err }, 'rebuilding the allow-list rules failed'));
      // Looking at the cluster is the leader's (another process's leader learns of it from the ledger).
      duties.finished(id);
    },
  });
  const versions = () => engines;
  const clusters = new ClusterService({
    store,
    endpoints: driver,
    clock,
    engineVersions: versions,
    subnets: config.subnets,
    onSubmitted: () => worker.notify(),
    scheduleClock: opts.scheduleClock ?? clock,
  });
  const backups = new BackupService({ store, clock, clusters, logs: storage.logs });
  const scheduler = new BackupScheduler({ store, backups, clock: opts.scheduleClock ?? clock, logger, intervalMs: config.backupScheduleMs });
  const engineConfig = new EngineConfig(store);
  const maintenanceService = new MaintenanceService({ store, clusters, clock: opts.scheduleClock ?? clock, onReleased: () => worker.notify() });
  // The driver reads what it can run again: after `apt-get upgrade` the local binaries report a
  // newer patch, and the catalogue and every launch from then on use it.
  const refreshEngines = async () => {
    engines = await driver.offeredEngines();
    return engines;
  };
  const maintenance = new MaintenanceScheduler({
    maintenance: maintenanceService,
    logger,
    intervalMs: config.maintenanceCheckMs,
    refreshEngines,
  });
  const app = await buildApp({
    clusters,
    backups,
    catalog: new CatalogService(versions),
    parameters: new ParameterService({ store, clusters, engines: engineConfig, engineVersions: versions }),
    commands: new CommandService({ store, engines: engineConfig, clusters }),
    serverTypes: new ServerTypeService({ store, clusters, engines: engineConfig }),
    securityGroups: new SecurityGroupService({ store, clusters }),
    maintenance: maintenanceService,
    blockStorage: new BlockStorageService({ store, clusters }),
    metrics: { token: scrape.token, service: metrics, engines: new EngineMetrics({ store, cacheMs: config.metricsCacheMs }) },
    findCredential: (k) => store.findCredential(k),
    useSignature: (k, sig, exp, nowMs) => store.useSignature(k, sig, exp, nowMs),
    trustProxy: config.trustProxy,
    loggerInstance: logger,
    checkResponses: opts.checkResponses,
    now: () => clock.now().getTime(),
  });

  // With SQLite this process owns the store alone (the data dir lock): requests that were
  // running when the last process died can be resumed now, without waiting for their leases.
  if (config.database.kind === 'sqlite') {
    const n = await store.releaseAllLeases();
    if (n > 0) logger.info({ requests: n }, 'resuming requests left running by the previous process');
    // Likewise, half-copied backup files are nobody's now (their requests resume or fail).
    const swept = await storage.sweep();
    if (swept > 0) logger.info({ files: swept }, 'removed half-copied backup files');
  }
  // Engines started by an earlier version answer to the cluster password alone: bring them
  // under the service's own user before anything else talks to them.
  await upgradeEngines({ store, driver, logger, timings: sentinelTimings, at: () => clock.now().toISOString() });
  const leadership = leadershipTimings(config.leaderLeaseMs);
  const duties = new Duties({ store, reconciler, scheduler, maintenance, logger, sweepScratch: () => driver.sweepScratch(), followMs: shared ? leadership.renewMs : 0, now: () => clock.now() });
  // With SQLite this process is the only one: it leads. On PostgreSQL the processes elect one.
  let election: LeaderElection | null = null;
  let refreshTimer: NodeJS.Timeout | null = null;
  if (shared) {
    election = new LeaderElection({ store, id: worker.id, logger, timings: leadership, lead: () => duties.take(), resign: () => duties.drop() });
    await election.start();
    // The leader reads the installed engines at each maintenance look; the others read them as
    // often, so every process's catalogue and launches use the same patch.
    if (config.maintenanceCheckMs > 0) {
      refreshTimer = setInterval(() => {
        if (!election?.isLeading()) refreshEngines().catch((err: unknown) => logger.warn({ err }, 'reading the installed engines failed'));
      }, config.maintenanceCheckMs);
      refreshTimer.unref();
    }
  } else {
    await duties.take();
  }
  // The leader (with SQLite the only process) ships the write logs' new bytes to where they are
  // kept for good: what a lost machine takes with it is at most this long of writes.
  let shipping: Promise<unknown> | null = null;
  const shipTimer =
    config.logShipMs > 0
      ? setInterval(() => {
          if (shipping || (election !== null && !election.isLeading())) return;
          // Logs of engines elsewhere (pods) come in first, then everything goes where it is kept.
          shipping = driver
            .shipLogs(storage)
            .catch((err: unknown) => logger.warn({ err }, 'taking in write logs from the engines failed; the next try sends what is missing'))
            .then(() => storage.logs.ship())
            .catch((err: unknown) => logger.warn({ err }, 'shipping write logs failed; the next try sends what is missing'))
            .finally(() => (shipping = null));
        }, config.logShipMs)
      : null;
  shipTimer?.unref();
  worker.start();
  logger.info({ engines: engines.map((e) => e.name), worker: worker.id, leads: election?.isLeading() ?? true }, 'engines found');

  let closed = false;
  return {
    app,
    store,
    credential,
    driver,
    reconciler,
    scheduler,
    worker,
    maintenance,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      if (refreshTimer) clearInterval(refreshTimer);
      if (shipTimer) clearInterval(shipTimer);
      await shipping;
      // A clean stop leaves the object store with every write logged so far.
      if (shipTimer && (election === null || election.isLeading())) {
        await driver.shipLogs(storage).catch((err: unknown) => logger.warn({ err }, 'taking in write logs from the engines failed'));
        await storage.logs.ship().catch((err: unknown) => logger.warn({ err }, 'shipping write logs failed'));
      }
      // A leader gives its lease up: another process takes the duties at once.
      if (election) await election.stop();
      else await duties.drop();
      await worker.stop();
      await store.close();
      await unlock();
    },
  };
}
