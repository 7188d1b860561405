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
import type { Credential } from './domain/model.js';
import { systemClock, type Clock } from './domain/ports.js';
import { LocalDriver } from './drivers/local/local-driver.js';
import { NftFirewall } from './drivers/local/nftables.js';
import { AllowLists } from './operations/allow-lists.js';
import { detectEngines, type InstalledEngine } from './engines/detect.js';
import { buildApp } from './http/app.js';
import { lockDataDir } from './lock.js';
import { EngineConfig } from './operations/engine-config.js';
import { BackupScheduler } from './operations/backup-scheduler.js';
import { upgradeEngines } from './operations/engine-upgrade.js';
import { PrimaryWatch } from './operations/primary-watch.js';
import { Reconciler } from './operations/reconciler.js';
import { Worker } from './operations/worker.js';
import { openDatabase } from './store/db.js';
import { SqlStore } from './store/sql-store.js';

export interface Service {
  app: FastifyInstance;
  store: SqlStore;
  credential: Credential;
  engines: InstalledEngine[];
  reconciler: Reconciler;
  scheduler: BackupScheduler;
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
  const logger = pino({ level: config.logLevel });
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const unlock = await lockDataDir(config.dataDir);
  const db = await openDatabase(config.database);
  const store = new SqlStore(db);
  const engines = await detectEngines(config.enginePath);
  const driver = new LocalDriver(config.dataDir, (kind) => engines.find((e) => e.version.engine === kind)?.binaries);
  // Allow-lists: the kernel's rules are rebuilt from the store now, so a restart (or a crash
  // between two changes) never leaves a cluster open or shut against what the store says.
  const allowLists = new AllowLists(store, await NftFirewall.detect(config.dataDir));
  if (allowLists.unavailable) logger.warn(`allow-lists are recorded but NOT enforced: ${allowLists.unavailable}`);
  // A rebuild the kernel refuses ends the start: better no service than rules other than the store's.
  await allowLists.rebuild();
  await allowLists.reportUnenforced(clock.now().toISOString());
  const credential = await bootstrapCredential(config.dataDir, config.bootstrap, opts.announce ?? ((t) => console.log(t)));
  await store.saveCredential(credential);

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
    sentinelTimings,
    backups: backupTools,
    allowLists,
    // After an operation, look at the cluster once (and start watching its Sentinels).
    onFinished: (id) => {
      // Terminated and failed clusters lose their rules; a failed change keeps the stored list in force.
      allowLists.rebuild().catch((err: unknown) => logger.error({ err }, 'rebuilding the allow-list rules failed'));
      void reconciler.checkCluster(id);
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
  });
  const backups = new BackupService({ store, clock, clusters, logs: archive });
  const scheduler = new BackupScheduler({ store, backups, clock: opts.scheduleClock ?? clock, logger, intervalMs: config.backupScheduleMs });
  const engineConfig = new EngineConfig(store);
  const app = await buildApp({
    clusters,
    backups,
    catalog: new CatalogService(versions),
    parameters: new ParameterService({ store, clusters, engines: engineConfig, engineVersions: versions }),
    commands: new CommandService({ store, engines: engineConfig, clusters }),
    serverTypes: new ServerTypeService({ store, clusters, engines: engineConfig }),
    securityGroups: new SecurityGroupService({ store, clusters }),
    findCredential: (k) => store.findCredential(k),
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
  await reconciler.check();
  reconciler.start();
  worker.start();
  scheduler.start();
  logger.info({ engines: engines.map((e) => e.version.name) }, 'engines found');

  let closed = false;
  return {
    app,
    store,
    credential,
    engines,
    reconciler,
    scheduler,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await scheduler.stop();
      await reconciler.stop();
      await worker.stop();
      await store.close();
      await unlock();
    },
  };
}
