// A FAKE Kubernetes API server, in-process, for the Kubernetes driver's tests: no API server can
// run on these machines. It speaks the REST paths, verbs and Status objects that
// @kubernetes/client-node uses, for the kinds the driver uses (pods, pods/log, services, secrets,
// persistentvolumeclaims, networkpolicies): create / get / list (labelSelector) / update (PUT,
// with resourceVersion conflicts) / patch (JSON Patch and merge patch) / delete, 404 / 409 / 422
// Status objects. Every object written is validated against the Kubernetes schemas
// (kubernetes-models), as a real server would refuse an invalid one. There is no kubelet: pods
// become Running and Ready on creation unless a test says otherwise (setPodStatus), and vanish
// at once on deletion.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PersistentVolumeClaim, Pod, Secret, Service } from 'kubernetes-models/v1';

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string }; spec?: any; status?: any; data?: any; stringData?: any };

const KINDS: Record<string, { kind: string; apiVersion: string; validate: (o: unknown) => void }> = {
  pods: { kind: 'Pod', apiVersion: 'v1', validate: (o) => new Pod(o as never).validate() },
  services: { kind: 'Service', apiVersion: 'v1', validate: (o) => new Service(o as never).validate() },
  secrets: { kind: 'Secret', apiVersion: 'v1', validate: (o) => new Secret(o as never).validate() },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', validate: (o) => new PersistentVolumeClaim(o as never).validate() },
  networkpolicies: { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', validate: (o) => new NetworkPolicy(o as never).validate() },
};

/** One request as the fake saw it: for asserting which calls the driver made. */
export interface SeenRequest {
  method: string;
  resource: string;
  name?: string;
  namespace: string;
  query: URLSearchParams;
  body: unknown;
  contentType?: string;
}

interface Fault {
  method: string;
  resource: string;
  status: number;
  message: string;
  times: number;
}

const REASONS: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 409: 'AlreadyExists', 422: 'Invalid', 500: 'InternalError' };

export class FakeKubeApi {
  /** `${resource}/${namespace}/${name}` -> object. */
  readonly objects = new Map<string, Obj>();
  readonly requests: SeenRequest[] = [];
  /** What GET .../pods/<name>/log answers, by pod name. */
  readonly podLogs = new Map<string, string>();
  /** New pods' status: 'ready' (Running and Ready at once) or 'pending' (a test moves them on). */
  newPods: 'ready' | 'pending' = 'ready';
  /** Open follow=true log streams, by pod name. */
  private followers = new Map<string, Set<ServerResponse>>();
  private faults: Fault[] = [];
  private version = 1;
  private server!: Server;

