// Runs the whole service in-process for a test: its own temp data dir, its own loopback subnet
// (so test files running in parallel never share an address), a real listening socket, and a
// signed client. `stop()` closes the service and kills every engine the test started.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import type { Clock } from '../../src/domain/ports.js';
import { startService, type Service } from '../../src/service.js';
import { SERVICE_USER } from '../../src/engines/acl.js';
import type { Endpoint } from '../../src/engines/client.js';
import { SignedClient } from './client.js';
import { removeNftTable } from '../../src/drivers/local/nftables.js';
import { killEnginesUnder } from './engines.js';
import { unmountVolumesUnder } from './volumes.js';

let counter = 0;

/** A /24 in 127.0.0.0/8 unlikely to be used by any other test process on this machine. */
export function testSubnet(): string {
  const pool = Number(process.env.VITEST_POOL_ID ?? process.pid % 50);
  const second = 100 + ((pool * 7 + (process.pid % 13)) % 120);
  const third = (counter++ * 17 + (process.pid % 256)) % 256;
  return `127.${second}.${third}.0/24`;
}

export interface Harness {
  service: Service;
  client: SignedClient;
  config: Config;
  dataDir: string;
  baseUrl: string;
  /** Closes the service but leaves engines running (as a service restart would). */
  closeService(): Promise<void>;
  /** Starts the service again on the same data dir. */
  restartService(): Promise<void>;
  /** Closes everything and kills the test's engines. */
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** The schedule's clock: daily backups and maintenance windows (see ManualClock). */
  scheduleClock?: Clock;
  /**
   * Changes the loaded configuration before the service starts: what no environment can say,
   * such as loopback subnets for the Kubernetes driver run by the fake kubelet
   * (kubernetes-service.test.ts), which a real cluster's Service CIDR never holds.
   */
  adjustConfig?: (config: Config) => void;
}

/** A clock a test sets by hand: real time plus an offset it moves. */
export class ManualClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Moves the clock to `at` (from now on it runs on from there). */
  set(at: Date): void {
    this.offsetMs = at.getTime() - Date.now();
  }
}

export async function startHarness(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cachestore-test-'));
  const config = loadConfig({
    PATH: process.env.PATH,
    CACHESTORE_DATA_DIR: dataDir,
    CACHESTORE_LISTEN: '127.0.0.1:0',
    CACHESTORE_ACCESS_KEY: 'test-access-key',
    CACHESTORE_SECRET_KEY: 'test-secret-key',
    CACHESTORE_ACCOUNT_ID: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    CACHESTORE_SUBNETS: `local-subnet=${testSubnet()}`,
    CACHESTORE_LOG_LEVEL: 'silent',
    CACHESTORE_RECONCILE_INTERVAL_MS: '0',
    // Real data volumes cost 64 MiB of disk and a loop device per data node: the tests about
    // them (block-storage.test.ts) turn them on; the rest record sizes only, unless
    // CACHESTORE_TEST_VOLUMES=auto runs every test on real volumes.
    CACHESTORE_VOLUMES: process.env.CACHESTORE_TEST_VOLUMES ?? 'off',
    ...env,
  });
  opts.adjustConfig?.(config);
  const h: Partial<Harness> & { service?: Service } = { config, dataDir };
  const boot = async () => {
    const service = await startService(config, { checkResponses: true, announce: () => undefined, scheduleClock: opts.scheduleClock });
    await service.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = service.app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    h.service = service;
    h.baseUrl = `http://127.0.0.1:${addr.port}`;
    h.client = new SignedClient(h.baseUrl, { accessKey: service.credential.accessKey, secretKey: service.credential.secretKey });
  };
  await boot();
  let open = true;
  h.closeService = async () => {
    if (open) await h.service!.close();
    open = false;
  };
  h.restartService = async () => {
    await h.closeService!();
    await boot();
    open = true;
  };
  h.stop = async () => {
    try {
      await h.closeService!();
    } finally {
      // The service leaves its allow-list rules in the kernel when it closes (engines outlive
      // it); the test's table goes with the test.
      await removeNftTable(dataDir);
      await killEnginesUnder(dataDir);
      // Loop devices are the kernel's, shared by every test: never leave one behind.
      await unmountVolumesUnder(dataDir);
      // For a post-mortem: CACHESTORE_TEST_KEEP=1 keeps every test's data dir (engine logs).
      if (!process.env.CACHESTORE_TEST_KEEP) await rm(dataDir, { recursive: true, force: true });
    }
  };
  return h as Harness;
}

