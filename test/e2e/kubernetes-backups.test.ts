// Backups, verification, restores and persisted state of the Kubernetes driver, end to end
// against the FAKE API server (test/support/fake-kube-api.ts: no Kubernetes API server can run
// here) with real engines. The fake runs exec'd commands as local processes with each PVC a
// local directory; a real redis-server / valkey-server started by the test stands in for a
// node's engine pod: it runs the pod's own configuration (engineConfigFor) on a loopback address
// of testSubnet(), its `dir` the fake's directory for the node's PVC.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Transform, type Readable } from 'node:stream';
import { LocalBackupStorage, type BackupStorage } from '../../src/backups/storage.js';
import { loadConfig } from '../../src/config.js';
import { endpointOf, type NodeSpec } from '../../src/drivers/driver.js';
import { createKubernetes } from '../../src/drivers/index.js';
import { KUBE_PERMISSIONS } from '../../src/drivers/kubernetes/kube-api.js';
import type { KubernetesDriver } from '../../src/drivers/kubernetes/kubernetes-driver.js';
import { engineConfigFor, LABEL, scratchPodOf } from '../../src/drivers/kubernetes/manifests.js';
import { ping } from '../../src/engines/client.js';
import type { EngineKind } from '../../src/domain/model.js';
import { freePort } from '../support/child-service.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';
import { testSubnet } from '../support/harness.js';
import { CLUSTER_ID, dataNode, sentinelBeside } from '../support/k8s-nodes.js';

const NS = 'cachestore-test';
const quiet = pino({ level: 'silent' });
const config = loadConfig({ CACHESTORE_DRIVER: 'kubernetes', CACHESTORE_SUBNETS: 'local-subnet=10.96.200.0/24', CACHESTORE_K8S_NAMESPACE: NS });
const SERVER: Record<EngineKind, string> = { redis: 'redis-server', valkey: 'valkey-server' };

let fake: FakeKubeApi;
let driver: KubernetesDriver;
let tmp: string;
let storage: LocalBackupStorage;
const engines = new Set<ChildProcess>();
const prefix = testSubnet().replace(/\.0\/24$/, '');
let hostCounter = 10;

beforeAll(async () => {
  fake = await FakeKubeApi.start();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  fake.reset();
  ({ driver } = await createKubernetes(config, quiet, fake.kubeConfig()));
  tmp = await mkdtemp(join(tmpdir(), 'cachestore-kbackup-'));
  storage = new LocalBackupStorage(join(tmp, 'backups'), join(tmp, 'wal-archive'));
});
afterEach(async () => {
  await Promise.all([...engines].map(stopEngine));
  await rm(tmp, { recursive: true, force: true });
});

async function node(engine: EngineKind): Promise<NodeSpec> {
  const instanceId = randomBytes(16).toString('hex');
  return dataNode({ instanceId, engine, ip: `${prefix}.${hostCounter++}`, port: await freePort(), password: randomBytes(8).toString('hex'), serviceSecret: randomBytes(32).toString('hex'), keepWriteLog: true });
}

/**
 * A real engine standing in for the node's pod: the pod's configuration with its address and
 * its PVC's directory in place of the pod's, and DEBUG allowed over TCP (for the test's digest).
 */
