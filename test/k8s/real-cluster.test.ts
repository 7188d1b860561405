// Against a real cluster (KUBECONFIG; run by `npm run test:k8s`, never by the default suite): one
// data node through the Kubernetes driver in a namespace of its own, ready, answering PING as the
// service's user through a port-forward, then removed with its namespace; and a backup of a node
// stored, verified in a scratch pod and restored into a new node's PVC. The cluster needs a
// default StorageClass (or CACHESTORE_K8S_STORAGE_CLASS), the engine image pullable, and an API
// server that speaks v5.channel.k8s.io (Kubernetes 1.30 or later).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalBackupStorage } from '../../src/backups/storage.js';
import { loadConfig } from '../../src/config.js';
import type { Driver, NodeSpec } from '../../src/drivers/driver.js';
import { createKubernetes } from '../../src/drivers/index.js';
import { objectNames } from '../../src/drivers/kubernetes/manifests.js';
import { SERVICE_USER } from '../../src/engines/acl.js';
import { ping } from '../../src/engines/client.js';
import { dataNode } from '../support/k8s-nodes.js';

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const namespace = `cachestore-e2e-${randomBytes(4).toString('hex')}`;
let driver: Driver;
let node: NodeSpec;
let forward: Server | undefined;
const forwards: Server[] = [];
const extraNodes: NodeSpec[] = [];
let work: string | undefined;

/** A clusterIP the cluster will give: one it just gave a throwaway Service (the Service CIDR is not readable through the API). */
async function freeClusterIp(): Promise<string> {
  const svc = await core.createNamespacedService({ namespace, body: { metadata: { name: 'probe-ip' }, spec: { ports: [{ port: 1 }] } } });
  await core.deleteNamespacedService({ name: 'probe-ip', namespace });
  return svc.spec!.clusterIP!;
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const ip = await freeClusterIp();
  const subnet = `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  const config = loadConfig({ ...process.env, CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_K8S_NAMESPACE: namespace, CACHESTORE_SUBNETS: `local-subnet=${subnet}` });
  ({ driver } = await createKubernetes(config, pino({ level: 'silent' }), kc));
  node = dataNode({ ip, volumeGb: 1, password: randomBytes(12).toString('hex'), serviceSecret: randomBytes(32).toString('hex') });
});

afterAll(async () => {
  forward?.close();
  for (const f of forwards) f.close();
  for (const n of extraNodes) await driver.removeData(n).catch((err: unknown) => console.error(`removing node ${n.nodeId} failed:`, err));
  if (work) await rm(work, { recursive: true, force: true });
  if (node) await driver.removeData(node).catch((err: unknown) => console.error('removing the node failed:', err));
  await core.deleteNamespace({ name: namespace }).catch((err: unknown) => console.error(`deleting namespace ${namespace} failed:`, err));
});

it('runs a data node that answers PING to the service user, and removes it', async () => {
  await driver.configure(node);
  await driver.launch(node);
  await driver.waitReady(node, 300_000);
  expect(await driver.isHealthy(node)).toBe(true);

  // A local port forwarded to the pod's engine port.
  const pf = new PortForward(kc);
  forward = createServer((socket) => void pf.portForward(namespace, objectNames(node).pod, [node.port], socket, null, socket));
  await new Promise<void>((r) => forward!.listen(0, '127.0.0.1', r));
  const local = (forward.address() as AddressInfo).port;
  expect(await ping({ host: '127.0.0.1', port: local, username: SERVICE_USER, password: node.serviceSecret }, 10_000)).toBe(true);
  // The tenant's password is not the service's: the service user with a wrong secret is refused.
  expect(await ping({ host: '127.0.0.1', port: local, username: SERVICE_USER, password: 'wrong' }, 10_000)).toBe(false);

  await driver.kill(node);
  expect(await driver.isRunning(node)).toBe(false);
  await driver.removeData(node);
  const left = await core.listNamespacedPersistentVolumeClaim({ namespace });
  expect(left.items).toEqual([]);
});

/** A local port forwarded to the node's pod's engine port. */
async function forwardTo(n: NodeSpec): Promise<number> {
  const pf = new PortForward(kc);
  const server = createServer((socket) => void pf.portForward(namespace, objectNames(n).pod, [n.port], socket, null, socket));
  forwards.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function serviceClient(local: number, n: NodeSpec): Promise<Redis> {
  const c = new Redis({ host: '127.0.0.1', port: local, username: SERVICE_USER, password: n.serviceSecret, lazyConnect: true, maxRetriesPerRequest: 1 });
  await c.connect();
  return c;
}

it('backs a node up (exec out of its pod), verifies the copy in a scratch pod and restores it into a new node', async () => {
  const source = dataNode({ instanceId: randomBytes(16).toString('hex'), ip: await freeClusterIp(), volumeGb: 1, password: randomBytes(12).toString('hex'), serviceSecret: randomBytes(32).toString('hex') });
  extraNodes.push(source);
  await driver.configure(source);
  await driver.launch(source);
  await driver.waitReady(source, 300_000);
  const local = await forwardTo(source);
  const c = await serviceClient(local, source);
  await c.set('backed-up', 'yes');
  await c.hset('h', { a: '1' });
  c.disconnect();

  work = await mkdtemp(join(tmpdir(), 'cachestore-k8s-backup-'));
  const storage = new LocalBackupStorage(join(work, 'backups'), join(work, 'wal-archive'));
  const id = randomBytes(16).toString('hex');
  // The rewrite is asked over the wire: from outside the cluster, through the port-forward.
  const snap = await driver.snapshot({ ...source, ip: '127.0.0.1', port: local }, id, storage);
  expect(snap.log).toEqual({ name: `${source.clusterId}/${id}.incr.aof` });
  const key = `${source.clusterId}/${id}.rdb`;
  const stored = await driver.storeSnapshot(id, storage, key);
  expect(stored.sizeBytes).toBeGreaterThan(0);
  const v = await driver.verifySnapshot(id, source.engine, storage, key, { resumed: false });
  expect(v.keys).toBe(2);
  await driver.discardSnapshot(id);
  // A write after the snapshot reaches the backup's log, read out of the pod.
  const w = await serviceClient(local, source);
  await w.set('after-snapshot', 'yes');
  w.disconnect();
  await new Promise((r) => setTimeout(r, 1500));
  expect(await driver.shipLogs(storage)).toBeGreaterThan(0);
  expect((await storage.logs.state(`${source.clusterId}/${id}.incr.aof`))?.live).toBe(true);
  expect((await core.listNamespacedPod({ namespace })).items.map((p) => p.metadata?.name).filter((n) => n?.startsWith('cs-verify-'))).toEqual([]);

  const target = dataNode({ instanceId: randomBytes(16).toString('hex'), ip: await freeClusterIp(), volumeGb: 1, password: source.password, serviceSecret: randomBytes(32).toString('hex') });
  extraNodes.push(target);
  await driver.configure(target);
  await driver.importBackup(target, { storage, key, sha256: v.sha256, log: null });
  await driver.launch(target);
  await driver.waitReady(target, 300_000);
  const t = await serviceClient(await forwardTo(target), target);
  expect(await t.get('backed-up')).toBe('yes');
  expect(await t.hgetall('h')).toEqual({ a: '1' });
  t.disconnect();

  await driver.kill(target);
  const state = await driver.persistedState(target);
  expect(state.hasData).toBe(true);
});
