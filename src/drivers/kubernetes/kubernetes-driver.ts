// The Kubernetes driver: every node is a Pod (with its Secret, and a PVC for a data node), every
// instance a Service whose clusterIP is the instance's address. Objects come from manifests.ts;
// this file only sends them and reads pod status back. Backups, restores and a stopped node's files
// are done by exec in pods (kube-backups.ts).
import type { V1NetworkPolicy, V1Pod, V1Service } from '@kubernetes/client-node';
import type { ClusterAccess } from '../../domain/allow-list.js';
import { chooseAddresses, type AddressChoice, type Subnet, type WantedAddress } from '../../domain/network.js';
import type { BackupStorage, StoredObject } from '../../backups/storage.js';
import type { EngineVersion } from '../../domain/catalog.js';
import type { EngineKind } from '../../domain/model.js';
import { engineVersionOf } from '../../engines/detect.js';
import type { BackupSource, Driver, Firewall, NodeSpec, PersistedState, Snapshot, VerifiedSnapshot, VolumeUsage } from '../driver.js';
import { KubeApi, KubeApiError, podEnded, podReady } from './kube-api.js';
import { KubeBackups } from './kube-backups.js';
import { followPodLog } from './log-follow.js';
import { DATA_MOUNT, imageVersion, loaderPodName, MANAGED_BY, mergePorts, networkPolicyOf, objectNames, podOf, portName, pvcOf, secretOf, selector, serviceOf, storageOf, type KubernetesSettings, type ServicePort } from './manifests.js';

const POLL_MS = 250;

/**
 * What the port asks that the Kubernetes driver does not do yet, said in the log at start (README,
 * What does not work yet). None now: every method is built; kept so that a new one is said.
 */
export const PORT_GAPS: Record<string, string> = {};

function masked(node: NodeSpec, text: string): string {
  return text.split(node.password).join('***').split(node.serviceSecret).join('***');
}

/** Bytes of a quantity such as "16Gi" or "1073741824"; NaN for forms the driver never writes. */
export function quantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) return NaN;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

export class KubernetesDriver implements Driver {
  /** PVCs are real volumes of the requested size (expansion needs a StorageClass that allows it). */
  readonly volumesUnavailable = null;

  private readonly backups: KubeBackups;
  /** The last volume reading per node (volumeUsage). */
  private readonly usage = new Map<string, { at: number; usage: VolumeUsage }>();

  constructor(
    private readonly api: KubeApi,
    private readonly settings: KubernetesSettings,
  ) {
    this.backups = new KubeBackups(api, settings);
  }

  private get ns(): string {
    return this.settings.namespace;
  }

  /** One version per engine whose configured image's tag names one (the OS inside an image is not known). */
  async offeredEngines(): Promise<EngineVersion[]> {
    const out: EngineVersion[] = [];
    for (const engine of ['redis', 'valkey'] as const) {
      const v = imageVersion(this.settings.images[engine]);
      if (v) out.push(engineVersionOf(engine, v, { type: 'Linux', version: '' }));
    }
    return out;
  }

  async runnableVersion(engine: EngineKind): Promise<string | null> {
    return imageVersion(this.settings.images[engine]);
  }

  /** The clusterIPs the namespace's Services hold now. */
  private async serviceIps(): Promise<Set<string>> {
    const list = await this.api.call('services', 'list', '', () => this.api.core.listNamespacedService({ namespace: this.ns }));
    return new Set(list.items.map((s) => s.spec?.clusterIP ?? '').filter(Boolean));
  }

  /** A clusterIP belongs to one Service: an address is free when no Service in the namespace has it. */
  async isAddressFree(ip: string, _port: number): Promise<boolean> {
    return !(await this.serviceIps()).has(ip);
  }

  /**
   * One list of the namespace's Services for the whole choice (not one per candidate). An
   * address taken by a Service elsewhere in the cluster is refused by the API server at configure.
   */
  async allocateAddresses(subnet: Subnet, wanted: readonly WantedAddress[], taken: ReadonlySet<string>): Promise<AddressChoice> {
    const held = await this.serviceIps();
    return chooseAddresses(subnet.cidr, wanted, taken, (ip) => !held.has(ip));
  }

