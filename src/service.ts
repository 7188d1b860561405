// Composition root: config -> store -> engines and driver -> workers and reconciler -> HTTP.
// Used by main.ts and by tests that run the whole service in-process.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { bootstrapCredential } from './bootstrap.js';
import type { Config } from './config.js';
import { LogArchive } from './backups/log-archive.js';
import { LocalBackupStorage } from './backups/storage.js';
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
import { LocalDriver } from './drivers/local/local-driver.js';
import { NftFirewall } from './drivers/local/nftables.js';
import { LoopVolumes } from './drivers/local/volumes.js';
import { AllowLists } from './operations/allow-lists.js';
import { detectEngines, type InstalledEngine } from './engines/detect.js';
import { buildApp } from './http/app.js';
import { sweepScratchEngines } from './engines/snapshot.js';
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
import { Worker } from './operations/worker.js';
import { CrashPoints } from './operations/crash-points.js';
import { openDatabase } from './store/db.js';
import { SqlStore } from './store/sql-store.js';

export interface Service {
  app: FastifyInstance;
  store: SqlStore;
  credential: Credential;
  engines: InstalledEngine[];
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
  const unlock = await lockDataDir(config.dataDir);
  const db = await openDatabase(config.database);
  // Secrets are sealed in the store with the master key (store/master-key.ts); what an earlier
  // version kept in plaintext, or a previous key sealed, is sealed again with it now.
  const { box, source: keySource } = await loadSecretBox(config.dataDir, config);
  const store = new SqlStore(db, box);
  const resealed = await store.resealSecrets();
  if (resealed > 0) logger.info({ values: resealed, key: box.currentId }, 'sealed secrets in the store with the current master key');
  logger.info({ key: box.currentId, from: keySource === config.dataDir ? 'data dir' : keySource }, 'master key for secrets at rest');
  const engines = await detectEngines(config.enginePath);
  const volumes = await LoopVolumes.detect(config.volumes, config.volumeMibPerGb);
  const driver = new LocalDriver(config.dataDir, (kind) => engines.find((e) => e.version.engine === kind)?.binaries, volumes);
  if (volumes.unavailable) logger.warn(`data volumes are NOT real: ${volumes.unavailable}; block storage sizes are recorded only`);
  else logger.info({ mib_per_gb: volumes.mibPerGb }, 'data volumes: each data node runs on a loop-mounted XFS filesystem of its block storage size');
  // Allow-lists: the kernel's rules are rebuilt from the store now, so a restart (or a crash
  // between two changes) never leaves a cluster open or shut against what the store says.
  const allowLists = new AllowLists(store, await NftFirewall.detect(config.dataDir));
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

  const storage = new LocalBackupStorage(config.backupDir);
  const archive = new LogArchive(join(config.dataDir, 'wal-archive'));
  const backupTools = {
    storage,
    archive,
    stagingDir: join(config.dataDir, 'backup-staging'),
    binaries: (kind: string) => engines.find((e) => e.version.engine === kind)?.binaries,
  };

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
    stepDelayMs: config.debugStepDelayMs,
    afterStep: config.debugCrashAfterStep.length > 0 ? new CrashPoints(config.debugCrashAfterStep, startedAt, () => process.kill(process.pid, 'SIGKILL')).afterStep : undefined,
    sentinelTimings,
    backups: backupTools,
    allowLists,
    // After an operation, look at the cluster once (and start watching its Sentinels).
    onFinished: (id) => {
      // Terminated and failed clusters lose their rules; a failed change keeps the stored list in force.
      allowLists.rebuild().catch((err: unknown) => logger.error({ err }, 'rebuilding the allow-list rules failed'));
      void reconciler.checkCluster(id);
      // Work waiting for a window may go now (Unset Maintenance, or the request that kept it waiting ended).
      maintenance.checkCluster(id);
    },
  });
  const versions = () => engines.map((e) => e.version);
  const clusters = new ClusterService({
    store,
    probe: driver,
    clock,
    engineVersions: versions,
    subnets: config.subnets,
    onSubmitted: () => worker.notify(),
    scheduleClock: opts.scheduleClock ?? clock,
  });
  const backups = new BackupService({ store, clock, clusters, logs: archive });
  const scheduler = new BackupScheduler({ store, backups, clock: opts.scheduleClock ?? clock, logger, intervalMs: config.backupScheduleMs });
  const engineConfig = new EngineConfig(store);
  const maintenanceService = new MaintenanceService({ store, clusters, clock: opts.scheduleClock ?? clock, onReleased: () => worker.notify() });
  const maintenance = new MaintenanceScheduler({
    maintenance: maintenanceService,
    logger,
    intervalMs: config.maintenanceCheckMs,
    // The binaries are read again: after `apt-get upgrade` they report a newer patch, and the
    // catalogue and every launch from then on use it. An engine not found this time (e.g. its
    // package is being replaced) keeps what was found before.
    refreshEngines: async () => {
      for (const e of await detectEngines(config.enginePath)) {
        const i = engines.findIndex((x) => x.version.engine === e.version.engine);
        if (i >= 0) engines[i] = e;
        else engines.push(e);
      }
      return versions();
    },
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
  // Scratch engines of a backup verification that a crash interrupted (their backups resume).
  const scratch = await sweepScratchEngines();
  if (scratch > 0) logger.info({ directories: scratch }, 'removed what interrupted backup verifications left');
  // Engines started by an earlier version answer to the cluster password alone: bring them
  // under the service's own user before anything else talks to them.
  await upgradeEngines({ store, driver, logger, timings: sentinelTimings, at: () => clock.now().toISOString() });
  await reconciler.check();
  reconciler.start();
  worker.start();
  scheduler.start();
  maintenance.start();
  logger.info({ engines: engines.map((e) => e.version.name) }, 'engines found');

  let closed = false;
  return {
    app,
    store,
    credential,
    engines,
    reconciler,
    scheduler,
    worker,
    maintenance,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await scheduler.stop();
      await maintenance.stop();
      await reconciler.stop();
      await worker.stop();
      await store.close();
      await unlock();
    },
  };
}
