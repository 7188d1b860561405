// Against a real cluster (KUBECONFIG; run by `npm run test:k8s`, never by the default suite): one
// data node through the Kubernetes driver in a namespace of its own, ready, answering PING as the
// service's user through a port-forward, then removed with its namespace. The cluster needs a
// default StorageClass (or CACHESTORE_K8S_STORAGE_CLASS) and the engine image pullable.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