  async configure(node: NodeSpec): Promise<void> {
    const names = objectNames(node);
    const secret = secretOf(node, this.settings);
    // The config changes with every topology change: written whole each time.
    const existing = await this.api.orNull(this.api.call('secrets', 'get', names.secret, () => this.api.core.readNamespacedSecret({ name: names.secret, namespace: this.ns })));
    if (existing) await this.api.call('secrets', 'update', names.secret, () => this.api.core.replaceNamespacedSecret({ name: names.secret, namespace: this.ns, body: secret }));
    else await this.api.call('secrets', 'create', names.secret, () => this.api.core.createNamespacedSecret({ namespace: this.ns, body: secret }));

    const pvc = pvcOf(node, this.settings);
    if (pvc) {
      // An existing claim keeps its data and size (growVolume grows it).
      const have = await this.api.orNull(this.api.call('persistentvolumeclaims', 'get', names.pvc, () => this.api.core.readNamespacedPersistentVolumeClaim({ name: names.pvc, namespace: this.ns })));
      if (!have) await this.api.call('persistentvolumeclaims', 'create', names.pvc, () => this.api.core.createNamespacedPersistentVolumeClaim({ namespace: this.ns, body: pvc }));
    }
    await this.ensureServicePort(node);
  }

  private readService(node: NodeSpec): Promise<V1Service | null> {
    const name = objectNames(node).service;
    return this.api.orNull(this.api.call('services', 'get', name, () => this.api.core.readNamespacedService({ name, namespace: this.ns })));
  }

