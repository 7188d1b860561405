// The whole service with CACHESTORE_DRIVER=kubernetes, through its API, against the FAKE API
// server (test/support/fake-kube-api.ts: no Kubernetes API server can run here) with its FAKE
// kubelet on (runPods): every pod the driver creates runs as local processes of the installed
// engines, bound to its Service's clusterIP, which comes from a loopback subnet (testSubnet()).
// What a user of the API sees: an HA cluster serves the tenant, switches over and fails over with
// every key, the service restarts taking its pods up as they run, takes a verified backup into an
// object store (s3rver), restores it into a new cluster, restores to a second from the write log
// shipped out of the pod, and leaves nothing behind.
// Then, under the driver alone, what the fake kubelet does when an engine ends: an engine that
// cannot start fails its pod (and waitReady says why), and a stop ends it by SIGTERM, so it saves.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKubernetes } from '../../src/drivers/index.js';
import type { KubernetesDriver } from '../../src/drivers/kubernetes/kubernetes-driver.js';
import { freePort } from '../support/child-service.js';
import { dataNode } from '../support/k8s-nodes.js';
import { asTenant, fill, readAll, writeWithinOneSecond } from '../support/dataset.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';
import { startTestS3, type TestS3 } from '../support/s3-server.js';
import { completes, engineVersions, haBody, settle, startHarness, testSubnet, type Harness } from '../support/harness.js';
import { instancesOf, primaryOf } from '../support/observe.js';
import { waitFor } from '../support/writer.js';

const NS = 'cachestore-e2e';

let fake: FakeKubeApi;
let s3: TestS3;
let h: Harness;
let dir: string;