  static async start(): Promise<FakeKubeApi> {
    const f = new FakeKubeApi();
    f.server = createServer((req, res) => void f.handle(req, res));
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig pointing at this fake. */
  kubeConfig(namespace = 'cachestore-test'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The next `times` requests of this method on this resource answer `status` with a Status object. */
  fail(method: string, resource: string, status: number, message: string, times = 1): void {
    this.faults.push({ method, resource, status, message, times });
  }

  get(resource: string, namespace: string, name: string): Obj | undefined {
    return this.objects.get(`${resource}/${namespace}/${name}`);
  }

  list(resource: string, namespace?: string): Obj[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${resource}/${namespace === undefined ? '' : `${namespace}/`}`)).map(([, o]) => o);
  }

  /** What the pod's engine logs now: kept for later reads, and pushed to every follower. */
  appendPodLog(name: string, text: string): void {
    this.podLogs.set(name, (this.podLogs.get(name) ?? '') + text);
    for (const res of this.followers.get(name) ?? []) res.write(text);
  }

  /** Moves a pod to a phase; `ready` sets its Ready condition (what the kubelet would report). */
  setPodStatus(namespace: string, name: string, phase: 'Pending' | 'Running' | 'Failed' | 'Succeeded', ready: boolean): void {
    const pod = this.get('pods', namespace, name);
    if (!pod) throw new Error(`fake: no pod ${name}`);
    pod.status = { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] };
    pod.metadata.resourceVersion = String(++this.version);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const m = /^\/(?:api\/v1|apis\/networking\.k8s\.io\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!m || !KINDS[m[2]]) return this.status(res, 404, `the fake serves no ${url.pathname}`);
    const [, namespace, plural, name, sub] = m;
    const resource = sub ? `${plural}/${sub}` : plural;
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return this.status(res, 400, 'the body is not JSON');
    }
    const method = req.method ?? 'GET';
    this.requests.push({ method, resource, name, namespace, query: url.searchParams, body, contentType: req.headers['content-type'] });
    const fault = this.faults.find((f) => f.method === method && f.resource === resource && f.times > 0);
    if (fault) {
      fault.times--;
      return this.status(res, fault.status, fault.message);
    }
    const key = (n: string) => `${plural}/${namespace}/${n}`;
    const spec = KINDS[plural];

    if (sub === 'log') {
      const pod = this.objects.get(key(name!));
      if (!pod) return this.status(res, 404, `pods "${name}" not found`);
      if (pod.status?.phase === 'Pending' && !this.podLogs.has(name!)) return this.status(res, 400, `container "engine" in pod "${name}" is waiting to start: ContainerCreating`);
      const lines = (this.podLogs.get(name!) ?? '').split('\n').filter(Boolean);
      const tail = Number(url.searchParams.get('tailLines') ?? lines.length);
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (url.searchParams.get('follow') === 'true') {
        // Open until the pod goes or the client leaves; sinceSeconds is read as "everything".
        if (tail > 0) res.write(lines.slice(-tail).join('\n') + '\n');
        const set = this.followers.get(name!) ?? new Set<ServerResponse>();
        this.followers.set(name!, set.add(res));
        res.once('close', () => set.delete(res));
        return;
      }
      return void res.end(lines.slice(-tail).join('\n') + (lines.length ? '\n' : ''));
    }
    if (method === 'GET' && !name) {
      const items = this.list(plural, namespace).filter((o) => matches(o.metadata.labels ?? {}, url.searchParams.get('labelSelector')));
      const limit = Number(url.searchParams.get('limit') ?? 0);
      return this.json(res, 200, { apiVersion: spec.apiVersion, kind: `${spec.kind}List`, metadata: { resourceVersion: String(this.version) }, items: limit ? items.slice(0, limit) : items });
    }
    if (method === 'POST' && !name) {
      const o = body as Obj;
      if (!o?.metadata?.name) return this.status(res, 422, `${spec.kind} without metadata.name`);
      if (this.objects.has(key(o.metadata.name))) return this.status(res, 409, `${plural} "${o.metadata.name}" already exists`);
      return this.store(res, 201, plural, namespace, o, undefined);
    }
    const have = name ? this.objects.get(key(name)) : undefined;
    if (!have) return this.status(res, 404, `${plural} "${name}" not found`);
    if (method === 'GET') return this.json(res, 200, have);
    if (method === 'DELETE') {
      this.objects.delete(key(name!));
      if (plural === 'pods') for (const f of this.followers.get(name!) ?? []) f.end();
      return this.json(res, 200, have);
    }
    if (method === 'PUT') {
      const o = body as Obj;
      const rv = o?.metadata?.resourceVersion;
      if (rv !== undefined && rv !== have.metadata.resourceVersion) {
        return this.status(res, 409, `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`, 'Conflict');
      }
      return this.store(res, 200, plural, namespace, o, have);
    }
    if (method === 'PATCH') {
      const type = req.headers['content-type'] ?? '';
      const patched = structuredClone(have);
      if (type.includes('json-patch')) {
        for (const op of body as Array<{ op: string; path: string; value: unknown }>) {
          if (op.op !== 'replace' && op.op !== 'add') return this.status(res, 422, `the fake does not apply JSON Patch op ${op.op}`);
          const parts = op.path.split('/').slice(1);
          let at: any = patched;
          for (const p of parts.slice(0, -1)) at = at[p] ??= {};
          at[parts.at(-1)!] = op.value;
        }
      } else if (type.includes('merge-patch')) {
        mergeInto(patched, body);
      } else {
        return this.status(res, 415, `the fake does not take patches of type ${type}`);
      }
      return this.store(res, 200, plural, namespace, patched, have);
    }
    return this.status(res, 405, `${method} is not served by the fake`);
  }

  /** Validates and stores an object as the server would: metadata filled in, status kept. */
  private store(res: ServerResponse, code: number, plural: string, namespace: string, o: Obj, before: Obj | undefined): void {
    const spec = KINDS[plural];
    const obj: Obj = structuredClone(o);
    obj.apiVersion ??= spec.apiVersion;
    obj.kind ??= spec.kind;
    try {
      spec.validate(obj);
    } catch (err) {
      return this.status(res, 422, `${spec.kind} "${obj.metadata.name}" is invalid: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (plural === 'services') {
      const ip = obj.spec?.clusterIP;
      const other = this.list('services').find((s) => s.spec?.clusterIP === ip && s.metadata.name !== obj.metadata.name);
      if (ip && other) return this.status(res, 422, `Service "${obj.metadata.name}" is invalid: spec.clusterIP: Invalid value: "${ip}": provided IP is already allocated`);
      if (before && before.spec?.clusterIP !== ip) return this.status(res, 422, `Service "${obj.metadata.name}" is invalid: spec.clusterIP: field is immutable`);
    }
    if (plural === 'persistentvolumeclaims' && before) {
      const b = quantityGi(before.spec?.resources?.requests?.storage);
      const a = quantityGi(obj.spec?.resources?.requests?.storage);
      if (a < b) return this.status(res, 422, `PersistentVolumeClaim "${obj.metadata.name}" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than previous value`);
    }
    if (plural === 'secrets' && obj.stringData) {
      obj.data = { ...(obj.data ?? {}), ...Object.fromEntries(Object.entries(obj.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
      delete obj.stringData;
    }
    obj.metadata = { ...obj.metadata, namespace, uid: before?.metadata.uid ?? `uid-${this.version}`, creationTimestamp: before?.metadata.creationTimestamp ?? new Date().toISOString(), resourceVersion: String(++this.version) };
    if (plural === 'pods') {
      obj.status = before?.status ?? (this.newPods === 'ready' ? { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } : { phase: 'Pending', conditions: [] });
    }
    if (plural === 'persistentvolumeclaims') obj.status = { phase: 'Bound' };
    this.objects.set(`${plural}/${namespace}/${obj.metadata.name}`, obj);
    this.json(res, code, obj);
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, message: string, reason?: string): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reason ?? REASONS[code] ?? 'Unknown', code });
  }
}

/** Equality-based label selectors (`a=b,c=d`), the only form the driver sends. */
function matches(labels: Record<string, string>, sel: string | null): boolean {
  if (!sel) return true;
  return sel.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels[k] === v;
  });
}

function mergeInto(target: any, patch: any): void {
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object') mergeInto(target[k], v);
    else target[k] = v;
  }
}

function quantityGi(q: string | undefined): number {
  const m = /^(\d+)Gi$/.exec(q ?? '');
  return m ? Number(m[1]) : 0;
}
