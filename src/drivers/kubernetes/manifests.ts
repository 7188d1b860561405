// Pure builders of the Kubernetes objects a node is made of. Same node in, same objects out, so
// configure can write them again on every resume and the tests validate them without a cluster.
//
// Layout per node (names from objectNames):
//   Pod  cs-<nodeId>            the engine (restartPolicy Never: the service, not the kubelet,
//                               decides when a dead engine starts again, as with the local driver)
//   Secret cs-<nodeId>          the rendered engine config, the cluster password, the service secret
//   PVC  cs-<nodeId>            data nodes only: the data directory, of the DATA block storage size
// and per instance (a data node and the Sentinel beside it share one address, as locally):
//   Service cs-<instanceId>     clusterIP = the instance's address from the subnet, one named
//                               port per node; a named targetPort sends each port to the pod
//                               that declares it.
import type { ClusterAccess } from '../../domain/allow-list.js';
import type { EngineKind } from '../../domain/model.js';
import { SERVICE_USER } from '../../engines/acl.js';
import type { NodeSpec } from '../driver.js';
import { renderNodeConfig } from '../node-config.js';

/** Where in the pod the engine keeps its files (the PVC for a data node, an emptyDir for a Sentinel). */
export const DATA_MOUNT = '/data';
/** Where the Secret's config is mounted; an init container copies it to DATA_MOUNT (Sentinel rewrites its file). */
const SECRET_MOUNT = '/etc/cachestore';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'cachestore' } as const;
/** The label that the service's own pods carry (deploy/kubernetes): their admin connections pass every NetworkPolicy. */
export const SERVICE_POD_LABELS = { 'app.kubernetes.io/name': 'cachestore' } as const;

export const LABEL = {
  cluster: 'cachestore.io/cluster',
  instance: 'cachestore.io/instance',
  node: 'cachestore.io/node',
  kind: 'cachestore.io/kind',
  /** On a data node's PVC: the backup whose snapshot is staged on it (backup-staging/<id>.rdb). */
  stagedBackup: 'cachestore.io/staged-backup',
  /** On a data node's PVC: its pod has held write logs (annotations `cachestore.io/log.<backup>`, those not yet wholly sent). */
  shipsLogs: 'cachestore.io/ships-logs',
} as const;

/** On scratch pods: when the work they were made for is over for sure (sweepScratch deletes them after). */
export const DEADLINE_ANNOTATION = 'cachestore.io/deadline';

export interface KubernetesSettings {
  namespace: string;
  /** The container image per engine; its version should be the one the catalogue offers. */
  images: Record<EngineKind, string>;
  /** The StorageClass of data PVCs (it must allow expansion for resizes); undefined: the cluster's default. */
  storageClass?: string;
}

/**
 * The engine version an image's tag names (`redis:7.0.15`, `valkey/valkey:8.0.1-bookworm`,
 * `registry:5000/redis:v7.2.4`): what the catalogue offers for it. null when the tag names no
 * x.y.z version (no tag, `latest`, a digest alone): such an engine is not offered.
 */
export function imageVersion(image: string): string | null {
  const name = image.split('@')[0];
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon <= slash) return null;
  return /^v?(\d+\.\d+\.\d+)(?![\d.])/.exec(name.slice(colon + 1))?.[1] ?? null;
}

export function objectNames(node: NodeSpec) {
  return { pod: `cs-${node.nodeId}`, secret: `cs-${node.nodeId}`, pvc: `cs-${node.nodeId}`, service: `cs-${node.instanceId}` };
}

export function labelsOf(node: NodeSpec): Record<string, string> {
  return { ...MANAGED_BY, [LABEL.cluster]: node.clusterId, [LABEL.instance]: node.instanceId, [LABEL.node]: node.nodeId, [LABEL.kind]: node.kind };
}

/** A selector string for the API's labelSelector parameter. */
export function selector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The port's name in the pod and the Service: which of the instance's two ports it is. */
export function portName(node: NodeSpec): string {
  return node.kind === 'sentinel' ? 'sentinel' : 'data';
}

function meta(node: NodeSpec, name: string, namespace: string) {
  return { name, namespace, labels: labelsOf(node) };
}

/**
 * The engine's configuration inside a pod: the renderers' text with what differs from a local
 * process. The engine listens on every address of its pod (the node's address is the Service's
 * clusterIP, not the pod's) and announces the Service's address, runs in the foreground and logs
 * to stdout (the pod log API), and cannot bind its outgoing connections to the Service address.
 */
export function engineConfigFor(node: NodeSpec): string {
  const files = { dir: DATA_MOUNT, pidFile: `${DATA_MOUNT}/engine.pid`, logFile: '' };
  const text = renderNodeConfig(node, files);
  return text
    .split('\n')
    .filter((l) => !l.startsWith('bind-source-addr '))
    .map((l) => (l.startsWith('bind ') ? 'bind 0.0.0.0' : l === 'daemonize yes' ? 'daemonize no' : l))
    .join('\n');
}