async function startEngine(n: NodeSpec): Promise<ChildProcess> {
  const dir = fake.volumeDir(NS, `cs-${n.nodeId}`);
  const conf = engineConfigFor(n)
    .split('\n')
    .map((l) => (l.startsWith('bind ') ? `bind ${n.ip}` : l.startsWith('dir ') ? `dir "${dir}"` : l.startsWith('pidfile ') ? `pidfile "${dir}/engine.pid"` : l))
    .join('\n');
  const file = join(tmp, `${n.nodeId}.conf`);
  await writeFile(file, `${conf}\nenable-debug-command yes\n`, { mode: 0o600 });
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', SERVER[n.engine], file], { stdio: 'ignore' });
  engines.add(child);
  for (let i = 0; !(await ping(endpointOf(n), 300)); i++) {
    if (child.exitCode !== null || i > 100) throw new Error(`the ${n.engine} engine standing in for pod cs-${n.nodeId} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function stopEngine(child: ChildProcess): Promise<void> {
  engines.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

function client(n: NodeSpec): Redis {
  const ep = endpointOf(n);
  return new Redis({ host: ep.host, port: ep.port, username: ep.username, password: ep.password, lazyConnect: true, maxRetriesPerRequest: 1 });
}

async function withClient<T>(n: NodeSpec, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = client(n);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** The node as the service makes it: Secret, PVC, Service and (unless `podless`) its pod. */
async function configured(n: NodeSpec, podless = false): Promise<void> {
  await driver.configure(n);
  if (!podless) await driver.launch(n);
}

function pods(prefixName: string): string[] {
  return fake.list('pods', NS).map((p) => p.metadata.name).filter((name) => name.startsWith(prefixName));
}

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

describe.each(['redis', 'valkey'] as const)('Kubernetes backups of a %s node (fake API, real engines)', (engine) => {
  it('snapshot, store, verify, discard; then a new node restores it and serves the snapshot\'s data', async () => {
    const source = await node(engine);
    await configured(source);
    await startEngine(source);
    const digestAtSnapshot = await withClient(source, async (c) => {
      await c.set('plain', 'value');
      await c.hset('hash', { a: '1', b: '2' });
      await c.rpush('list', 'x', 'y', 'z');
      await c.set('big', 'v'.repeat(200_000));
      await c.select(1);
      await c.set('in-db1', 'yes');
      return String(await c.call('DEBUG', 'DIGEST'));
    });
    const id = randomBytes(16).toString('hex');
    const before = Date.now();
    const snap = await driver.snapshot(source, id, storage);
    expect(snap.snapshotAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    // The write log after it: begun in storage, its bytes sent by shipLogs.
    expect(snap.log).toEqual({ name: `${CLUSTER_ID}/${id}.incr.aof` });
    expect(snap.closedLog).toEqual(expect.any(Number));
    const staged = join(fake.volumeDir(NS, `cs-${source.nodeId}`), 'backup-staging', `${id}.rdb`);
    expect(existsSync(staged)).toBe(true);
    expect(fake.get('persistentvolumeclaims', NS, `cs-${source.nodeId}`)!.metadata.labels![LABEL.stagedBackup]).toBe(id);
    // Written after the snapshot: not in the backup.
    await withClient(source, (c) => c.set('after-snapshot', '1'));

    const key = `${CLUSTER_ID}/${id}.rdb`;
    const stored = await driver.storeSnapshot(id, storage, key);
    const object = join(tmp, 'backups', key);
    expect(stored).toEqual({ key, sizeBytes: (await stat(staged)).size });
    expect(await sha256Of(object)).toBe(await sha256Of(staged));

    const v = await driver.verifySnapshot(id, engine, storage, key, { resumed: false });
    expect(v).toEqual({ sha256: await sha256Of(object), keys: 5, digest: digestAtSnapshot });
    // Its scratch pod was made for it (labelled with the cluster) and is gone again.
    const created = fake.requests.find((r) => r.method === 'POST' && r.resource === 'pods' && (r.body as { metadata: { name: string } }).metadata.name === `cs-verify-${id}`);
    expect((created?.body as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject({ [LABEL.cluster]: CLUSTER_ID, [LABEL.kind]: 'verify' });
    expect(pods('cs-verify-')).toEqual([]);

    await driver.discardSnapshot(id);
    expect(existsSync(staged)).toBe(false);
    expect(fake.get('persistentvolumeclaims', NS, `cs-${source.nodeId}`)!.metadata.labels![LABEL.stagedBackup]).toBeUndefined();
    await driver.discardSnapshot(id);

    // A new node of another cluster: its PVC exists, its engine does not run.
    const target = await node(engine);
    await configured(target, true);
    await driver.importBackup(target, { storage, key, sha256: v.sha256, log: null });
    expect(pods('cs-load-')).toEqual([]);
    const aof = join(fake.volumeDir(NS, `cs-${target.nodeId}`), 'appendonlydir');
    expect((await readdir(aof)).sort()).toEqual(['appendonly.aof.1.base.rdb', 'appendonly.aof.manifest']);
    expect(await readFile(join(aof, 'appendonly.aof.manifest'), 'utf8')).toBe('file appendonly.aof.1.base.rdb seq 1 type b\n');
    const restored = await startEngine(target);
    await withClient(target, async (c) => {
      expect(String(await c.call('DEBUG', 'DIGEST'))).toBe(digestAtSnapshot);
      expect(await c.hgetall('hash')).toEqual({ a: '1', b: '2' });
      expect(await c.get('after-snapshot')).toBeNull();
      await c.set('written-on-restored', '1');
    });
    await stopEngine(restored);

    // What the stopped node stored: a dataset, and the second of its last write.
    const state = await driver.persistedState(target);
    expect(state.hasData).toBe(true);
    expect(state.lastWriteAt).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(state.lastWriteAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(state.sentinel).toBeNull();
    expect(pods('cs-load-')).toEqual([]);
  });
});

describe('Kubernetes backups: failures and leftovers (fake API, real engines)', () => {
  async function staged(): Promise<{ n: NodeSpec; id: string; key: string; file: string }> {
    const n = await node('redis');
    await configured(n);
    await startEngine(n);
    // Random, so the snapshot stays big (the RDB compresses repeated bytes).
    await withClient(n, (c) => c.set('big', randomBytes(300_000).toString('hex')));
    const id = randomBytes(16).toString('hex');
    await driver.snapshot(n, id, storage);
    return { n, id, key: `${CLUSTER_ID}/${id}.rdb`, file: join(fake.volumeDir(NS, `cs-${n.nodeId}`), 'backup-staging', `${id}.rdb`) };
  }

  async function storedFiles(): Promise<string[]> {
    return readdir(join(tmp, 'backups'), { recursive: true }).catch(() => [] as string[]);
  }

  it('a snapshot far bigger than the buffers reaches a slow storage whole, the pod\'s output held back meanwhile', async () => {
    const n = await node('redis');
    await configured(n);
    await startEngine(n);
    // 40 MB that no compression shrinks.
    await withClient(n, async (c) => {
      for (let i = 0; i < 40; i++) await c.set(`blob:${i}`, randomBytes(1 << 20));
    });
    const id = randomBytes(16).toString('hex');
    await driver.snapshot(n, id, storage);
    const file = join(fake.volumeDir(NS, `cs-${n.nodeId}`), 'backup-staging', `${id}.rdb`);
    // A storage that takes 64 KiB every 2 ms and watches what waits for it in the stream it is given.
    let mostWaiting = 0;
    const slow: BackupStorage = Object.assign(Object.create(storage) as BackupStorage, {
      putStream: (key: string, source: Readable) => {
        const watch = setInterval(() => (mostWaiting = Math.max(mostWaiting, source.readableLength)), 1);
        const throttle = new Transform({
          highWaterMark: 64 << 10,
          transform(chunk: Buffer, _enc, done) {
            setTimeout(() => done(null, chunk), Math.ceil(chunk.length / (64 << 10)) * 2);
          },
        });
        return storage.putStream(key, source.pipe(throttle)).finally(() => clearInterval(watch));
      },
    });
    const key = `${CLUSTER_ID}/${id}.rdb`;
    const o = await driver.storeSnapshot(id, slow, key);
    expect(o.sizeBytes).toBe((await stat(file)).size);
    expect(o.sizeBytes).toBeGreaterThan(40 << 20);
    expect(await sha256Of(join(tmp, 'backups', key))).toBe(await sha256Of(file));
    // Held back in the pod (the socket paused), not piled up in the service's memory.
    expect(mostWaiting).toBeLessThan(8 << 20);
    // And streamed back in whole for the verification.
    expect((await driver.verifySnapshot(id, 'redis', storage, key, { resumed: false })).keys).toBe(40);
  });

  it('a failing command (non-zero exit) fails storeSnapshot with its reason and leaves no object', async () => {
    const s = await staged();
    await unlink(s.file);
    await expect(driver.storeSnapshot(s.id, storage, s.key)).rejects.toThrow(new RegExp(`could not be read out of pod cs-${s.n.nodeId}: exited with code 1: .*No such file`));
    expect((await storedFiles()).filter((f) => f.endsWith('.rdb') || f.endsWith('.partial'))).toEqual([]);
  });

  it('a stream dropped halfway fails storeSnapshot and leaves no object; a retry stores it whole', async () => {
    const s = await staged();
    fake.dropExec(new RegExp(`^cs-${s.n.nodeId}$`), 100_000);
    await expect(driver.storeSnapshot(s.id, storage, s.key)).rejects.toThrow(/closed before the command's exit status arrived/);
    expect((await storedFiles()).filter((f) => f.endsWith('.rdb') || f.endsWith('.partial'))).toEqual([]);
    const o = await driver.storeSnapshot(s.id, storage, s.key);
    expect(o.sizeBytes).toBe((await stat(s.file)).size);
    expect(await sha256Of(join(tmp, 'backups', s.key))).toBe(await sha256Of(s.file));
  });

  it('a damaged stored copy fails verification with the checker\'s reason, and its pod is deleted', async () => {
    const s = await staged();
    await driver.storeSnapshot(s.id, storage, s.key);
    const object = join(tmp, 'backups', s.key);
    const bytes = await readFile(object);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(object, bytes);
    await expect(driver.verifySnapshot(s.id, 'redis', storage, s.key, { resumed: false })).rejects.toThrow(/verification failed: exited with code 22: .*the snapshot is damaged/);
    expect(pods('cs-verify-')).toEqual([]);
  });

  it('an API server without v5.channel.k8s.io cannot take a file in: said, and the pod is deleted', async () => {
    const s = await staged();
    await driver.storeSnapshot(s.id, storage, s.key);
    fake.execProtocols = ['v4.channel.k8s.io'];
    await expect(driver.verifySnapshot(s.id, 'redis', storage, s.key, { resumed: false })).rejects.toThrow(/speaks v4\.channel\.k8s\.io for exec, not v5\.channel\.k8s\.io \(Kubernetes 1\.30 or later\)/);
    expect(pods('cs-verify-')).toEqual([]);
  });

  it('exec into a pod that is gone is refused like any other call; discarding then changes nothing', async () => {
    const s = await staged();
    await driver.kill(s.n);
    await expect(driver.storeSnapshot(s.id, storage, s.key)).rejects.toThrow(`Kubernetes API refused to create pods/exec cs-${s.n.nodeId} in namespace ${NS}: HTTP 404 (the pod does not exist)`);
    await driver.discardSnapshot(s.id);
    // The label is gone; the file stays on the PVC until the node's next snapshot clears it.
    expect(fake.get('persistentvolumeclaims', NS, `cs-${s.n.nodeId}`)!.metadata.labels![LABEL.stagedBackup]).toBeUndefined();
    await expect(driver.storeSnapshot(s.id, storage, s.key)).rejects.toThrow(/has no staged snapshot/);
  });

  it('sweepScratch deletes scratch pods past their deadline, not a live verification\'s; removing a node deletes its loader pod', async () => {
    const settings = { namespace: NS, images: config.kubernetes.images };
    const old = scratchPodOf({ name: 'cs-verify-dead', purpose: 'verify', engine: 'redis', clusterId: CLUSTER_ID, claim: null, startedAt: new Date(Date.now() - 3600_000), lifetimeSeconds: 900 }, settings);
    const loader = scratchPodOf({ name: 'cs-load-dead', purpose: 'load', engine: 'redis', clusterId: CLUSTER_ID, claim: null, startedAt: new Date(Date.now() - 3600_000), lifetimeSeconds: 900 }, settings);
    const live = scratchPodOf({ name: 'cs-verify-live', purpose: 'verify', engine: 'redis', clusterId: CLUSTER_ID, claim: null, startedAt: new Date(), lifetimeSeconds: 900 }, settings);
    // Created through the API, so the fake validates them as it does the driver's.
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const core = fake.kubeConfig().makeApiClient(CoreV1Api);
    for (const body of [old, loader, live]) await core.createNamespacedPod({ namespace: NS, body });
    expect(await driver.sweepScratch()).toBe(2);
    expect(pods('cs-')).toEqual(['cs-verify-live']);
    expect(await driver.sweepScratch()).toBe(0);
    // A node's removal takes a loader pod a dead restore left on its PVC with it.
    const n = await node('redis');
    await configured(n, true);
    const leftover = scratchPodOf({ name: `cs-load-${n.nodeId}`, purpose: 'load', engine: 'redis', clusterId: CLUSTER_ID, claim: `cs-${n.nodeId}`, startedAt: new Date(), lifetimeSeconds: 900 }, settings);
    await core.createNamespacedPod({ namespace: NS, body: leftover });
    await driver.removeData(n);
    expect(pods('cs-load-')).toEqual([]);
  });

  it('a restore refuses a running node; persistedState reads a fresh PVC as no data, and a Sentinel as nothing (its file was on an emptyDir)', async () => {
    const n = await node('redis');
    await configured(n);
    await expect(driver.importBackup(n, { storage, key: 'none', sha256: 'x', log: null })).rejects.toThrow(/is running; a dataset can only be placed while it is stopped/);
    const fresh = await node('redis');
    await configured(fresh, true);
    expect(await driver.persistedState(fresh)).toEqual({ hasData: false, lastWriteAt: null, sentinel: null });
    expect(await driver.persistedState(sentinelBeside(fresh))).toEqual({ hasData: false, lastWriteAt: null, sentinel: null });
    // A data node without block storage has its files on an emptyDir: nothing outlives its pod.
    const bare = { ...(await node('redis')), volumeGb: undefined };
    await configured(bare, true);
    await expect(driver.importBackup(bare, { storage, key: 'none', sha256: 'x', log: null })).rejects.toThrow(/has no PVC \(no block storage size\)/);
    expect(await driver.persistedState(bare)).toEqual({ hasData: false, lastWriteAt: null, sentinel: null });
    expect(pods('cs-load-')).toEqual([]);
  });

  it('point in time: the write log is shipped out of the pod, a restore replays it up to the second, and the next backup closes it', async () => {
    const source = await node('redis');
    await configured(source);
    await startEngine(source);
    await withClient(source, (c) => c.set('in-base', '1'));
    const id = randomBytes(16).toString('hex');
    const snap = await driver.snapshot(source, id, storage);
    const log = (snap.log as { name: string }).name;
    const key = `${CLUSTER_ID}/${id}.rdb`;
    await driver.storeSnapshot(id, storage, key);
    const { sha256 } = await driver.verifySnapshot(id, 'redis', storage, key, { resumed: false });
    await driver.discardSnapshot(id);
    const nextSecond = async () => {
      const s = Math.floor(Date.now() / 1000);
      while (Math.floor(Date.now() / 1000) === s) await new Promise((r) => setTimeout(r, 20));
      return Math.floor(Date.now() / 1000);
    };
    const t1 = await nextSecond();
    // Binary values too: the log is moved as bytes.
    await withClient(source, async (c) => {
      await c.set('at-t1', '1');
      await c.set('binary', Buffer.from([0, 255, 10, 13, 35, 84, 83, 58]));
    });
    await nextSecond();
    await withClient(source, (c) => c.set('after-t1', '1'));
    await new Promise((r) => setTimeout(r, 1100)); // appendfsync everysec: the writes are in the file
    const held = join(fake.volumeDir(NS, `cs-${source.nodeId}`), 'backup-logs', `${id}.incr.aof`);
    expect(await driver.shipLogs(storage)).toBe((await stat(held)).size);
    expect(await driver.shipLogs(storage)).toBe(0);
    // The annotation ahead of what storage holds (a log begun again under a running ship): the
    // next ship starts over from 0 rather than stall on the gap.
    const pvcName = `cs-${source.nodeId}`;
    const heldSize = (await stat(held)).size;
    (fake.get('persistentvolumeclaims', NS, pvcName)!.metadata.annotations as Record<string, string>)[`cachestore.io/log.${id}`] = JSON.stringify({ name: log, offset: heldSize - 10 });
    await storage.logs.begin(CLUSTER_ID, id, (await stat(held)).ino);
    expect(await driver.shipLogs(storage)).toBe(heldSize);
    const out = join(tmp, 'copied.aof');
    await storage.logs.copyOut(log, out);
    expect(await sha256Of(out)).toBe(await sha256Of(held));
    expect(await storage.logs.state(log)).toMatchObject({ live: true });
    expect(await storage.logs.identity(log)).toBe((await stat(held)).ino);

    const cut = await node('redis');
    await configured(cut, true);
    await driver.importBackup(cut, { storage, key, sha256, log: { name: log, until: t1 } });
    const dir = join(fake.volumeDir(NS, `cs-${cut.nodeId}`), 'appendonlydir');
    expect(await readFile(join(dir, 'appendonly.aof.manifest'), 'utf8')).toBe('file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n');
    const e1 = await startEngine(cut);
    expect(await withClient(cut, (c) => c.mget('in-base', 'at-t1', 'after-t1'))).toEqual(['1', '1', null]);
    expect(await withClient(cut, (c) => c.getBuffer('binary'))).toEqual(Buffer.from([0, 255, 10, 13, 35, 84, 83, 58]));
    await stopEngine(e1);

    // Written after the last ship: a restore to its second reads it out of the pod first.
    const t3 = await nextSecond();
    await withClient(source, (c) => c.set('at-t3', '1'));
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await node('redis');
    await configured(fresh, true);
    await driver.importBackup(fresh, { storage, key, sha256, log: { name: log, until: t3 } });
    const e3 = await startEngine(fresh);
    expect(await withClient(fresh, (c) => c.mget('after-t1', 'at-t3'))).toEqual(['1', '1']);
    await stopEngine(e3);

    // A second before the log's first write: the base alone (the checker would refuse that cut).
    const early = await node('redis');
    await configured(early, true);
    await driver.importBackup(early, { storage, key, sha256, log: { name: log, until: t1 - 1 } });
    await startEngine(early);
    expect(await withClient(early, (c) => c.mget('in-base', 'at-t1', 'after-t1'))).toEqual(['1', null, null]);
    expect(pods('cs-load-')).toEqual([]);

    // The next backup's rewrite closes the log: the rest is sent, it ends, and the pod lets it go.
    await withClient(source, (c) => c.set('last-in-first-log', '1'));
    await new Promise((r) => setTimeout(r, 1100));
    const id2 = randomBytes(16).toString('hex');
    const snap2 = await driver.snapshot(source, id2, storage);
    expect(snap2.closedLog).toBe(await storage.logs.identity(log));
    await driver.shipLogs(storage);
    expect(await storage.logs.state(log)).toMatchObject({ live: false });
    expect(existsSync(held)).toBe(false);
    const annotations = fake.get('persistentvolumeclaims', NS, `cs-${source.nodeId}`)!.metadata.annotations as Record<string, string>;
    expect(Object.keys(annotations)).toEqual([`cachestore.io/log.${id2}`]);
    await storage.logs.copyOut(log, out);
    expect((await readFile(out, 'latin1')).includes('last-in-first-log')).toBe(true);

    // A backup that failed (or was removed) takes its log with it: the pod lets go of its link.
    await storage.logs.remove(`${CLUSTER_ID}/${id2}.incr.aof`);
    await withClient(source, (c) => c.set('after-removal', '1'));
    expect(await driver.shipLogs(storage)).toBe(0);
    expect(existsSync(join(fake.volumeDir(NS, `cs-${source.nodeId}`), 'backup-logs', `${id2}.incr.aof`))).toBe(false);
    const left = fake.get('persistentvolumeclaims', NS, `cs-${source.nodeId}`)!.metadata;
    expect(Object.keys(left.annotations as Record<string, string>)).toEqual([]);
    // Nothing left to read: no exec into the pod at all.
    const execs = fake.execs.length;
    expect(await driver.shipLogs(storage)).toBe(0);
    expect(fake.execs.length).toBe(execs);
  });

  it('every call backups made is one KUBE_PERMISSIONS grants, and they use exec and the claim list', async () => {
    const s = await staged();
    await driver.storeSnapshot(s.id, storage, s.key);
    await driver.verifySnapshot(s.id, 'redis', storage, s.key, { resumed: false });
    await driver.discardSnapshot(s.id);
    await driver.sweepScratch();
    const verbOf = (r: { method: string; name?: string; resource: string }) => (r.resource === 'pods/exec' ? 'create' : { GET: r.name ? 'get' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[r.method]!);
    const used = new Set(fake.requests.map((r) => `${r.resource}:${verbOf(r)}`));
    const granted = new Set(KUBE_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${p.resource}:${v}`)));
    expect([...used].filter((u) => !granted.has(u))).toEqual([]);
    expect([...used]).toEqual(expect.arrayContaining(['pods/exec:create', 'persistentvolumeclaims:list', 'persistentvolumeclaims:patch']));
    // The exec ran in the engine's and the scratch pods' containers only.
    expect(new Set(fake.execs.map((e) => e.container))).toEqual(new Set(['engine', 'work']));
  });
});