beforeAll(async () => {
  fake = await FakeKubeApi.start();
  fake.runPods = true;
  // Backups in an object store, as the Kubernetes deployment keeps them (s3rver stands in for one).
  s3 = await startTestS3();
  dir = await mkdtemp(join(tmpdir(), 'cachestore-k8s-service-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // The fake speaks plain HTTP, which client-node allows only with this flag.
      clusters: [{ name: 'c', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: NS } }],
      'current-context': 'x',
    }),
  );
  // The driver loads its kubeconfig as in a real deployment (loadFromDefault); each test file is its own process.
  process.env.KUBECONFIG = kubeconfig;
  // Heal a lost node soon after its death is seen; Sentinel's down-after with margin on a loaded machine (ha.test.ts).
  // The configuration refuses a loopback subnet for this driver (no Service CIDR holds one); the
  // fake kubelet needs one, so that its engines can bind their clusterIPs: set after loading.
  const subnet = testSubnet();
  h = await startHarness(
    {
      CACHESTORE_DRIVER: 'kubernetes',
      CACHESTORE_K8S_NAMESPACE: NS,
      CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24',
      CACHESTORE_RECONCILE_INTERVAL_MS: '500',
      CACHESTORE_HEAL_AFTER_MS: '1000',
      CACHESTORE_SENTINEL_DOWN_AFTER_MS: '1500',
      // Write logs read out of the pods and shipped often, for the point-in-time restore.
      CACHESTORE_LOG_SHIP_MS: '300',
      ...s3.env('k8s'),
    },
    { adjustConfig: (c) => (c.subnets = [{ id: 'local-subnet', cidr: subnet }]) },
  );
});
afterAll(async () => {
  try {
    await h?.stop();
  } finally {
    await fake?.close();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

const show = async (id: string) => (await h.client.get(`/v1/clusters/${id}`)).body;

/** The engine pod of a cluster's instance, by the instance's name in Show Cluster. */
async function podOf(clusterId: string, name: string): Promise<string> {
  const instanceId = (await h.service.store.clusterDetail(null, clusterId))!.instances.find((i) => i.name === name)!.id;
  const pod = fake.list('pods', NS).find((p) => p.metadata.labels?.['cachestore.io/instance'] === instanceId && p.metadata.labels?.['cachestore.io/kind'] === 'data');
  if (!pod) throw new Error(`no data pod for instance ${name}`);
  return pod.metadata.name;
}

describe.each(['Redis', 'Valkey'])('%s on the Kubernetes driver, pods run by the fake kubelet', (kind) => {
  it('serves, switches over, fails over, backs up and restores with every key, restores to a second, and terminates leaving nothing', async () => {
    const engine = (await engineVersions(h.client)).find((e) => e.product_image_type.startsWith(kind))!;
    expect(engine, `${kind} is offered`).toBeDefined();
    const { id } = await completes(h.client, 'POST', '/v1/clusters', haBody(engine, 1, { name: `kube${kind.toLowerCase()}` }), 60_000);
    let body = await show(id);
    expect(body.service_state).toBe('RUNNING');
    const first = primaryOf(body)!;
    // The tenant writes at the primary's address: the Service's clusterIP, where its pod's engine listens.
    await fill(first.service_ip_address, 'k', 500);
    const data = await readAll(first.service_ip_address);
    expect(data.size).toBe(500);

    // Switchover: the replica becomes the primary, with every key.
    const replica = instancesOf(body).find((i) => i.role_type === 'REPLICA')!;
    await completes(h.client, 'POST', `/v1/clusters/${id}/switchover`, { switch_host_name: replica.name });
    body = await show(id);
    expect(primaryOf(body)!.name).toBe(replica.name);
    expect(instancesOf(body).find((i) => i.name === first.name)!.role_type).toBe('REPLICA');
    expect(await readAll(replica.service_ip_address)).toEqual(data);

    // Failover: the primary's pod is deleted (as `kubectl delete pod` would); Sentinel promotes
    // the replica, and the service starts the lost node again as a replica.
    const lost = primaryOf(body)!;
    const lostPod = await podOf(id, lost.name);
    const lostUid = fake.get('pods', NS, lostPod)!.metadata.uid;
    const res = await fetch(`${fake.url}/api/v1/namespaces/${NS}/pods/${lostPod}?gracePeriodSeconds=0`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    body = await waitFor(
      'a failover, and the lost node back as a replica',
      async () => {
        const b = await show(id);
        const back = instancesOf(b).find((i) => i.name === lost.name)!;
        return primaryOf(b)?.name === first.name && back.role_type === 'REPLICA' && instancesOf(b).every((i) => i.service_state === 'RUNNING') ? b : undefined;
      },
      45_000,
    );
    expect(await readAll(first.service_ip_address)).toEqual(data);
    // The lost node runs in a new pod (the service launched it again), a replica of the new primary.
    const relaunched = fake.get('pods', NS, lostPod)!.metadata.uid;
    expect(relaunched).not.toBe(lostUid);
    expect(await asTenant(lost.service_ip_address, 6378, async (c) => ((await c.call('ROLE')) as unknown[])[0])).toBe('slave');

    // The service restarts (a new version deployed, say): the pods run on, and it takes them up.
    await h.restartService();
    body = await show(id);
    expect(body.service_state).toBe('RUNNING');
    expect(primaryOf(body)!.name).toBe(first.name);
    expect(fake.get('pods', NS, lostPod)!.metadata.uid).toBe(relaunched);

    // An on-demand backup, verified in a scratch pod.
    const backup = await completes(h.client, 'POST', `/v1/clusters/${id}/backup-histories`, undefined, 60_000);
    const list = (await h.client.get(`/v1/clusters/${id}/backup-histories?limit=1000`)).body.contents;
    const history = list.find((b: any) => b.backup_history_number === backup.id);
    expect(history).toMatchObject({ backup_state: 'COMPLETED' });
    expect(history.backup_state_detail).toMatch(/^verified: 500 keys loaded in a scratch engine, digest [0-9a-f]{40}$/);
    const stored = (await h.service.store.backupsOf(id)).find((b) => b.id === backup.id);
    expect((await s3.bucketClient('k8s').list('')).map((o) => o.key)).toContain(`backups/${stored!.storageKey}`);

    // Restore into a new cluster: every key.
    const restored = await completes(
      h.client,
      'POST',
      `/v1/clusters/${id}/restore`,
      { name: `restored${kind.toLowerCase()}`, instance_name_prefix: 'rst', server_type_name: body.instance_groups[0].server_type_name, backup_history_number: backup.id },
      60_000,
    );
    expect(restored.id).not.toBe(id);
    const copy = await show(restored.id);
    expect(copy.service_state).toBe('RUNNING');
    expect(await readAll(primaryOf(copy)!.service_ip_address)).toEqual(data);

    // Point in time: the write log is read out of the primary's pod and shipped to the bucket; a
    // restore to a second after the backup has what was written up to it and nothing later.
    const primaryIp = primaryOf(await show(id))!.service_ip_address;
    const { second, data: atSecond } = await writeWithinOneSecond(primaryIp, 'pit', 100);
    await fill(primaryIp, 'late', 50);
    const pit = await waitFor(
      'a restore to the second, once its log is shipped',
      async () => {
        const r = await h.client.post(`/v1/clusters/${id}/restore`, { name: `pit${kind.toLowerCase()}`, instance_name_prefix: 'pit', server_type_name: body.instance_groups[0].server_type_name, backup_recovery_time: new Date(second * 1000 + 999).toISOString() });
        return r.status === 202 ? r.body : undefined;
      },
      15_000,
      300,
    );
    await settle(h.client, pit.request_id, pit.resource.id, 60_000);
    expect(await readAll(primaryOf(await show(pit.resource.id))!.service_ip_address)).toEqual(atSecond);
    await completes(h.client, 'DELETE', `/v1/clusters/${pit.resource.id}`);

    // Terminate both: no pod, Secret, PVC, Service or NetworkPolicy is left.
    await completes(h.client, 'DELETE', `/v1/clusters/${restored.id}`);
    await completes(h.client, 'DELETE', `/v1/clusters/${id}`);
    const left = [...fake.objects.entries()].filter(([, o]) => [id, restored.id, pit.resource.id].includes(o.metadata.labels?.['cachestore.io/cluster'] ?? '')).map(([k]) => k);
    expect(left).toEqual([]);
  });
});

describe('the fake kubelet under the driver: what a pod does when its engine ends', () => {
  let kube: FakeKubeApi;
  let driver: KubernetesDriver;
  const prefix = testSubnet().replace(/\.0\/24$/, '');
  const config = loadConfig({ CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24', CACHESTORE_K8S_NAMESPACE: NS });
  beforeAll(async () => {
    kube = await FakeKubeApi.start();
  });
  afterAll(async () => {
    await kube?.close();
  });
  beforeEach(async () => {
    kube.reset();
    kube.runPods = true;
    ({ driver } = await createKubernetes(config, pino({ level: 'silent' }), kube.kubeConfig()));
  });

  it('an engine that cannot start fails its pod, and waitReady says why from the pod log', async () => {
    const n = dataNode({ ip: `${prefix}.21`, port: await freePort() });
    // Its address and port are taken: the engine exits at once.
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(n.port, n.ip, r));
    try {
      await driver.configure(n);
      await driver.launch(n);
      await expect(driver.waitReady(n, 20_000)).rejects.toThrow(/redis engine exited while starting \(pod cs-\w+ Failed\): .*(Address already in use|Could not create server TCP listening socket)/);
      expect(await driver.isRunning(n)).toBe(false);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('stop with save ends the engine by SIGTERM; the pod is gone once it exited, and its data is there at the next launch', async () => {
    const n = dataNode({ ip: `${prefix}.22`, port: await freePort() });
    await driver.configure(n);
    await driver.launch(n);
    await driver.waitReady(n, 20_000);
    const ep = { host: n.ip, port: n.port, password: n.password };
    await withTenant(ep, (c) => c.set('kept', 'across a stop'));
    const lines: string[] = [];
    const unfollow = driver.followLog(n, (l) => lines.push(...l));
    try {
      // Lines from now on (tailLines=0): wait until the stream is open.
      await waitFor('the pod log stream', async () => kube.requests.some((r) => r.resource === 'pods/log' && r.query.get('follow') === 'true'), 10_000);
      await new Promise((r) => setTimeout(r, 100));
      await driver.stop(n, { save: true });
    } finally {
      unfollow();
    }
    expect(kube.get('pods', NS, `cs-${n.nodeId}`)).toBeUndefined();
    // The engine was told to end (SIGTERM) and saved before it exited: a SIGKILL logs nothing.
    expect(lines.join('\n')).toMatch(/Received SIGTERM/);
    expect(lines.join('\n')).toMatch(/ready to exit, bye bye/);
    await driver.launch(n);
    await driver.waitReady(n, 20_000);
    expect(await withTenant(ep, (c) => c.get('kept'))).toBe('across a stop');
    // The new pod's log is its own.
    expect(kube.podLogs.get(`cs-${n.nodeId}`) ?? '').not.toMatch(/Received SIGTERM/);
    await driver.removeData(n);
    expect(kube.objects.size).toBe(0);
  });
});

function withTenant<T>(ep: { host: string; port: number; password: string }, fn: (c: Redis) => Promise<T>): Promise<T> {
  return asTenant(ep.host, ep.port, fn, ep.password);
}