export function secretOf(node: NodeSpec, s: KubernetesSettings) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(node, objectNames(node).secret, s.namespace),
    type: 'Opaque',
    data: {
      'engine.conf': b64(engineConfigFor(node)),
      password: b64(node.password),
      'service-secret': b64(node.serviceSecret),
    },
  };
}

/** The PVC's requested size, as Kubernetes writes quantities. */
export function storageOf(volumeGb: number): string {
  return `${volumeGb}Gi`;
}

/** Data nodes with a size get a PVC; a Sentinel keeps its file on an emptyDir (rewritten from the store on every configure). */
export function pvcOf(node: NodeSpec, s: KubernetesSettings) {
  if (node.kind !== 'data' || typeof node.volumeGb !== 'number') return null;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(node, objectNames(node).pvc, s.namespace),
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
      resources: { requests: { storage: storageOf(node.volumeGb) } },
    },
  };
}

/** The engines' command-line clients (in their images). */
export const CLI: Record<EngineKind, string> = { redis: 'redis-cli', valkey: 'valkey-cli' };
export const SERVER: Record<EngineKind, string> = { redis: 'redis-server', valkey: 'valkey-server' };
/** The engines' own file checkers (in their images, as locally). */
export const CHECK_RDB: Record<EngineKind, string> = { redis: 'redis-check-rdb', valkey: 'valkey-check-rdb' };
export const CHECK_AOF: Record<EngineKind, string> = { redis: 'redis-check-aof', valkey: 'valkey-check-aof' };

export function podOf(node: NodeSpec, s: KubernetesSettings) {
  const names = objectNames(node);
  const image = s.images[node.engine];
  const conf = `${DATA_MOUNT}/engine.conf`;
  const pvc = pvcOf(node, s);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(node, names.pod, s.namespace),
    spec: {
      restartPolicy: 'Never',
      // Time to save the dataset on SIGTERM (stop with save), as the local driver waits 60 s.
      terminationGracePeriodSeconds: 60,
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
      initContainers: [
        {
          name: 'config',
          image,
          // Sentinel rewrites its configuration: it needs a writable copy, not the Secret's mount.
          command: ['sh', '-c', `cp ${SECRET_MOUNT}/engine.conf ${conf} && chmod 600 ${conf}`],
          volumeMounts: [
            { name: 'config', mountPath: SECRET_MOUNT, readOnly: true },
            { name: 'data', mountPath: DATA_MOUNT },
          ],
        },
      ],
      containers: [
        {
          name: 'engine',
          image,
          command: [SERVER[node.engine], conf, ...(node.kind === 'sentinel' ? ['--sentinel'] : [])],
          ports: [{ name: portName(node), containerPort: node.port, protocol: 'TCP' }],
          // Ready = answers PING as the service's user (what the local driver's waitReady checks).
          // The secret comes from the environment, never from the command line.
          env: [{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: names.secret, key: 'service-secret' } } }],
          readinessProbe: {
            exec: { command: ['sh', '-c', `[ "$(${CLI[node.engine]} --user ${SERVICE_USER} -p ${node.port} ping)" = PONG ]`] },
            periodSeconds: 2,
            timeoutSeconds: 2,
          },
          volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }],
          resources: node.kind === 'data' ? { requests: { memory: String(node.maxMemoryBytes) } } : {},
        },
      ],
      volumes: [
        { name: 'config', secret: { secretName: names.secret, defaultMode: 0o400 } },
        pvc ? { name: 'data', persistentVolumeClaim: { claimName: names.pvc } } : { name: 'data', emptyDir: {} },
      ],
    },
  };
}

/** The short-lived pod that loads a stored backup in a scratch engine (verifySnapshot). */
export function verifyPodName(backupId: string): string {
  return `cs-verify-${backupId}`;
}

/** The short-lived pod that reads or writes a stopped data node's PVC (importBackup, persistedState). */
export function loaderPodName(node: NodeSpec): string {
  return `cs-load-${node.nodeId}`;
}

export interface ScratchPod {
  name: string;
  /** `verify`: a scratch engine on an emptyDir; `load`: the node's PVC at DATA_MOUNT. */
  purpose: 'verify' | 'load';
  engine: EngineKind;
  /** Labelled with it when known (a verification finds it on the staged snapshot's PVC). */
  clusterId: string | null;
  /** `load`: the PVC to mount. */
  claim: string | null;
  /** When it was asked for, and how long its work may take at most: the pod ends itself then. */
  startedAt: Date;
  lifetimeSeconds: number;
  /**
   * `verify`: the snapshot's size. The pod asks for room for it on its emptyDir and for memory
   * to load it (SCRATCH_MEMORY_FACTOR times, and a base), so the scheduler places it where both are.
   */
  snapshotBytes?: number;
}

