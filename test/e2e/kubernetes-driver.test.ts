// The Kubernetes driver against a FAKE API server (test/support/fake-kube-api.ts): no Kubernetes
// API server can run here. The fake validates every object written against the Kubernetes
// schemas, so each test here also proves the driver's manifests valid. The real-cluster test is
// test/k8s/real-cluster.test.ts (npm run test:k8s).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKubernetes } from '../../src/drivers/index.js';
import { KUBE_PERMISSIONS } from '../../src/drivers/kubernetes/kube-api.js';
import type { KubernetesDriver, KubernetesFirewall } from '../../src/drivers/kubernetes/kubernetes-driver.js';
import { LABEL } from '../../src/drivers/kubernetes/manifests.js';
import { freePort } from '../support/child-service.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';
import { CLUSTER_ID, dataNode, PASSWORD, SERVICE_SECRET, sentinelBeside } from '../support/k8s-nodes.js';

const NS = 'cachestore-test';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quiet = pino({ level: 'silent' });
const config = loadConfig({ CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24', CACHESTORE_K8S_NAMESPACE: NS, CACHESTORE_K8S_STORAGE_CLASS: 'expandable' });

let fake: FakeKubeApi;
let driver: KubernetesDriver;
let firewall: KubernetesFirewall;
const data = dataNode();
const sentinel = sentinelBeside(data);

beforeAll(async () => {
  fake = await FakeKubeApi.start();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  fake.reset();
  ({ driver, firewall } = await createKubernetes(config, quiet, fake.kubeConfig()));
});

/** Every object the fake holds for the test cluster, as `resource/name`. */
function clusterObjects(): string[] {
  return [...fake.objects.entries()].filter(([, o]) => o.metadata.labels?.[LABEL.cluster] === CLUSTER_ID).map(([k]) => k.replace(`/${NS}/`, '/')).sort();
}

async function bringUp(): Promise<void> {
  for (const n of [data, sentinel]) {
    await driver.configure(n);
    await driver.launch(n);
    await driver.waitReady(n, 5000);
  }
}

describe('Kubernetes driver against a fake API server', () => {
  it('configure and launch make a node\'s Secret, claim, pod, and one Service for the instance', async () => {
    await bringUp();
    expect(clusterObjects()).toEqual([
      `persistentvolumeclaims/cs-${data.nodeId}`,
      `pods/cs-${data.nodeId}`,
      `pods/cs-${sentinel.nodeId}`,
      `secrets/cs-${data.nodeId}`,
      `secrets/cs-${sentinel.nodeId}`,
      `services/cs-${data.instanceId}`,
    ]);
    const svc = fake.get('services', NS, `cs-${data.instanceId}`)!;
    expect(svc.spec.clusterIP).toBe('10.96.200.11');
    expect(svc.spec.ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`)).toEqual(['data:6379', 'sentinel:26379']);
    expect(fake.get('persistentvolumeclaims', NS, `cs-${data.nodeId}`)!.spec.resources.requests.storage).toBe('16Gi');
    expect(await driver.isRunning(data)).toBe(true);
    expect(await driver.isHealthy(sentinel)).toBe(true);
    // The Sentinel's rewritten config reaches the Secret on the next configure (a topology change).
    await driver.configure({ ...sentinel, sentinel: { ...sentinel.sentinel!, master: { ip: '10.96.200.12', port: 6379 } } });
    const conf = Buffer.from(fake.get('secrets', NS, `cs-${sentinel.nodeId}`)!.data['engine.conf'], 'base64').toString();
    expect(conf).toContain('sentinel monitor cluster-one 10.96.200.12 6379 2');
    // Configure and launch again change nothing (a resumed request).
    const before = fake.requests.filter((r) => r.method === 'POST').length;
    await driver.launch(data);
    expect(fake.requests.filter((r) => r.method === 'POST').length).toBe(before);
  });

  it('an address held by any Service in the namespace is not free', async () => {
    expect(await driver.isAddressFree('10.96.200.11', 6379)).toBe(true);
    await driver.configure(data);
    expect(await driver.isAddressFree('10.96.200.11', 26379)).toBe(false);
    expect(await driver.isAddressFree('10.96.200.12', 6379)).toBe(true);
  });

  it('new instances get the lowest clusterIPs of the subnet no Service holds, from one list of Services', async () => {
    await driver.configure(data);
    fake.requests.length = 0;
    const subnet = { id: 'local-subnet', cidr: '10.96.200.0/24' };
    const wanted = [{ requestedIp: null, ports: [6379, 26379] }, { requestedIp: null, ports: [6379, 26379] }];
    // .11 is the data node's Service; .1 is held in the store (say, a stopped cluster's instance).
    expect(await driver.allocateAddresses(subnet, wanted, new Set(['10.96.200.1']))).toEqual({ ok: true, addresses: ['10.96.200.2', '10.96.200.3'] });
    expect(await driver.allocateAddresses(subnet, [{ requestedIp: '10.96.200.11', ports: [6379] }], new Set())).toEqual({ ok: false, index: 0, why: 'requested-in-use' });
    expect(fake.requests.filter((r) => r.resource === 'services').map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('waitReady says why a pod did not come up, from its log, without secrets', async () => {
    fake.newPods = 'pending';
    await driver.configure(data);
    await driver.launch(data);
    // Its container not started yet (the API answers 400 for its log): no log, no error.
    expect(await driver.lastLogLines(data, 3)).toEqual([]);
    await expect(driver.waitReady(data, 300)).rejects.toThrow(/did not become ready within 300 ms \(pod Pending\): no output/);
    fake.podLogs.set(`cs-${data.nodeId}`, `1:M Server initialized\n1:M # Bad directive or wrong number of arguments (requirepass ${PASSWORD} ${SERVICE_SECRET})\n`);
    await expect(driver.waitReady(data, 600)).rejects.toThrow(/did not become ready within 600 ms \(pod Pending\): .*Bad directive/);
    await expect(driver.waitReady(data, 600)).rejects.not.toThrow(new RegExp(PASSWORD));
    expect(await driver.isRunning(data)).toBe(false);
    fake.setPodStatus(NS, `cs-${data.nodeId}`, 'Failed', false);
    await expect(driver.waitReady(data, 5000)).rejects.toThrow(/exited while starting \(pod cs-\w+ Failed\)/);
    expect(await driver.lastLogLines(data, 1)).toEqual(['1:M # Bad directive or wrong number of arguments (requirepass *** ***)']);
    // A launch replaces the failed pod with a new one.
    fake.newPods = 'ready';
    await driver.launch(data);
    await driver.waitReady(data, 5000);
    expect(await driver.isHealthy(data)).toBe(true);
  });

  it('followLog pushes the engine\'s new log lines, masked, across a replaced pod, until stopped', async () => {
    await bringUp();
    const pod = `cs-${data.nodeId}`;
    fake.appendPodLog(pod, '1:M * Ready to accept connections tcp\n');
    const seen: string[] = [];
    const stop = driver.followLog(data, (lines) => seen.push(...lines));
    const until = async (n: number) => {
      for (let i = 0; seen.length < n && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
    };
    // Wait for the stream to open (the fake counts its requests), then log.
    for (let i = 0; !fake.requests.some((r) => r.resource === 'pods/log' && r.query.get('follow') === 'true') && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
    fake.appendPodLog(pod, `1:M # Write error saving DB on disk: No space left on device (${PASSWORD})\n`);
    await until(1);
    expect(seen).toEqual(['1:M # Write error saving DB on disk: No space left on device (***)']);
    // The pod replaced (a kill and a launch): the stream is opened again on the new pod.
    await driver.kill(data);
    await driver.launch(data);
    fake.podLogs.delete(pod);
    fake.appendPodLog(pod, '1:M * Background saving terminated with success\n');
    await until(2);
    expect(seen[1]).toBe('1:M * Background saving terminated with success');
    stop();
    await new Promise((r) => setTimeout(r, 300));
    fake.appendPodLog(pod, '1:M * after stop\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(2);
  });

  it('kill and stop delete the pod (at once, or with time to save) and keep the data and config', async () => {
    await bringUp();
    await driver.kill(data);
    await driver.stop(sentinel, { save: false });
    const deletes = fake.requests.filter((r) => r.method === 'DELETE' && r.resource === 'pods');
    expect(deletes.map((r) => [r.name, r.query.get('gracePeriodSeconds')])).toEqual([[`cs-${data.nodeId}`, '0'], [`cs-${sentinel.nodeId}`, '1']]);
    expect(await driver.isRunning(data)).toBe(false);
    expect(clusterObjects().filter((k) => k.startsWith('pods/'))).toEqual([]);
    expect(clusterObjects()).toContain(`persistentvolumeclaims/cs-${data.nodeId}`);
    await driver.launch(data);
    await driver.stop(data, { save: true });
    expect(fake.requests.at(-2)).toMatchObject({ method: 'DELETE', name: `cs-${data.nodeId}` });
    expect(fake.requests.filter((r) => r.method === 'DELETE').at(-1)!.query.get('gracePeriodSeconds')).toBe('60');
    // Stopping what does not run is fine (idempotent).
    await driver.stop(data, { save: true });
    await driver.kill(data);
  });

  it('a block storage resize patches the claim\'s requested size, and never shrinks it', async () => {
    await bringUp();
    expect(await driver.growVolume({ ...data, volumeGb: 32 })).toBe(true);
    const patch = fake.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.contentType).toContain('application/json-patch+json');
    expect(fake.get('persistentvolumeclaims', NS, `cs-${data.nodeId}`)!.spec.resources.requests.storage).toBe('32Gi');
    expect(await driver.growVolume({ ...data, volumeGb: 16 })).toBe(true);
    expect(fake.get('persistentvolumeclaims', NS, `cs-${data.nodeId}`)!.spec.resources.requests.storage).toBe('32Gi');
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(await driver.growVolume(sentinel)).toBe(false);
  });

  it('reads a data volume\'s size and free space in its pod, and the claim\'s size, at most every few seconds', async () => {
    await bringUp();
    const usage = await driver.volumeUsage(data);
    // The fake's claim is a directory on this machine's filesystem: df in the "pod" reads that one.
    const fs = await statfs(fake.volumeDir(NS, `cs-${data.nodeId}`));
    expect(usage).toEqual({ deviceBytes: 16 * 2 ** 30, totalBytes: expect.any(Number), freeBytes: expect.any(Number) });
    expect(Math.abs(usage!.totalBytes - fs.blocks * fs.bsize)).toBeLessThan(2 ** 20);
    expect(Math.abs(usage!.freeBytes - fs.bavail * fs.bsize)).toBeLessThan(64 * 2 ** 20);
    const execs = fake.execs.length;
    await driver.volumeUsage(data);
    expect(fake.execs.length).toBe(execs);
    // Growing reads afresh: the claim's new size.
    await driver.growVolume({ ...data, volumeGb: 32 });
    expect((await driver.volumeUsage({ ...data, volumeGb: 32 }))!.deviceBytes).toBe(32 * 2 ** 30);
    expect(fake.execs.length).toBe(execs + 1);
    expect(await driver.volumeUsage(sentinel)).toBeNull();
    // A claim whose engine does not run: nothing to exec in.
    const idle = dataNode({ instanceId: 'd0000000000000000000000000000002', ip: '10.96.200.12' });
    await driver.configure(idle);
    expect(await driver.volumeUsage(idle)).toBeNull();
  });

  it('the allow-list becomes a NetworkPolicy, replaced on change and removed with the list', async () => {
    const access = { clusterId: CLUSTER_ID, allowed: ['192.168.10.0/24', '127.0.0.1/32'], endpoints: [{ ip: data.ip, port: 6379 }, { ip: data.ip, port: 26379 }] };
    expect(firewall.unavailable).toBeNull();
    await firewall.apply([access]);
    const name = `cs-allow-${CLUSTER_ID}`;
    expect(fake.get('networkpolicies', NS, name)!.spec.ingress[0].from[0]).toEqual({ ipBlock: { cidr: '192.168.10.0/24' } });
    await firewall.apply([{ ...access, allowed: ['172.16.0.0/12'] }]);
    expect(fake.get('networkpolicies', NS, name)!.spec.ingress[0].from[0]).toEqual({ ipBlock: { cidr: '172.16.0.0/12' } });
    await firewall.apply([]);
    expect(fake.list('networkpolicies', NS)).toEqual([]);
  });

  it('terminate (removeData of every node) leaves nothing of the cluster', async () => {
    await bringUp();
    await firewall.apply([{ clusterId: CLUSTER_ID, allowed: ['192.168.10.0/24'], endpoints: [{ ip: data.ip, port: 6379 }] }]);
    await driver.removeData(data);
    // The Service keeps the Sentinel's port until the Sentinel goes too.
    expect(fake.get('services', NS, `cs-${data.instanceId}`)!.spec.ports.map((p: { name: string }) => p.name)).toEqual(['sentinel']);
    await driver.removeData(sentinel);
    await firewall.apply([]);
    expect(clusterObjects()).toEqual([]);
    expect(fake.objects.size).toBe(0);
    await driver.removeData(sentinel);
  });

  it('refusals and failures of the API surface as one clear message', async () => {
    await driver.configure(data);
    fake.fail('POST', 'pods', 403, 'pods is forbidden: User "system:serviceaccount:cachestore-test:cachestore" cannot create resource "pods"');
    await expect(driver.launch(data)).rejects.toThrow(
      `Kubernetes API refused to create pods cs-${data.nodeId} in namespace ${NS}: HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:cachestore-test:cachestore" cannot create resource "pods" (the service account lacks this permission: see deploy/kubernetes/rbac.yaml)`,
    );
    fake.fail('PATCH', 'persistentvolumeclaims', 500, 'etcdserver: request timed out');
    await expect(driver.growVolume({ ...data, volumeGb: 64 })).rejects.toThrow(/refused to patch persistentvolumeclaims cs-\w+ in namespace cachestore-test: HTTP 500 InternalError: etcdserver: request timed out/);
    // A concurrent change to the Service: the update is refused with 409, not silently lost.
    fake.fail('PUT', 'services', 409, 'Operation cannot be fulfilled on services: the object has been modified');
    await expect(driver.configure(sentinel)).rejects.toThrow(/refused to update services cs-\w+ .*HTTP 409 AlreadyExists: Operation cannot be fulfilled/);
    // A clusterIP another Service holds: the server's 422 names it.
    await expect(driver.configure(dataNode({ instanceId: 'd0000000000000000000000000000002' }))).rejects.toThrow(/HTTP 422 Invalid: .*provided IP is already allocated/);
    // A pod created by a racing launch of the same node (409 on create) is that node's engine.
    fake.fail('POST', 'pods', 409, 'pods "x" already exists');
    await expect(driver.launch(data)).resolves.toBeUndefined();
  });

  it('refused at start (no RBAC) it says so, naming the Role to fix', async () => {
    fake.fail('GET', 'pods', 403, 'pods is forbidden: User "system:anonymous" cannot list resource "pods"');
    await expect(createKubernetes(config, quiet, fake.kubeConfig())).rejects.toThrow(
      `CACHESTORE_DRIVER=kubernetes: the Kubernetes API at ${fake.url} cannot be used: Kubernetes API refused to list pods in namespace ${NS}: HTTP 403 Forbidden: pods is forbidden: User "system:anonymous" cannot list resource "pods" (the service account lacks this permission: see deploy/kubernetes/rbac.yaml)`,
    );
  });

  it('every call the driver made is one KUBE_PERMISSIONS (and so the RBAC Role) grants', async () => {
    await bringUp();
    await driver.isAddressFree('10.96.200.11', 6379);
    await driver.lastLogLines(data, 5);
    await driver.growVolume({ ...data, volumeGb: 20 });
    await driver.configure({ ...sentinel, port: 26380 });
    await firewall.apply([{ clusterId: CLUSTER_ID, allowed: ['192.168.10.0/24'], endpoints: [{ ip: data.ip, port: 6379 }] }]);
    await firewall.apply([{ clusterId: CLUSTER_ID, allowed: ['192.168.11.0/24'], endpoints: [{ ip: data.ip, port: 6379 }] }]);
    await driver.stop(data, { save: true });
    await driver.removeData(data);
    await driver.removeData(sentinel);
    await firewall.apply([]);
    const verbOf = (r: { method: string; name?: string }) => ({ GET: r.name ? 'get' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' })[r.method]!;
    const used = new Set(fake.requests.map((r) => `${r.resource}:${verbOf(r)}`));
    const granted = new Set(KUBE_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${p.resource}:${v}`)));
    expect([...used].filter((u) => !granted.has(u))).toEqual([]);
    // And the list is not wider than the driver's use; what only backups use is checked by
    // kubernetes-backups.test.ts, which runs them with real engines.
    const backupsOnly = ['pods/exec:create', 'pods/exec:get', 'persistentvolumeclaims:list'];
    expect([...granted].filter((g) => !used.has(g) && !backupsOnly.includes(g))).toEqual([]);
  });
});

describe('the service with CACHESTORE_DRIVER=kubernetes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachestore-k8s-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the service until it says it listens, or exits; returns its output and exit code (null: it was listening). */
  async function run(kubeconfig: string): Promise<{ code: number | null; output: string }> {
    const port = await freePort();
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        KUBECONFIG: kubeconfig,
        CACHESTORE_DRIVER: 'kubernetes',
        CACHESTORE_K8S_NAMESPACE: NS,
        CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24',
        CACHESTORE_DATA_DIR: join(dir, 'data'),
        CACHESTORE_LISTEN: `127.0.0.1:${port}`,
        CACHESTORE_ACCESS_KEY: 'k8s-key',
        CACHESTORE_SECRET_KEY: 'k8s-secret-value',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      return await new Promise((resolve) => {
        child.once('exit', (code) => resolve({ code, output }));
        const poll = setInterval(() => {
          if (/Server listening/.test(output)) {
            clearInterval(poll);
            resolve({ code: null, output });
          }
        }, 50);
        child.once('exit', () => clearInterval(poll));
      });
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    }
  }

  async function kubeconfigFile(server: string): Promise<string> {
    const file = join(dir, 'kubeconfig');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // The fake speaks plain HTTP, which client-node allows only with this flag.
        clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: NS } }],
        'current-context': 'x',
      }),
    );
    return file;
  }

  it('starts against the API it is given, and the allow-list rebuild goes through it', async () => {
    fake.requests.length = 0;
    const r = await run(await kubeconfigFile(fake.url));
    expect(r.code, r.output).toBeNull();
    expect(r.output).toContain('engines run as pods in Kubernetes');
    expect(fake.requests.map((q) => `${q.method} ${q.resource}`)).toEqual(expect.arrayContaining(['GET pods', 'GET networkpolicies']));
  });

  it('without a reachable API it ends the start with a clear message, not a stack trace', async () => {
    const unused = await freePort();
    const r = await run(await kubeconfigFile(`http://127.0.0.1:${unused}`));
    expect(r.code).toBe(1);
    expect(r.output).toContain(`configuration error: CACHESTORE_DRIVER=kubernetes: the Kubernetes API at http://127.0.0.1:${unused} cannot be used: Kubernetes API at http://127.0.0.1:${unused} did not answer to list pods in namespace ${NS}`);
    expect(r.output).not.toMatch(/^\s+at /m);
  });
});
