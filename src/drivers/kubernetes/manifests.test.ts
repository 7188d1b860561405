import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PersistentVolumeClaim, Pod, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { CLUSTER_ID, dataNode, PASSWORD, SERVICE_SECRET, sentinelBeside } from '../../../test/support/k8s-nodes.js';
import { quantityBytes } from './kubernetes-driver.js';
import { DEADLINE_ANNOTATION, engineConfigFor, imageVersion, LABEL, loaderPodName, mergePorts, networkPolicyOf, podOf, pvcOf, scratchPodOf, secretOf, serviceOf, verifyPodName, type KubernetesSettings } from './manifests.js';

const settings: KubernetesSettings = { namespace: 'tenant-a', images: { redis: 'redis:7.0.15', valkey: 'valkey/valkey:8.0.1' }, storageClass: 'fast-expandable' };
const data = dataNode();
const sentinel = sentinelBeside(data);

describe('Kubernetes manifests', () => {
  it('are valid against the Kubernetes schemas for a data node, its Sentinel and their Service', () => {
    for (const n of [data, sentinel, dataNode({ engine: 'valkey', volumeGb: undefined })]) {
      expect(() => new Pod(podOf(n, settings) as never).validate()).not.toThrow();
      expect(() => new Secret(secretOf(n, settings) as never).validate()).not.toThrow();
    }
    expect(() => new PersistentVolumeClaim(pvcOf(data, settings) as never).validate()).not.toThrow();
    const svc = serviceOf(data, mergePorts([{ name: 'data', port: 6379 }], sentinel), settings);
    expect(() => new Service(svc as never).validate()).not.toThrow();
    // The schema check is not vacuous: a port given as text is refused.
    const bad = podOf(data, settings);
    (bad.spec.containers[0].ports[0] as { containerPort: unknown }).containerPort = '6379';
    expect(() => new Pod(bad as never).validate()).toThrow(/containerPort/);
  });

  it('size a data node\'s claim from its block storage and give a Sentinel no claim', () => {
    expect(pvcOf(data, settings)!.spec).toMatchObject({ storageClassName: 'fast-expandable', resources: { requests: { storage: '16Gi' } } });
    expect(pvcOf(sentinel, settings)).toBeNull();
    expect(podOf(sentinel, settings).spec.volumes[1]).toEqual({ name: 'data', emptyDir: {} });
    expect(podOf(data, settings).spec.volumes[1]).toEqual({ name: 'data', persistentVolumeClaim: { claimName: `cs-${data.nodeId}` } });
  });

  it('give the instance one Service at its address, each port to the pod that declares it', () => {
    const svc = serviceOf(data, mergePorts([{ name: 'data', port: 6379 }], sentinel), settings);
    expect(svc.spec.clusterIP).toBe(data.ip);
    expect(svc.spec.selector).toEqual({ [LABEL.instance]: data.instanceId });
    expect(svc.spec.ports).toEqual([
      { name: 'data', port: 6379, targetPort: 'data', protocol: 'TCP' },
      { name: 'sentinel', port: 26379, targetPort: 'sentinel', protocol: 'TCP' },
    ]);
    expect(podOf(sentinel, settings).spec.containers[0].ports).toEqual([{ name: 'sentinel', containerPort: 26379, protocol: 'TCP' }]);
    // A port moved (a new Sentinel port) replaces the old one of the same name.
    expect(mergePorts([{ name: 'data', port: 6379 }, { name: 'sentinel', port: 26000 }], sentinel)).toEqual([{ name: 'data', port: 6379 }, { name: 'sentinel', port: 26379 }]);
  });

  it('run the engine in the foreground on every pod address, announcing the Service address', () => {
    const conf = engineConfigFor(dataNode({ replicaOf: { ip: '10.96.200.12', port: 6379 } })).split('\n');
    expect(conf).toContain('bind 0.0.0.0');
    expect(conf).toContain('daemonize no');
    expect(conf).toContain('replica-announce-ip 10.96.200.11');
    expect(conf).toContain('replicaof 10.96.200.12 6379');
    expect(conf).toContain('dir "/data"');
    expect(conf.some((l) => l.startsWith('bind-source-addr'))).toBe(false);
    const s = engineConfigFor(sentinel).split('\n');
    expect(s).toContain('sentinel announce-ip 10.96.200.11');
    expect(s).toContain('sentinel monitor cluster-one 10.96.200.11 6379 2');
  });

  it('keep secrets out of the pod spec: they are in the Secret, and the probe reads them from the environment', () => {
    const pod = JSON.stringify(podOf(data, settings));
    expect(pod).not.toContain(PASSWORD);
    expect(pod).not.toContain(SERVICE_SECRET);
    const secret = secretOf(data, settings);
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe(PASSWORD);
    expect(Buffer.from(secret.data['engine.conf'], 'base64').toString()).toContain('daemonize no');
  });

  it('turn an allow-list into a NetworkPolicy on the cluster\'s pods and ports', () => {
    const policy = networkPolicyOf({ clusterId: CLUSTER_ID, allowed: ['192.168.10.0/24', '10.96.200.11/32', '127.0.0.1/32'], endpoints: [{ ip: data.ip, port: 6379 }, { ip: data.ip, port: 26379 }] }, 'tenant-a');
    expect(() => new NetworkPolicy(policy as never).validate()).not.toThrow();
    expect(policy.spec.podSelector).toEqual({ matchLabels: { [LABEL.cluster]: CLUSTER_ID } });
    const rule = policy.spec.ingress[0];
    // The tenant's network; the cluster's own Service addresses and loopback are pod selectors instead.
    expect(rule.from.filter((f) => 'ipBlock' in f)).toEqual([{ ipBlock: { cidr: '192.168.10.0/24' } }]);
    expect(rule.from).toContainEqual({ podSelector: { matchLabels: { [LABEL.cluster]: CLUSTER_ID } } });
    expect(rule.from).toContainEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cachestore' } } });
    expect(rule.ports).toEqual([{ protocol: 'TCP', port: 6379 }, { protocol: 'TCP', port: 26379 }]);
  });

  it('make scratch pods (verify, load) valid, self-ending at their deadline, and selected by no Service', () => {
    const startedAt = new Date('2026-01-02T03:04:05.000Z');
    const verify = scratchPodOf({ name: verifyPodName('b'.repeat(32)), purpose: 'verify', engine: 'valkey', clusterId: null, claim: null, startedAt, lifetimeSeconds: 900, snapshotBytes: 100 * 2 ** 20 }, settings);
    const load = scratchPodOf({ name: loaderPodName(data), purpose: 'load', engine: 'redis', clusterId: CLUSTER_ID, claim: `cs-${data.nodeId}`, startedAt, lifetimeSeconds: 1200 }, settings);
    for (const p of [verify, load]) expect(() => new Pod(p as never).validate()).not.toThrow();
    expect(verify.metadata.name).toBe(`cs-verify-${'b'.repeat(32)}`);
    expect(verify.spec.containers[0].image).toBe('valkey/valkey:8.0.1');
    expect(verify.spec.volumes).toEqual([{ name: 'data', emptyDir: {} }]);
    // Room to load a 100 MiB snapshot: the scheduler places the verification where it fits.
    expect(verify.spec.containers[0].resources).toEqual({ requests: { memory: String((64 + 3 * 100) * 2 ** 20), 'ephemeral-storage': String((64 + 100) * 2 ** 20) } });
    expect(load.spec.containers[0]).not.toHaveProperty('resources');
    expect(load.spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: `cs-${data.nodeId}` } }]);
    expect(load.spec.activeDeadlineSeconds).toBe(1200);
    expect(load.spec.containers[0].command).toEqual(['sleep', '1200']);
    expect(load.metadata.annotations[DEADLINE_ANNOTATION]).toBe('2026-01-02T03:24:05.000Z');
    expect(load.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cachestore', [LABEL.kind]: 'load', [LABEL.cluster]: CLUSTER_ID });
    expect(verify.metadata.labels[LABEL.instance]).toBeUndefined();
  });

  it('read quantities as bytes for the never-shrink check', () => {
    expect(quantityBytes('16Gi')).toBe(16 * 2 ** 30);
    expect(quantityBytes('512Mi')).toBe(512 * 2 ** 20);
    expect(quantityBytes('1073741824')).toBe(2 ** 30);
    expect(quantityBytes('1G')).toBeNaN();
  });

  it('read the engine version the catalogue offers from an image\'s tag, and none from a tag without one', () => {
    expect(imageVersion('redis:7.0.15')).toBe('7.0.15');
    expect(imageVersion('valkey/valkey:8.0.1-bookworm')).toBe('8.0.1');
    expect(imageVersion('registry.example:5000/cache/redis:v7.2.4@sha256:abc')).toBe('7.2.4');
    expect(imageVersion('registry.example:5000/redis')).toBeNull();
    expect(imageVersion('redis:latest')).toBeNull();
    expect(imageVersion('redis:7.2')).toBeNull();
    expect(imageVersion('redis:7.0.15.1')).toBeNull();
    expect(imageVersion('redis@sha256:abc')).toBeNull();
  });
});