/** A valid standalone Create Cluster body; override what a test needs. */
export function createBody(engine: { id: string; product_image_type: string }, overrides: Record<string, unknown> = {}) {
  const redis = engine.product_image_type.startsWith('Redis');
  return {
    name: 'testcluster',
    dbaas_engine_version_id: engine.id,
    instance_name_prefix: 'tst',
    subnet_id: 'local-subnet',
    timezone: 'Asia/Seoul',
    ha_enabled: false,
    replica_count: 0,
    nat_enabled: false,
    allowable_ip_addresses: [],
    init_config_option: { database_user_password: 'Secr3t!pass', database_port: 6378 },
    instance_groups: [
      {
        role_type: 'MASTER',
        server_type_name: redis ? 'redis1v1m2' : 'css1v1m2',
        block_storage_groups: [
          { role_type: 'OS', size_gb: 104 },
          { role_type: 'DATA', size_gb: 56 },
        ],
        instances: [{ role_type: 'MASTER' }],
      },
    ],
    ...overrides,
  };
}

export async function engineVersions(client: SignedClient): Promise<Array<{ id: string; product_image_type: string; software_version: string; name: string }>> {
  const r = await client.get('/v1/engine-versions');
  if (r.status !== 200) throw new Error(`engine versions: ${r.status}`);
  return r.body.contents;
}

/** A valid HA Create Cluster body (primary, `replicas` replicas, Sentinels). */
export function haBody(engine: { id: string; product_image_type: string }, replicas: 1 | 2, overrides: Record<string, unknown> = {}) {
  const redis = engine.product_image_type.startsWith('Redis');
  const type = redis ? 'redis1v1m2' : 'css1v1m2';
  const storage = [
    { role_type: 'OS', size_gb: 104 },
    { role_type: 'DATA', size_gb: 56 },
  ];
  return createBody(engine, {
    ha_enabled: true,
    replica_count: replicas,
    init_config_option: { database_user_password: 'Secr3t!pass', database_port: 6378, sentinel_port: 26378 },
    instance_groups: [
      {
        role_type: 'MASTER_REPLICA',
        server_type_name: type,
        block_storage_groups: storage,
        instances: [{ role_type: 'MASTER' }, ...Array.from({ length: replicas }, () => ({ role_type: 'REPLICA' }))],
      },
      { role_type: 'SENTINEL', server_type_name: type, block_storage_groups: storage, instances: [{ role_type: 'SENTINEL' }] },
    ],
    ...overrides,
  });
}

/**
 * Waits for a create (or any request) to complete, and fails the test, with the request's error,
 * when it ends in another state or does not end in time.
 */
export async function settle(client: SignedClient, requestId: string, clusterId: string, timeoutMs = 20_000): Promise<void> {
  const state = await client.waitRequest(requestId, timeoutMs);
  if (state !== 'COMPLETED') {
    const details = await client.get(`/v1/requests/${requestId}/details`);
    throw new Error(`request ${requestId} for cluster ${clusterId} ended ${state}, not COMPLETED: ${details.body?.error}`);
  }
}

/** How the service itself reaches a cluster's engine or Sentinel (its own user): for tests that inspect what the tenant may not. */
export async function serviceEndpoint(h: Harness, clusterId: string, ip: string, port = 6378): Promise<Endpoint> {
  const { serviceSecret } = await h.service.store.clusterSecrets(clusterId);
  return { host: ip, port, username: SERVICE_USER, password: serviceSecret };
}

/**
 * Sends a mutation, expects 202, and waits for its request to COMPLETE; on anything else the test
 * fails with the answer or the request's error. Returns the request id and the resource id.
 */
export async function completes(client: SignedClient, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ requestId: string; id: string }> {
  const r = await client.request(method, path, body);
  if (r.status !== 202) throw new Error(`${method} ${path} answered ${r.status}, not 202: ${JSON.stringify(r.body)}`);
  await settle(client, r.body.request_id, r.body.resource?.id, timeoutMs);
  return { requestId: r.body.request_id, id: r.body.resource.id };
}
