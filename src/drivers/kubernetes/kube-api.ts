// The driver's only way to the Kubernetes API. Every call names its resource and verb, and a call
// not listed in KUBE_PERMISSIONS is refused before it is sent: the list is what the driver does,
// and deploy/kubernetes/rbac.yaml's Role is checked against it by the tests.
import { ApiException, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';

/** Every API call the driver and its firewall make, by RBAC resource (core group unless noted). */
export const KUBE_PERMISSIONS = [
  { apiGroup: '', resource: 'pods', verbs: ['get', 'list', 'create', 'delete'] },
  { apiGroup: '', resource: 'pods/log', verbs: ['get'] },
  { apiGroup: '', resource: 'services', verbs: ['get', 'list', 'create', 'update', 'delete'] },
  { apiGroup: '', resource: 'secrets', verbs: ['get', 'create', 'update', 'delete'] },
  { apiGroup: '', resource: 'persistentvolumeclaims', verbs: ['get', 'create', 'patch', 'delete'] },
  { apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['list', 'create', 'update', 'delete'] },
] as const;

type Permission = (typeof KUBE_PERMISSIONS)[number];
type Resource = Permission['resource'];
type Verb = Permission['verbs'][number];

/** A refusal or failure of the API, said in one line: what was asked, the status, and why. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The Status object's message from an error body, if it has one. */
function statusMessage(body: unknown): string | null {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  try {
    const s = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof s.message === 'string') return typeof s.reason === 'string' ? `${s.reason}: ${s.message}` : s.message;
  } catch {
    // not JSON: said as it is below
  }
  return text.trim() ? text.trim().slice(0, 300) : null;
}

export class KubeApi {
  readonly core: CoreV1Api;
  readonly networking: NetworkingV1Api;

  constructor(
    readonly config: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
  }

  /** The API server the driver talks to (for messages). */
  get server(): string {
    return this.config.getCurrentCluster()?.server ?? 'no cluster in the kubeconfig';
  }

  /**
   * Runs one API call. `what` names the object for messages. Errors become KubeApiError with
   * the verb, the object, the namespace, the status and the server's reason.
   */
  async call<T>(resource: Resource, verb: Verb, what: string, fn: () => Promise<T>): Promise<T> {
    if (!KUBE_PERMISSIONS.some((p) => p.resource === resource && (p.verbs as readonly string[]).includes(verb))) {
      throw new Error(`the Kubernetes driver called ${verb} on ${resource}, which KUBE_PERMISSIONS (and the RBAC Role) does not list`);
    }
    try {
      return await fn();
    } catch (err) {
      const where = `${verb} ${resource}${what ? ` ${what}` : ''} in namespace ${this.namespace}`;
      if (err instanceof ApiException) {
        const why = statusMessage(err.body) ?? 'no reason given';
        const hint = err.code === 403 ? ' (the service account lacks this permission: see deploy/kubernetes/rbac.yaml)' : '';
        throw new KubeApiError(err.code, `Kubernetes API refused to ${where}: HTTP ${err.code} ${why}${hint}`);
      }
      const msg = err instanceof Error ? err.message : String(err);
      throw new KubeApiError(0, `Kubernetes API at ${this.server} did not answer to ${where}: ${msg}`);
    }
  }

  /** The call's result, or null when the object does not exist (404). */
  async orNull<T>(p: Promise<T>): Promise<T | null> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Deletes, treating an object already gone as deleted. */
  async gone(p: Promise<unknown>): Promise<void> {
    await this.orNull(p);
  }
}