  private async ensureServicePort(node: NodeSpec): Promise<void> {
    const name = objectNames(node).service;
    const have = await this.readService(node);
    if (!have) {
      const body = serviceOf(node, [{ name: portName(node), port: node.port }], this.settings);
      await this.api.call('services', 'create', name, () => this.api.core.createNamespacedService({ namespace: this.ns, body }));
      return;
    }
    const ports = (have.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port }));
    if (ports.some((p) => p.name === portName(node) && p.port === node.port)) return;
    await this.writeServicePorts(node, have, mergePorts(ports, node));
  }

  /** Replaces the Service's ports; resourceVersion makes a concurrent change a 409, not a loss. */
  private async writeServicePorts(node: NodeSpec, have: V1Service, ports: ServicePort[]): Promise<void> {
    const name = objectNames(node).service;
    const body = serviceOf(node, ports, this.settings);
    const withVersion = { ...body, metadata: { ...body.metadata, resourceVersion: have.metadata?.resourceVersion } };
    await this.api.call('services', 'update', name, () => this.api.core.replaceNamespacedService({ name, namespace: this.ns, body: withVersion }));
  }

  private readPod(node: NodeSpec): Promise<V1Pod | null> {
    return this.api.readPod(objectNames(node).pod);
  }

  async launch(node: NodeSpec): Promise<void> {
    const name = objectNames(node).pod;
    const pod = await this.readPod(node);
    if (pod && !podEnded(pod) && !pod.metadata?.deletionTimestamp) return;
    // An engine that exited leaves its pod (restartPolicy Never): it goes, a new one starts.
    if (pod) await this.deletePod(node, 0);
    try {
      await this.api.call('pods', 'create', name, () => this.api.core.createNamespacedPod({ namespace: this.ns, body: podOf(node, this.settings) }));
    } catch (err) {
      // Another launch of the same node won the race: its pod is this node's engine.
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    }
  }

  async waitReady(node: NodeSpec, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pod = await this.readPod(node);
      if (pod && podReady(pod)) return;
      if (!pod || podEnded(pod)) throw new Error(`${node.engine} engine exited while starting (pod ${objectNames(node).pod} ${pod ? pod.status?.phase : 'is gone'}): ${await this.why(node)}`);
      if (Date.now() > deadline) throw new Error(`${node.engine} engine did not become ready within ${timeoutMs} ms (pod ${pod.status?.phase ?? 'without status'}): ${await this.why(node)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private async why(node: NodeSpec): Promise<string> {
    return (await this.lastLogLines(node, 3).catch(() => [])).join(' | ') || 'no output';
  }

  private deletePod(node: NodeSpec, graceSeconds: number): Promise<void> {
    return this.api.deletePod(objectNames(node).pod, graceSeconds);
  }


  async stop(node: NodeSpec, opts: { save: boolean }): Promise<void> {
    // SIGTERM: a data node saves its dataset before it exits (its `save` lines), within the
    // pod's grace period. Without save there is nothing to wait for.
    await this.deletePod(node, opts.save && node.kind === 'data' ? 60 : 1);
  }

  async kill(node: NodeSpec): Promise<void> {
    await this.deletePod(node, 0);
  }

  async snapshot(node: NodeSpec, backupId: string, storage: BackupStorage): Promise<Snapshot> {
    return this.backups.snapshot(node, backupId, storage);
  }

  async storeSnapshot(backupId: string, storage: BackupStorage, key: string): Promise<StoredObject> {
    return this.backups.storeSnapshot(backupId, storage, key);
  }

  /** `resumed` needs nothing more here: the verification pod's name is the backup's, and a leftover of it is replaced. */
  async verifySnapshot(backupId: string, engine: EngineKind, storage: BackupStorage, key: string, _opts?: { resumed: boolean }): Promise<VerifiedSnapshot> {
    return this.backups.verifySnapshot(backupId, engine, storage, key);
  }

  /** Verification and loader pods past their deadline (their service died before deleting them). */
  async sweepScratch(): Promise<number> {
    return this.backups.sweepScratch();
  }

  async shipLogs(storage: BackupStorage): Promise<number> {
    return this.backups.shipLogs(storage);
  }

  async discardSnapshot(backupId: string): Promise<void> {
    await this.backups.discardSnapshot(backupId);
  }

  async importBackup(node: NodeSpec, from: BackupSource): Promise<void> {
    await this.backups.importBackup(node, from);
  }

  async removeData(node: NodeSpec): Promise<void> {
    const names = objectNames(node);
    this.usage.delete(node.nodeId);
    await this.deletePod(node, 0);
    if (node.kind === 'data') {
      // A loader pod left by a restore that died would hold the PVC until its deadline.
      await this.api.deletePod(loaderPodName(node), 0);
      await this.api.gone(this.api.call('persistentvolumeclaims', 'delete', names.pvc, () => this.api.core.deleteNamespacedPersistentVolumeClaim({ name: names.pvc, namespace: this.ns })));
    }
    await this.api.gone(this.api.call('secrets', 'delete', names.secret, () => this.api.core.deleteNamespacedSecret({ name: names.secret, namespace: this.ns })));
    // The instance's Service goes with its last node; until then it keeps the other node's port.
    const have = await this.readService(node);
    if (!have) return;
    const rest = (have.spec?.ports ?? []).filter((p) => p.name !== portName(node)).map((p) => ({ name: p.name ?? '', port: p.port }));
    if (rest.length > 0) await this.writeServicePorts(node, have, rest);
    else await this.api.gone(this.api.call('services', 'delete', names.service, () => this.api.core.deleteNamespacedService({ name: names.service, namespace: this.ns })));
  }

  async isRunning(node: NodeSpec): Promise<boolean> {
    return (await this.readPod(node))?.status?.phase === 'Running';
  }

  async isHealthy(node: NodeSpec): Promise<boolean> {
    const pod = await this.readPod(node);
    return pod !== null && podReady(pod);
  }

  /**
   * The engine's log lines from now on, as it writes them, the secrets masked (what the disk
   * alarms read). Survives the pod being replaced: the stream is opened again.
   */
  followLog(node: NodeSpec, onLines: (lines: string[]) => void): () => void {
    return followPodLog(this.api, objectNames(node).pod, 'engine', (lines) => onLines(lines.map((l) => masked(node, l))));
  }

  async lastLogLines(node: NodeSpec, count: number): Promise<string[]> {
    const name = objectNames(node).pod;
    let text: string | null;
    try {
      text = await this.api.orNull(
        this.api.call('pods/log', 'get', name, () => this.api.core.readNamespacedPodLog({ name, namespace: this.ns, container: 'engine', tailLines: count })),
      );
    } catch (err) {
      // 400: the engine's container has not started yet (image pull, volume binding): no log.
      if (err instanceof KubeApiError && err.status === 400) return [];
      throw err;
    }
    return (text ?? '')
      .split('\n')
      .filter((l) => l.trim())
      .slice(-count)
      .map((l) => masked(node, l));
  }

  /** Read by a loader pod on the node's PVC; a Sentinel's file was on an emptyDir, gone with its pod (sentinel: null). */
  async persistedState(node: NodeSpec): Promise<PersistedState> {
    return this.backups.persistedState(node);
  }

  async growVolume(node: NodeSpec): Promise<boolean> {
    if (node.kind !== 'data' || typeof node.volumeGb !== 'number') return false;
    this.usage.delete(node.nodeId);
    const name = objectNames(node).pvc;
    const pvc = await this.api.orNull(this.api.call('persistentvolumeclaims', 'get', name, () => this.api.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.ns })));
    if (!pvc) return false;
    const want = storageOf(node.volumeGb);
    const have = pvc.spec?.resources?.requests?.storage;
    // Never shrinks (Kubernetes refuses it anyway).
    if (have !== undefined && quantityBytes(have) >= quantityBytes(want)) return true;
    const body = [{ op: 'replace', path: '/spec/resources/requests/storage', value: want }];
    await this.api.call('persistentvolumeclaims', 'patch', name, () => this.api.core.patchNamespacedPersistentVolumeClaim({ name, namespace: this.ns, body }));
    return true;
  }

  /**
   * The claim's size (its capacity once bound and resized, else what it requests) and the
   * filesystem's size and free space as the engine's container sees them (`df` by exec: the
   * kubelet's stats API would need cluster-wide rights on nodes/proxy). null when the node has no
   * claim or its engine's pod does not run. Read at most every USAGE_TTL_MS per node: the
   * reconciler asks at every look, and an exec costs a WebSocket and a process in the pod.
   */
  async volumeUsage(node: NodeSpec): Promise<VolumeUsage | null> {
    if (node.kind !== 'data') return null;
    const cached = this.usage.get(node.nodeId);
    if (cached && Date.now() - cached.at < USAGE_TTL_MS) return cached.usage;
    const name = objectNames(node).pvc;
    const pvc = await this.api.orNull(this.api.call('persistentvolumeclaims', 'get', name, () => this.api.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.ns })));
    const size = pvc?.status?.capacity?.storage ?? pvc?.spec?.resources?.requests?.storage;
    if (!size || !(await this.isRunning(node))) return null;
    const { stdout } = await this.api.exec(objectNames(node).pod, 'engine', ['sh', '-c', 'df -Pk "$1"', 'sh', DATA_MOUNT], { timeoutMs: 10_000 });
    const usage = { deviceBytes: quantityBytes(size), ...dfBytes(stdout) };
    this.usage.set(node.nodeId, { at: Date.now(), usage });
    return usage;
  }
}

/** How long a volume reading serves (ms): a full disk is also told at once by the engine's log. */
const USAGE_TTL_MS = 5000;

/** `df -Pk` (POSIX output, 1024-byte blocks, busybox's too): the filesystem's size and what is available. */
export function dfBytes(out: string): { totalBytes: number; freeBytes: number } {
  const row = out.trim().split('\n').at(-1)?.trim().split(/\s+/) ?? [];
  const total = Number(row[1]);
  const available = Number(row[3]);
  if (row.length < 6 || !Number.isFinite(total) || !Number.isFinite(available)) throw new Error(`df answered what it should not: ${out.trim().slice(0, 200)}`);
  return { totalBytes: total * 1024, freeBytes: available * 1024 };
}

/**
 * The policy as client-node's model: it names an ingress rule's `from` `_from` (a reserved word in
 * its generator) and would drop `from` when it serializes the body, leaving a rule open to all.
 */
function forClient(policy: ReturnType<typeof networkPolicyOf>): V1NetworkPolicy & { metadata: { name: string } } {
  return { ...policy, spec: { ...policy.spec, ingress: policy.spec.ingress.map(({ from, ...rule }) => ({ ...rule, _from: from })) } };
}

/** Allow-lists as one NetworkPolicy per cluster; `apply` makes the namespace's set exactly `rules`. */
export class KubernetesFirewall implements Firewall {
  readonly unavailable = null;

  constructor(private readonly api: KubeApi) {}

  async apply(rules: ClusterAccess[]): Promise<void> {
    const ns = this.api.namespace;
    const list = await this.api.call('networkpolicies', 'list', '', () => this.api.networking.listNamespacedNetworkPolicy({ namespace: ns, labelSelector: selector(MANAGED_BY) }));
    const have = new Map(list.items.map((p) => [p.metadata?.name ?? '', p]));
    const want = rules.map((r) => forClient(networkPolicyOf(r, ns)));
    for (const body of want) {
      const name = body.metadata.name;
      const old = have.get(name);
      if (old) {
        const withVersion = { ...body, metadata: { ...body.metadata, resourceVersion: old.metadata?.resourceVersion } };
        await this.api.call('networkpolicies', 'update', name, () => this.api.networking.replaceNamespacedNetworkPolicy({ name, namespace: ns, body: withVersion }));
      } else {
        await this.api.call('networkpolicies', 'create', name, () => this.api.networking.createNamespacedNetworkPolicy({ namespace: ns, body }));
      }
    }
    const keep = new Set(want.map((p) => p.metadata.name));
    for (const name of have.keys()) {
      if (!keep.has(name)) await this.api.gone(this.api.call('networkpolicies', 'delete', name, () => this.api.networking.deleteNamespacedNetworkPolicy({ name, namespace: ns })));
    }
  }
}
