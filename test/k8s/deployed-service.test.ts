// Against the service deployed on a real cluster from deploy/kubernetes (run by `npm run test:k8s`,
// never by the default suite): the same API behaviour as with local engines, through the API of a
// service pod reached by a port-forward. An HA cluster is created, takes writes, is switched over,
// fails over when its primary's pod is deleted, is backed up and restored into a new cluster with
// every key; both clusters are terminated at the end. Needs the bootstrap credential of the
// deployment (secret.yaml) in CACHESTORE_K8S_E2E_ACCESS_KEY / CACHESTORE_K8S_E2E_SECRET_KEY;
// without them it is skipped, saying so. The engines are reached the same way, by port-forwards to
// their pods, with the tenant's password.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../src/drivers/kubernetes/manifests.js';
import { SignedClient } from '../support/client.js';
import { connectTo, readAll } from '../support/dataset.js';
import { haBody, settle } from '../support/harness.js';

const accessKey = process.env.CACHESTORE_K8S_E2E_ACCESS_KEY;
const secretKey = process.env.CACHESTORE_K8S_E2E_SECRET_KEY;
const namespace = process.env.CACHESTORE_K8S_E2E_NAMESPACE ?? 'cachestore';
const subnet = process.env.CACHESTORE_K8S_E2E_SUBNET ?? 'local-subnet';
if (!accessKey || !secretKey) {
  console.log('NOT RUN: deployed-service.test.ts needs CACHESTORE_K8S_E2E_ACCESS_KEY and CACHESTORE_K8S_E2E_SECRET_KEY (the deployment\'s bootstrap credential)');
}

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const forwards: Server[] = [];
const clusters: string[] = [];
let api: SignedClient;

/** A local port forwarded to `port` of the pod. */
async function forward(pod: string, port: number): Promise<number> {
  const pf = new PortForward(kc);
  const server = createServer((socket) => void pf.portForward(namespace, pod, [port], socket, null, socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  forwards.push(server);
  return (server.address() as AddressInfo).port;
}

/** The data node's pod of the instance at `ip`: its Service holds that clusterIP. */
async function podAt(clusterId: string, ip: string): Promise<string> {
  const services = await core.listNamespacedService({ namespace, labelSelector: `${LABEL.cluster}=${clusterId}` });
  const svc = services.items.find((s) => s.spec?.clusterIP === ip);
  const instance = svc?.metadata?.labels?.[LABEL.instance];
  if (!instance) throw new Error(`no Service of cluster ${clusterId} holds ${ip}`);
  return `cs-${instance}`;
}

interface Shown {
  state: string;
  primary: { name: string; ip: string } | null;
  replicas: Array<{ name: string; ip: string }>;
}

async function show(id: string): Promise<Shown> {
  const r = await api.get(`/v1/clusters/${id}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const all = r.body.instance_groups.flatMap((g: any) => g.instances);
  const pick = (i: any) => ({ name: i.name as string, ip: i.service_ip_address as string });
  const primary = all.find((i: any) => i.role_type === 'MASTER');
  return { state: r.body.service_state, primary: primary ? pick(primary) : null, replicas: all.filter((i: any) => i.role_type === 'REPLICA').map(pick) };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function keysAt(clusterId: string, ip: string): Promise<Map<string, unknown>> {
  return readAll('127.0.0.1', await forward(await podAt(clusterId, ip), 6378));
}

describe.skipIf(!accessKey || !secretKey)('the service deployed on a real cluster (deploy/kubernetes)', () => {
  beforeAll(async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/name=cachestore' });
    const pod = pods.items.find((p) => p.status?.phase === 'Running');
    if (!pod?.metadata?.name) throw new Error(`no running service pod in namespace ${namespace}: apply deploy/kubernetes first (README, Deploying the service on Kubernetes)`);
    api = new SignedClient(`http://127.0.0.1:${await forward(pod.metadata.name, 8080)}`, { accessKey: accessKey!, secretKey: secretKey! });
  });

  afterAll(async () => {
    for (const id of clusters) {
      const r = await api?.delete(`/v1/clusters/${id}`).catch((err: unknown) => ({ status: 0, body: String(err) }));
      if (r && r.status !== 202) console.error(`terminating cluster ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    for (const s of forwards) s.close();
  });

  it('creates an HA cluster, switches it over, fails it over, backs it up and restores it with every key', async () => {
    const versions = await api.get('/v1/engine-versions');
    expect(versions.status).toBe(200);
    const engine = versions.body.contents.find((e: any) => e.product_image_type.startsWith('Redis')) ?? versions.body.contents[0];
    const redis = engine.product_image_type.startsWith('Redis');
    // Cluster names are letters only (the contract); the same letters prefix the instances.
    const name = `e${[...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;
    const created = await api.post('/v1/clusters', haBody(engine, 1, { name, instance_name_prefix: name, subnet_id: subnet }));
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const id = created.body.resource.id as string;
    clusters.push(id);
    // Pulling images and binding volumes on a fresh cluster take minutes.
    await settle(api, created.body.request_id, id, 900_000);
    let c = await show(id);
    expect(c.state).toBe('RUNNING');
    expect(c.replicas).toHaveLength(1);

    // Writes on the primary reach the replica.
    const writer = connectTo('127.0.0.1', await forward(await podAt(id, c.primary!.ip), 6378));
    await writer.connect();
    for (let i = 0; i < 500; i++) await writer.set(`k:${i}`, randomBytes(16).toString('hex'));
    writer.disconnect();
    const written = await keysAt(id, c.primary!.ip);
    expect(written.size).toBe(500);
    await until('replication of 500 keys', 60_000, async () => (await keysAt(id, c.replicas[0].ip)).size === 500);

    // Switchover to the replica: the roles swap, every key is there.
    const target = c.replicas[0];
    const sw = await api.post(`/v1/clusters/${id}/switchover`, { switch_host_name: target.name });
    expect(sw.status, JSON.stringify(sw.body)).toBe(202);
    await settle(api, sw.body.request_id, id, 300_000);
    c = await show(id);
    expect(c.primary?.name).toBe(target.name);
    expect(await keysAt(id, c.primary!.ip)).toEqual(written);

    // Failover: the primary's pod is deleted at once; Sentinel promotes the other, the service
    // starts the lost node again as a replica.
    const lost = c.primary!;
    await core.deleteNamespacedPod({ name: await podAt(id, lost.ip), namespace, gracePeriodSeconds: 0 });
    c = await until('a failover', 300_000, async () => {
      const s = await show(id);
      return s.state === 'RUNNING' && s.primary && s.primary.name !== lost.name && s.replicas.some((r) => r.name === lost.name) ? s : null;
    });
    expect(await keysAt(id, c.primary!.ip)).toEqual(written);

    // A backup, verified, restored into a new cluster with every key.
    const b = await api.post(`/v1/clusters/${id}/backup-histories`);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    await settle(api, b.body.request_id, id, 900_000);
    const r = await api.post(`/v1/clusters/${id}/restore`, {
      name: `${name}r`,
      instance_name_prefix: `${name}r`,
      server_type_name: redis ? 'redis1v1m2' : 'css1v1m2',
      backup_history_number: b.body.resource.id,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    clusters.push(r.body.resource.id);
    await settle(api, r.body.request_id, r.body.resource.id, 900_000);
    const restored = await show(r.body.resource.id);
    expect(restored.state).toBe('RUNNING');
    expect(await keysAt(r.body.resource.id, restored.primary!.ip)).toEqual(written);
  });
});
