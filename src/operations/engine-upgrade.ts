// Brings the running processes of clusters created by an earlier version of the service (one
// password, `requirepass`, for tenant and service alike) to the service's own ACL user, at the
// service's start and without restarting them. Stopped clusters need nothing: their
// configuration files are written anew when they start. Processes are first adopted by their
// pid file (the driver records their identity then), as they carry no launch record yet.
// The same start fences the running primaries of HA clusters made before the fence existed
// (domain/fencing.ts): CONFIG SET now, and the files for their next start.
import type { ClusterSecrets, Store } from '../domain/ports.js';
import { endpointOf, legacyEndpointOf, type Driver, type NodeSpec } from '../drivers/driver.js';
import { ping } from '../engines/client.js';
import { configGet, configSet } from '../engines/parameters.js';
import { createServiceUser, takeOwnership, tenantIsRestricted } from '../engines/ownership.js';
import { clusterNodes, masterName, type SentinelTimings } from './nodes.js';
import type { Logger } from './worker.js';

export interface OwnershipProbe {
  /** The service's user authenticates. */
  service: boolean;
  /** The cluster password authenticates the default user (as the earlier version connected). */
  legacy: boolean;
  /** The default user is refused what the service owns; null when the service's user cannot ask. */
  tenantRestricted: boolean | null;
}

/** What a running process needs. Pure. */
export function upgradeAction(p: OwnershipProbe): 'none' | 'create-service-user' | 'take-ownership' | 'unreachable' {
  if (!p.service) return p.legacy ? 'create-service-user' : 'unreachable';
  return p.tenantRestricted === false ? 'take-ownership' : 'none';
}

export async function upgradeEngines(o: { store: Store; driver: Driver; logger: Logger; timings: SentinelTimings; at: () => string }): Promise<number> {
  let upgraded = 0;
  for (const cluster of await o.store.clustersInStates(['RUNNING', 'ERROR'])) {
    const detail = await o.store.clusterDetail(null, cluster.id);
    if (!detail) continue;
    const secrets = await o.store.clusterSecrets(cluster.id);
    const nodes = clusterNodes(detail, secrets, o.timings);
    const running: NodeSpec[] = [];
    for (const n of nodes.all) if (await o.driver.isRunning(n)) running.push(n);
    try {
      const n = await upgradeCluster(running, secrets, masterName(detail));
      if (n > 0) {
        upgraded += n;
        await o.store.addEvent(cluster.id, null, `${n} running engine process(es) moved to the service's own user; the cluster password no longer reconfigures them`, o.at());
        o.logger.info({ cluster_id: cluster.id, processes: n }, 'engines brought under the service user');
      }
    } catch (err) {
      // Left as it was: the next start tries again. The message holds no secret (engine errors do not echo passwords).
      o.logger.warn({ cluster_id: cluster.id, err: String(err) }, 'bringing engines under the service user failed');
    }
    try {
      const fenced = await fenceRunning(o.driver, running.filter((r) => r.kind === 'data'));
      if (fenced.length > 0) await o.store.addEvent(cluster.id, null, `fenced ${fenced.length} running data node(s): ${fenced[0]} (README, Partitions and fencing)`, o.at());
    } catch (err) {
      o.logger.warn({ cluster_id: cluster.id, err: String(err) }, 'fencing running engines failed');
    }
  }
  return upgraded;
}

const FENCE_NAMES = ['min-replicas-to-write', 'min-replicas-max-lag'];

/** Sets the fence's values on running data nodes that run others; returns what each got. */
async function fenceRunning(driver: Driver, data: NodeSpec[]): Promise<string[]> {
  const done: string[] = [];
  for (const n of data) {
    const want = Object.fromEntries(FENCE_NAMES.filter((k) => n.parameters?.[k] !== undefined).map((k) => [k, n.parameters![k]]));
    if (Object.keys(want).length === 0) continue;
    const have = await configGet(endpointOf(n), FENCE_NAMES);
    if (Object.entries(want).every(([k, v]) => have[k] === v)) continue;
    await driver.configure(n);
    await configSet(endpointOf(n), want);
    done.push(Object.entries(want).map(([k, v]) => `${k} ${v}`).join(', '));
  }
  return done;
}

async function upgradeCluster(running: NodeSpec[], secrets: ClusterSecrets, name: string): Promise<number> {
  // 1. Every process gets the service's user before anything authenticates with it: a replica
  // or a Sentinel switched to it must find it on the primary and on the other Sentinels.
  for (const n of running) {
    const service = await ping(endpointOf(n));
    if (upgradeAction({ service, legacy: !service && (await ping(legacyEndpointOf(n))), tenantRestricted: null }) === 'create-service-user') {
      await createServiceUser(legacyEndpointOf(n), secrets.serviceSecret);
    }
  }
  // 2. Then, data nodes first, each is moved to it and the tenant restricted.
  let moved = 0;
  for (const n of [...running.filter((r) => r.kind === 'data'), ...running.filter((r) => r.kind === 'sentinel')]) {
    const service = await ping(endpointOf(n));
    const restricted = service ? await tenantIsRestricted(endpointOf(n), n.kind, name) : null;
    if (upgradeAction({ service, legacy: false, tenantRestricted: restricted }) !== 'take-ownership') continue;
    await takeOwnership(endpointOf(n), n.kind, { ...secrets, masterName: name });
    moved++;
  }
  return moved;
}
