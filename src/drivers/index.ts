// Chooses where engines run (CACHESTORE_DRIVER): processes on this machine (the default) or pods
// in a Kubernetes namespace. Everything above the driver port is the same for both.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import type { Driver, Firewall } from './driver.js';
import type { KubernetesDriver, KubernetesFirewall } from './kubernetes/kubernetes-driver.js';
import { InstalledEngines } from './local/installed-engines.js';
import { LocalDriver } from './local/local-driver.js';
import { NftFirewall } from './local/nftables.js';
import { LoopVolumes } from './local/volumes.js';

export interface Drivers {
  driver: Driver;
  firewall: Firewall;
}

export async function createDrivers(config: Config, logger: Logger): Promise<Drivers> {
  if (config.driver === 'kubernetes') return createKubernetes(config, logger);
  const volumes = await LoopVolumes.detect(config.volumes, config.volumeMibPerGb);
  if (volumes.unavailable) logger.warn(`data volumes are NOT real: ${volumes.unavailable}; block storage sizes are recorded only`);
  else logger.info({ mib_per_gb: volumes.mibPerGb }, 'data volumes: each data node runs on a loop-mounted XFS filesystem of its block storage size');
  return { driver: new LocalDriver(config.dataDir, new InstalledEngines(config.enginePath), volumes), firewall: await NftFirewall.detect(config.dataDir) };
}

/**
 * The kubeconfig from KUBECONFIG, ~/.kube/config or the pod's service account (loadFromDefault).
 * One call before anything else: an API that does not answer, or refuses, ends the start with
 * what was tried, not with a stack trace on the first cluster request.
 */
export async function createKubernetes(config: Config, logger: Logger, kubeConfig?: KubeConfig): Promise<{ driver: KubernetesDriver; firewall: KubernetesFirewall }> {
  // Loaded only for this driver: the client library alone is ~1 s of CPU to import (10 s and
  // more on a loaded 2-core machine), which every start of the local driver would pay.
  const [client, { KubeApi }, k8s, manifests] = await Promise.all([
    import('@kubernetes/client-node'),
    import('./kubernetes/kube-api.js'),
    import('./kubernetes/kubernetes-driver.js'),
    import('./kubernetes/manifests.js'),
  ]);
  const kc = kubeConfig ?? new client.KubeConfig();
  if (!kubeConfig) kc.loadFromDefault();
  const namespace = config.kubernetes.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const api = new KubeApi(kc, namespace);
  try {
    await api.call('pods', 'list', '', () => api.core.listNamespacedPod({ namespace, limit: 1 }));
  } catch (err) {
    throw new ConfigError(`CACHESTORE_DRIVER=kubernetes: the Kubernetes API at ${api.server} cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  logger.info({ server: api.server, namespace, images: config.kubernetes.images }, 'engines run as pods in Kubernetes');
  for (const [what, why] of Object.entries(k8s.PORT_GAPS)) logger.warn(`Kubernetes driver: ${what} is not available: ${why}`);
  for (const [engine, image] of Object.entries(config.kubernetes.images)) {
    if (!manifests.imageVersion(image)) logger.warn(`Kubernetes driver: ${engine} is not offered: its image ${image} names no x.y.z version in its tag`);
  }
  const settings = { namespace, images: config.kubernetes.images, storageClass: config.kubernetes.storageClass };
  return { driver: new k8s.KubernetesDriver(api, settings), firewall: new k8s.KubernetesFirewall(api) };
}