/** A loaded dataset takes more memory than its RDB (compressed, shared integers): a generous bound. */
export const SCRATCH_MEMORY_FACTOR = 3;
const SCRATCH_BASE_BYTES = 64 * 2 ** 20;

/**
 * A pod in the engine's image that only waits (`sleep`) while the driver runs its scripts in it
 * by exec; it ends itself at its lifetime (activeDeadlineSeconds), and carries that instant so
 * sweepScratch deletes one its service died before deleting. No instance label: no Service
 * selects it.
 */
export function scratchPodOf(p: ScratchPod, s: KubernetesSettings) {
  const labels: Record<string, string> = { ...MANAGED_BY, [LABEL.kind]: p.purpose, ...(p.clusterId ? { [LABEL.cluster]: p.clusterId } : {}) };
  const deadline = new Date(p.startedAt.getTime() + p.lifetimeSeconds * 1000).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: s.namespace, labels, annotations: { [DEADLINE_ANNOTATION]: deadline } },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: p.lifetimeSeconds,
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      // The engine's user, so that what a loader writes on the PVC is the engine's to read.
      securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
      containers: [
        {
          name: 'work',
          image: s.images[p.engine],
          command: ['sleep', String(p.lifetimeSeconds)],
          volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }],
          ...(p.snapshotBytes !== undefined
            ? {
                resources: {
                  requests: {
                    memory: String(SCRATCH_BASE_BYTES + SCRATCH_MEMORY_FACTOR * p.snapshotBytes),
                    'ephemeral-storage': String(SCRATCH_BASE_BYTES + p.snapshotBytes),
                  },
                },
              }
            : {}),
        },
      ],
      volumes: [p.claim ? { name: 'data', persistentVolumeClaim: { claimName: p.claim } } : { name: 'data', emptyDir: {} }],
    },
  };
}

export interface ServicePort {
  name: string;
  port: number;
}

/** The instance's Service with the given ports (a data node's and its Sentinel's). */
export function serviceOf(node: NodeSpec, ports: ServicePort[], s: KubernetesSettings) {
  const labels = { ...MANAGED_BY, [LABEL.cluster]: node.clusterId, [LABEL.instance]: node.instanceId };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: objectNames(node).service, namespace: s.namespace, labels },
    spec: {
      type: 'ClusterIP',
      // The address the store allocated for the instance: replication, Sentinels and clients use
      // it, as locally. The subnets must lie inside the cluster's Service CIDR (README, Kubernetes).
      clusterIP: node.ip,
      selector: { [LABEL.instance]: node.instanceId },
      // Sentinel and replicas must reach a node that is not ready yet (still loading, say).
      publishNotReadyAddresses: true,
      ports: [...ports].sort((a, b) => a.name.localeCompare(b.name)).map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' })),
    },
  };
}

/** The ports of the instance's Service once this node's is in it (kept: the other node's). */
export function mergePorts(existing: ServicePort[], node: NodeSpec): ServicePort[] {
  return [...existing.filter((p) => p.name !== portName(node)), { name: portName(node), port: node.port }];
}

export function networkPolicyName(clusterId: string): string {
  return `cs-allow-${clusterId}`;
}

/**
 * A cluster's allow-list as a NetworkPolicy on its pods: its data and Sentinel ports take
 * connections from the listed IPv4 networks, from the cluster's own pods (replication, Sentinels)
 * and from the service's pods (admin connections). The cluster's own addresses and the local
 * driver's service address in `allowed` are Service addresses, which a policy never sees as a
 * source: pod selectors stand for them.
 */
export function networkPolicyOf(access: ClusterAccess, namespace: string) {
  const ports = [...new Set(access.endpoints.map((e) => e.port))].sort((a, b) => a - b);
  const own = new Set([...access.endpoints.map((e) => `${e.ip}/32`), '127.0.0.1/32']);
  const cidrs = access.allowed.filter((c) => !own.has(c));
  const from: Array<{ ipBlock?: { cidr: string }; podSelector?: { matchLabels: Record<string, string> } }> = [
    ...cidrs.map((cidr) => ({ ipBlock: { cidr } })),
    { podSelector: { matchLabels: { [LABEL.cluster]: access.clusterId } } },
    { podSelector: { matchLabels: { ...SERVICE_POD_LABELS } } },
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: networkPolicyName(access.clusterId), namespace, labels: { ...MANAGED_BY, [LABEL.cluster]: access.clusterId } },
    spec: {
      podSelector: { matchLabels: { [LABEL.cluster]: access.clusterId } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from,
          ports: ports.map((port) => ({ protocol: 'TCP', port })),
        },
      ],
    },
  };
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
