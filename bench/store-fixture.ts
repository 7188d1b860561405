// Store-level fixture for the benchmarks: clusters written straight into a data dir's SQLite
// file before the service starts, planned as the API plans them (planCluster), recorded STOPPED
// and without engine processes. Show and List read the same rows as for a running cluster; the
// service's start-up check looks at RUNNING and ERROR clusters only, so it leaves these alone.
import type { Config } from '../src/config.js';
import type { CreateClusterBody } from '../src/contract/types.js';
import type { EngineVersion } from '../src/domain/catalog.js';
import { planCluster } from '../src/domain/create-cluster.js';
import { newId, newRequestId, newServiceSecret } from '../src/domain/ids.js';
import type { Instance, OperationRequest } from '../src/domain/model.js';
import { freeAddresses } from '../src/domain/network.js';
import { openDatabase } from '../src/store/db.js';
import { SqlStore } from '../src/store/sql-store.js';
import { createBody } from '../test/support/harness.js';

/** `i` as lower-case letters (cluster names allow letters only), at least `width` of them. */
export function letters(i: number, width = 4): string {
  let s = '';
  for (let k = 0; k < width || i > 0; k++) {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26);
  }
  return s;
}

/**
 * Adds `count` clusters named `<prefix><letters>` of `accountId` to the data dir's store (the file
 * and its schema are created if missing), STOPPED, without engines. Returns their ids.
 */
export async function insertStoreOnlyClusters(
  config: Config,
  engine: EngineVersion,
  versions: EngineVersion[],
  count: number,
  owner: { accountId: string; userId: string; prefix?: string },
): Promise<string[]> {
  const store = new SqlStore(await openDatabase(config.database));
  const ids: string[] = [];
  try {
    const { accountId, userId } = owner;
    const subnet = config.subnets.find((s) => s.id === 'local-subnet')!;
    const free = freeAddresses(subnet.cidr, await store.takenAddresses(subnet.id));
    const apiEngine = { id: engine.id, product_image_type: engine.productImageType };
    for (let i = 0; i < count; i++) {
      const now = new Date().toISOString();
      const body = createBody(apiEngine, { name: `${owner.prefix ?? 'store'}${letters(i)}`, instance_name_prefix: 'sto' }) as unknown as CreateClusterBody;
      const plan = planCluster(body, { accountId, userId, now, engineVersions: versions, subnets: config.subnets });
      const ip = free.next();
      if (ip.done) throw new Error(`subnet ${subnet.cidr} is full`);
      // STOPPED: the service's start-up check looks at RUNNING and ERROR clusters only.
      plan.cluster.serviceState = 'STOPPED';
      // Recorded as already COMPLETED (and never leased), so the worker never claims it; then
      // finished, so it holds no active-request slot.
      const request: OperationRequest = {
        id: newRequestId(),
        accountId,
        clusterId: plan.cluster.id,
        operation: 'create',
        state: 'COMPLETED',
        step: null,
        error: null,
        createdBy: userId,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      };
      await store.createCluster(
        {
          cluster: plan.cluster,
          password: plan.password,
          serviceSecret: newServiceSecret(),
          groups: plan.groups,
          instances: plan.instances.map(
            (pi): Instance => ({
              id: newId(),
              clusterId: plan.cluster.id,
              groupId: plan.groups[pi.groupIndex].id,
              name: pi.name,
              roleType: pi.roleType,
              serviceIpAddress: ip.value,
              port: plan.cluster.databasePort,
              serviceState: 'STOPPED',
            }),
          ),
        },
        request,
      );
      await store.finishRequest(request.id, 'COMPLETED', null, now);
      ids.push(plan.cluster.id);
    }
  } finally {
    await store.close();
  }
  return ids;
}
