// Clusters created by the earlier version (one password, `requirepass`, for tenant and service
// alike; no launch records) are brought under the service's own user when the new service
// starts, without restarting their engines. The earlier version's files are made here from the
// current ones (its rendering differed only in the user lines), and its engines started as it
// started them.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asTenant } from '../support/dataset.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identify, signal, waitForExit } from '../../src/drivers/local/processes.js';
import { enginePidOf } from '../support/engines.js';
import { engineVersions, haBody, startHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/writer.js';

const PASSWORD = 'Secr3t!pass';

let h: Harness;
let engines: Awaited<ReturnType<typeof engineVersions>>;

beforeAll(async () => {
  // Reconcile and heal soon, so the primary killed below rejoins within the test.
  h = await startHarness({ CACHESTORE_RECONCILE_INTERVAL_MS: '500', CACHESTORE_HEAL_AFTER_MS: '1000' });
  engines = await engineVersions(h.client);
});
afterAll(async () => {
  await h?.stop();
});

const refusal = (ip: string, port: number, ...cmd: string[]) => asTenant(ip, port, (c) => c.call(cmd[0], ...cmd.slice(1)).then(() => '', (e: Error) => e.message));

/** The configuration file as the earlier version wrote it: the cluster password for everyone. */
function earlierConfig(text: string): string {
  const q = `"${PASSWORD}"`;
  return (
    text
      .split('\n')
      .filter((l) => !/^(user |masteruser |primaryuser |sentinel sentinel-user |sentinel auth-user )/.test(l))
      .map((l) =>
        l
          .replace(/^(masterauth|primaryauth) .*/, `masterauth ${q}`)
          .replace(/^sentinel sentinel-pass .*/, `sentinel sentinel-pass ${q}`)
          .replace(/^sentinel auth-pass (\S+) .*/, `sentinel auth-pass $1 ${q}`),
      )
      .join('\n') + `\nrequirepass ${q}\n`
  );
}

async function stopNode(nodeId: string): Promise<void> {
  const pid = await enginePidOf(h.dataDir, nodeId);
  const proc = pid === null ? null : await identify(pid);
  if (!proc) return;
  signal(proc.pid, 'SIGTERM');
  expect(await waitForExit(proc, 10_000)).toBe(true);
}

/** Starts a stopped node's engine the earlier version's way: its config, no launch record. */
async function startAsEarlierVersion(nodeId: string, engine: 'redis' | 'valkey'): Promise<void> {
  const nodeDir = join(h.dataDir, 'engines', nodeId);
  const conf = join(nodeDir, 'engine.conf');
  const text = await readFile(conf, 'utf8');
  await writeFile(conf, earlierConfig(text), { mode: 0o600 });
  await rm(join(nodeDir, 'engine.launch'), { force: true });
  const bin = `${engine}-${text.includes('sentinel monitor') ? 'sentinel' : 'server'}`;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(bin, [conf], { detached: true, stdio: 'ignore', cwd: nodeDir });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  expect(code).toBe(0);
  await waitFor(`${nodeId} to write its pid file`, () => readFile(join(nodeDir, 'engine.pid'), 'utf8').then(Number, () => 0), 10_000);
}

describe.each(['Redis OSS Sentinel', 'Valkey Sentinel'])('%s', (product) => {
  it('an HA cluster of the earlier version is taken over at start: the tenant loses CONFIG and SENTINEL SET, the engines keep running, failover and switchover work', async () => {
    const engine = engines.find((e) => e.product_image_type === product)!;
    const kind = product.startsWith('Redis') ? 'redis' : 'valkey';
    const name = `upgrade${kind}`;
    const r = await h.client.post('/v1/clusters', haBody(engine, 1, { name }));
    expect(await h.client.waitRequest(r.body.request_id, 30_000)).toBe('COMPLETED');
    const id = r.body.resource.id;
    const instances = (await h.service.store.clusterDetail(null, id))!.instances;
    const primary = instances.find((i) => i.roleType === 'MASTER')!;
    const replica = instances.find((i) => i.roleType === 'REPLICA')!;
    const sentinelIps = instances.map((i) => i.serviceIpAddress);
    const nodeIds = [primary.id, replica.id, ...instances.map((i) => (i.roleType === 'SENTINEL' ? i.id : `${i.id}-sentinel`))];
    expect(await asTenant(primary.serviceIpAddress, 6378, (c) => c.set('before-upgrade', 'kept'))).toBe('OK');

    // The earlier version's engines: Sentinels stopped first (no failover meanwhile), started last.
    await h.closeService();
    const dirs = new Set(await readdir(join(h.dataDir, 'engines')));
    for (const n of nodeIds) expect(dirs.has(n)).toBe(true);
    for (const n of nodeIds.slice(2)) await stopNode(n);
    for (const n of nodeIds.slice(0, 2)) await stopNode(n);
    for (const n of nodeIds) await startAsEarlierVersion(n, kind);
    // As before: the cluster password could reconfigure everything.
    expect(await asTenant(primary.serviceIpAddress, 6378, (c) => c.config('GET', 'port'))).toEqual(['port', '6378']);
    await waitFor('the replica to sync again', async () => (await asTenant(replica.serviceIpAddress, 6378, (c) => c.info('replication'))).includes('master_link_status:up'), 15_000);
    const pids = await Promise.all(nodeIds.map((n) => readFile(join(h.dataDir, 'engines', n, 'engine.pid'), 'utf8').then((t) => Number(t.trim()))));

    await h.restartService();

    for (const ip of [primary.serviceIpAddress, replica.serviceIpAddress]) {
      expect(await refusal(ip, 6378, 'CONFIG', 'GET', 'port')).toMatch(/^NOPERM /);
      expect(await refusal(ip, 6378, 'REPLICAOF', 'NO', 'ONE')).toMatch(/^NOPERM /);
    }
    for (const ip of sentinelIps) {
      expect(await refusal(ip, 26378, 'SENTINEL', 'SET', name, 'down-after-milliseconds', '100')).toMatch(/^NOPERM /);
      expect(await asTenant(ip, 26378, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))).toEqual([primary.serviceIpAddress, '6378']);
    }
    // Not restarted: the same processes, now recognised without their titles.
    expect(await Promise.all(nodeIds.map((n) => enginePidOf(h.dataDir, n)))).toEqual(pids);
    await h.service.reconciler.check();
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    expect(show.service_state).toBe('RUNNING');
    expect(show.instance_groups.flatMap((g: any) => g.instances).map((i: any) => i.service_state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    const events = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.map((e: any) => e.message);
    expect(events).toContain("5 running engine process(es) moved to the service's own user; the cluster password no longer reconfigures them");
    expect(await asTenant(primary.serviceIpAddress, 6378, (c) => c.get('before-upgrade'))).toBe('kept');

    // The Sentinels, moved to the service's user while running (not restarted), fail over a dead
    // primary: they authenticate to the replica they promote and to each other as the service.
    const sentinelsName = (ip: string) => waitFor(`every Sentinel to name ${ip}`, async () => {
      const named = await Promise.all(sentinelIps.map((s) => asTenant(s, 26378, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).catch(() => []) as Promise<string[]>));
      return named.every((a) => a[0] === ip);
    }, 20_000);
    signal((await enginePidOf(h.dataDir, primary.id))!, 'SIGKILL');
    await sentinelsName(replica.serviceIpAddress);
    expect(((await asTenant(replica.serviceIpAddress, 6378, (c) => c.call('ROLE'))) as string[])[0]).toBe('master');
    expect(await asTenant(replica.serviceIpAddress, 6378, (c) => c.get('before-upgrade'))).toBe('kept');
    // The dead primary is healed back as a replica; then a switchover returns the primary to it.
    await waitFor('the old primary to rejoin as a RUNNING replica', async () => {
      const all = (await h.client.get(`/v1/clusters/${id}`)).body.instance_groups.flatMap((g: any) => g.instances);
      const old = all.find((i: any) => i.name === primary.name);
      return old.role_type === 'REPLICA' && all.every((i: any) => i.service_state === 'RUNNING');
    }, 30_000);
    const sw = await h.client.post(`/v1/clusters/${id}/switchover`, { switch_host_name: primary.name });
    expect(sw.status, JSON.stringify(sw.body)).toBe(202);
    expect(await h.client.waitRequest(sw.body.request_id, 30_000)).toBe('COMPLETED');
    expect(((await asTenant(primary.serviceIpAddress, 6378, (c) => c.call('ROLE'))) as string[])[0]).toBe('master');
    await sentinelsName(primary.serviceIpAddress);
    // A second start finds nothing left to do.
    await h.restartService();
    const again = (await h.client.get(`/v1/clusters/${id}/events`)).body.contents.filter((e: any) => /moved to the service's own user/.test(e.message));
    expect(again).toHaveLength(1);
  });
});
