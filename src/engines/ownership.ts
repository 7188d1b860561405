// Runtime commands that put a running engine or Sentinel under the service's ownership (acl.ts
// says who may do what): used to bring processes started by an earlier version of the service,
// which had only the cluster password, to the service's own user without restarting them.
import { SERVICE_USER, serviceRules, setUserArgs, tenantRules } from './acl.js';
import type { Endpoint } from './client.js';
import { withClient } from './replication.js';

export type ProcessKind = 'data' | 'sentinel';

/** Creates (or resets) the service's user. Works on any connection allowed to run ACL. */
export async function createServiceUser(ep: Endpoint, serviceSecret: string): Promise<void> {
  await withClient(ep, (c) => c.call('ACL', 'SETUSER', ...setUserArgs(SERVICE_USER, serviceSecret, serviceRules())));
}

/** Whether the tenant's user is already refused what the service owns (one refused command, dry run). */
export async function tenantIsRestricted(ep: Endpoint, kind: ProcessKind, masterName: string): Promise<boolean> {
  const probe = kind === 'data' ? ['CONFIG', 'GET', 'port'] : ['SENTINEL', 'SET', masterName, 'quorum', '1'];
  const reply = await withClient(ep, (c) => c.call('ACL', 'DRYRUN', 'default', ...probe));
  return String(reply) !== 'OK';
}

/**
 * Moves a running process to the service's user (run as that user): replicas authenticate to
 * their primary with it, Sentinels to the data nodes and to each other; then the tenant's user
 * is restricted, and the process writes its own configuration file from what it now runs (CONFIG
 * REWRITE; Sentinel: FLUSHCONFIG), so a restart by anyone keeps it.
 */
export async function takeOwnership(ep: Endpoint, kind: ProcessKind, o: { password: string; serviceSecret: string; masterName: string }): Promise<void> {
  await withClient(ep, async (c) => {
    if (kind === 'data') {
      await c.call('CONFIG', 'SET', 'masteruser', SERVICE_USER, 'masterauth', o.serviceSecret);
    } else {
      await c.call('SENTINEL', 'SET', o.masterName, 'auth-user', SERVICE_USER);
      await c.call('SENTINEL', 'SET', o.masterName, 'auth-pass', o.serviceSecret);
      await c.call('SENTINEL', 'CONFIG', 'SET', 'sentinel-user', SERVICE_USER);
      await c.call('SENTINEL', 'CONFIG', 'SET', 'sentinel-pass', o.serviceSecret);
    }
    await c.call('ACL', 'SETUSER', ...setUserArgs('default', o.password, tenantRules(kind)));
    if (kind === 'data') await c.call('CONFIG', 'REWRITE');
    else await c.call('SENTINEL', 'FLUSHCONFIG');
  }, 5000);
}
