// A FAKE Kubernetes API server, in-process, for the Kubernetes driver's tests: no API server can
// run on these machines. It speaks the REST paths, verbs and Status objects that
// @kubernetes/client-node uses, for the kinds the driver uses (pods, pods/log, services, secrets,
// persistentvolumeclaims, networkpolicies): create / get / list (labelSelector) / update (PUT,
// with resourceVersion conflicts) / patch (JSON Patch and merge patch) / delete, 404 / 409 / 422
// Status objects. Every object written is validated against the Kubernetes schemas
// (kubernetes-models), as a real server would refuse an invalid one. By default there is no
// kubelet: pods become Running and Ready on creation unless a test says otherwise (setPodStatus),
// and vanish at once on deletion. With `runPods = true` a FAKE kubelet (fake-kubelet.ts) runs
// them as local processes instead: engines really start, get Ready, log, end on deletion.
//
// Exec (pods/<name>/exec) is served over a WebSocket speaking the channel protocol client-node
// uses: `v5.channel.k8s.io` (or `v4.channel.k8s.io` when a test offers only that, as an older
// server would), stdin on channel 0 (closed by the v5 close message 255 0), stdout 1, stderr 2,
// and on channel 3 the Status the kubelet sends (Success, or NonZeroExitCode with the exit code).
// With no kubelet, the command runs as a local process (the real `sh`, the real installed
// engine binaries) in its own process group, ended when its pod is deleted. Volumes: each PVC
// has a local directory that lives as long as the claim (it survives its pods, as a real PVC
// does: volumeDir), each pod's emptyDir one that goes with the pod. A command sees the pod's
// paths through its ARGUMENTS only: an argument that is a container's mountPath, or starts with
// one and a `/`, has that prefix replaced by the volume's local directory (the driver passes
// every path as a positional argument of `sh -c`). Only persistentVolumeClaim and emptyDir
// volumes can be mounted in a container that is exec'd into.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeKubelet, localPath, type KubeletPod } from './fake-kubelet.js';

/** The little of `ws` (client-node's own WebSocket package) the fake uses, typed here: no @types/ws is installed. */
interface WebSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: Buffer): void;
  close(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'close', fn: () => void): void;
}
interface WebSocketServer {
  readonly clients: Set<WebSocket>;
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, done: (ws: WebSocket) => void): void;
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (opts: { noServer: true; handleProtocols: (offered: Set<string>) => string | false }) => WebSocketServer;
};
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
  /** Run pods as local processes (the fake kubelet) instead of making them Ready at once. */
  runPods = false;
  /** Open follow=true log streams, by pod name. */
  private followers = new Map<string, Set<ServerResponse>>();
  private faults: Fault[] = [];
  private version = 1;
  private server!: Server;
  /** Where the volumes' local directories are (removed by close). */
  readonly root = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  /** The channel protocols exec offers, best first (a test may offer only v4, as an older server). */
  execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  /** Every exec run so far: pod, container, the command as asked (pod paths) and its exit code. */
  readonly execs: Array<{ pod: string; container: string; command: string[]; exitCode: number | null }> = [];
  private execFaults: Array<{ pod: RegExp; afterBytes: number; times: number }> = [];

  /** Back to an empty API server with the defaults, for the next test (faults too). */
  reset(): void {
    this.kubelet.killAll();
    this.runPods = false;
    this.objects.clear();
    this.requests.length = 0;
    this.execs.length = 0;
    this.podLogs.clear();
    this.faults = [];
    this.execFaults = [];
    this.newPods = 'ready';
    this.execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  }
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => this.execProtocols.find((p) => offered.has(p)) ?? false });
  /** Running exec processes by pod name (ended when the pod goes). */
  private readonly running = new Map<string, Set<ChildProcess>>();
  private readonly kubelet = new FakeKubelet({
    root: this.root,
    current: (ns, name, uid) => {
      const pod = this.get('pods', ns, name);
      return pod && pod.metadata.uid === uid ? pod : undefined;
    },
    setStatus: (pod, status) => {
      pod.status = status;
      pod.metadata.resourceVersion = String(++this.version);
    },
    vanish: (pod) => this.removePod(pod as Obj),
    appendPodLog: (name, text) => this.appendPodLog(name, text),
    secretData: (ns, name) => this.get('secrets', ns, name)?.data,
    services: (ns) => this.list('services', ns),
    volumeDir: (ns, claim) => this.volumeDir(ns, claim),
    emptyDir: (pod, volume) => this.emptyDir(pod as Obj, volume),
    containerEnv: (ns, container) => this.containerEnv(ns, container),
  });

  static async start(): Promise<FakeKubeApi> {
    const f = new FakeKubeApi();
    f.server = createServer((req, res) => void f.handle(req, res));
    f.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => f.upgrade(req, socket, head));
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    return f;
  }

  /** The local directory that stands for a PVC's volume (exists while the claim does). */
  volumeDir(namespace: string, claim: string): string {
    return join(this.root, 'pvc', namespace, claim);
  }

  private emptyDir(pod: Obj | KubeletPod, volume: string): string {
    return join(this.root, 'empty', String(pod.metadata.uid), volume);
  }

  /** The next `times` execs into a pod matching `pod` lose their connection after `afterBytes` of stdout (a dropped stream). */
  dropExec(pod: RegExp, afterBytes: number, times = 1): void {
    this.execFaults.push({ pod, afterBytes, times });
  }

  /** Ends every exec process of a pod (its deletion: the kubelet kills its containers). */
  private endExecs(pod: string): void {
    for (const child of this.running.get(pod) ?? []) killGroup(child);
    this.running.delete(pod);
  }

  private refuseUpgrade(socket: Socket, code: number, message: string): void {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code });
    socket.end(`HTTP/1.1 ${code} ${REASONS[code] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) return this.refuseUpgrade(socket, 404, `the fake upgrades no ${url.pathname}`);
    const [, namespace, name] = m;
    this.requests.push({ method: 'GET', resource: 'pods/exec', name, namespace, query: url.searchParams, body: undefined });
    const fault = this.faults.find((f) => f.method === 'GET' && f.resource === 'pods/exec' && f.times > 0);
    if (fault) {
      fault.times--;
      return this.refuseUpgrade(socket, fault.status, fault.message);
    }
    const pod = this.get('pods', namespace, name);
    if (!pod) return this.refuseUpgrade(socket, 404, `pods "${name}" not found`);
    const containerName = url.searchParams.get('container') ?? '';
    const container = (pod.spec?.containers ?? []).find((c: { name: string }) => c.name === containerName);
    if (!container) return this.refuseUpgrade(socket, 400, `container ${containerName} is not valid for pod ${name}`);
    if (pod.status?.phase !== 'Running') return this.refuseUpgrade(socket, 400, `unable to upgrade connection: container not found ("${containerName}")`);
    const mounts: Array<[string, string]> = [];
    for (const vm of container.volumeMounts ?? []) {
      const vol = (pod.spec.volumes ?? []).find((v: { name: string }) => v.name === vm.name);
      if (vol?.persistentVolumeClaim) mounts.push([vm.mountPath, this.volumeDir(namespace, vol.persistentVolumeClaim.claimName)]);
      else if (vol?.emptyDir) mounts.push([vm.mountPath, this.emptyDir(pod, vm.name)]);
      else return this.refuseUpgrade(socket, 400, `the fake maps only persistentVolumeClaim and emptyDir volumes into an exec (volume ${vm.name})`);
    }
    const local = localPath(mounts);
    const command = url.searchParams.getAll('command');
    const env = this.containerEnv(namespace, container);
    const drop = this.execFaults.find((f) => f.times > 0 && f.pod.test(name));
    if (drop) drop.times--;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.runExec(ws, namespace, name, containerName, command, command.map(local), env, url.searchParams.get('stdin') === 'true', drop?.afterBytes ?? null));
  }

  /** A container's environment: its values, and those from Secrets. */
  private containerEnv(namespace: string, container: { env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> }): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.root };
    for (const e of container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      const data = ref ? this.get('secrets', namespace, ref.name)?.data?.[ref.key] : undefined;
      env[e.name] = e.value ?? (data ? Buffer.from(data, 'base64').toString() : '');
    }
    return env;
  }

  /** A pod object goes: its log streams end, its execs are killed, its emptyDirs removed. */
  private removePod(pod: Obj): void {
    const name = pod.metadata.name;
    const key = `pods/${pod.metadata.namespace}/${name}`;
    if (this.objects.get(key)?.metadata.uid === pod.metadata.uid) this.objects.delete(key);
    for (const f of this.followers.get(name) ?? []) f.end();
    this.endExecs(name);
    rmSync(join(this.root, 'empty', String(pod.metadata.uid)), { recursive: true, force: true });
    // A new pod of the same name starts a new log (only with the kubelet: tests set podLogs by hand).
    if (this.runPods) this.podLogs.delete(name);
  }

  private runExec(ws: WebSocket, namespace: string, pod: string, container: string, asked: string[], command: string[], env: Record<string, string>, stdin: boolean, dropAfter: number | null): void {
    const record = { pod, container, command: asked, exitCode: null as number | null };
    this.execs.push(record);
    const child = spawn(command[0], command.slice(1), { cwd: this.root, env, detached: true, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const set = this.running.get(pod) ?? new Set<ChildProcess>();
    this.running.set(pod, set.add(child));
    child.stdin?.on('error', () => undefined);
    let sent = 0;
    let dropped = false;
    const forward = (channel: number, stream: NodeJS.ReadableStream & { pause(): void; resume(): void }) => {
      stream.on('data', (chunk: Buffer) => {
        if (dropped || ws.readyState !== ws.OPEN) return;
        ws.send(Buffer.concat([Buffer.from([channel]), chunk]));
        if (channel === 1) sent += chunk.length;
        if (channel === 1 && dropAfter !== null && sent >= dropAfter) {
          // The connection is lost mid-stream: no status ever arrives.
          dropped = true;
          ws.terminate();
          killGroup(child);
          return;
        }
        // Backpressure: the command waits while the client is behind.
        if (ws.bufferedAmount > 4 << 20) {
          stream.pause();
          const wait = () => (ws.readyState !== ws.OPEN || ws.bufferedAmount < 1 << 20 ? stream.resume() : setTimeout(wait, 5));
          setTimeout(wait, 5);
        }
      });
    };
    forward(1, child.stdout!);
    forward(2, child.stderr!);
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      if (channel === 0 && child.stdin) {
        if (!child.stdin.write(data.subarray(1))) {
          ws.pause();
          child.stdin.once('drain', () => ws.resume());
        }
      } else if (channel === 255 && data[1] === 0) {
        child.stdin?.end();
      }
    });
    // The client went away (or, in v4, closed its stdin the only way it can): the command ends.
    ws.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) killGroup(child);
    });
    child.once('error', (err) => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message: err.message, reason: 'InternalError' }))]));
      ws.close();
    });
    child.once('close', (code, sig) => {
      set.delete(child);
      const exit = code ?? 128 + (sig === 'SIGKILL' ? 9 : 15);
      record.exitCode = exit;
      if (dropped || ws.readyState !== ws.OPEN) return;
      const status =
        exit === 0
          ? { metadata: {}, status: 'Success' }
          : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: exit status ${exit}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(exit) }] } };
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
      ws.close();
    });
    void namespace;
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
    this.kubelet.killAll();
    for (const pod of [...this.running.keys()]) this.endExecs(pod);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.root, { recursive: true, force: true });
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
      if (plural === 'pods' && this.kubelet.has(have)) {
        // The kubelet ends the pod's processes; the object goes when they have exited.
        const options = (body ?? {}) as { gracePeriodSeconds?: number };
        const asked = url.searchParams.get('gracePeriodSeconds') ?? options.gracePeriodSeconds;
        const grace = asked !== undefined && asked !== null ? Number(asked) : (have.spec?.terminationGracePeriodSeconds ?? 30);
        if (!have.metadata.deletionTimestamp) {
          have.metadata.deletionTimestamp = new Date().toISOString();
          have.metadata.deletionGracePeriodSeconds = grace;
          have.metadata.resourceVersion = String(++this.version);
        }
        this.kubelet.terminate(have, grace);
        return this.json(res, 200, have);
      }
      this.objects.delete(key(name!));
      if (plural === 'pods') this.removePod(have);
      // A claim's volume goes with it (reclaimPolicy Delete).
      if (plural === 'persistentvolumeclaims') rmSync(this.volumeDir(namespace, name!), { recursive: true, force: true });
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
          if (op.op !== 'replace' && op.op !== 'add' && op.op !== 'remove') return this.status(res, 422, `the fake does not apply JSON Patch op ${op.op}`);
          // JSON Pointer: `~1` is a `/` inside a name (label keys), `~0` a `~`.
          const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
          let at: any = patched;
          for (const p of parts.slice(0, -1)) at = at[p] ??= {};
          const last = parts.at(-1)!;
          if (op.op === 'remove') {
            if (!(last in at)) return this.status(res, 422, `the patch removes ${op.path}, which does not exist`);
            delete at[last];
          } else {
            at[last] = op.value;
          }
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
      obj.status = before?.status ?? (this.runPods ? { phase: 'Pending', conditions: [] } : this.newPods === 'ready' ? { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } : { phase: 'Pending', conditions: [] });
    }
    if (plural === 'persistentvolumeclaims') {
      obj.status = { phase: 'Bound' };
      mkdirSync(this.volumeDir(namespace, obj.metadata.name), { recursive: true, mode: 0o700 });
    }
    if (plural === 'pods' && !before) {
      for (const v of obj.spec?.volumes ?? []) if (v.emptyDir) mkdirSync(this.emptyDir(obj, v.name), { recursive: true, mode: 0o700 });
    }
    this.objects.set(`${plural}/${namespace}/${obj.metadata.name}`, obj);
    if (plural === 'pods' && !before && this.runPods) {
      this.podLogs.delete(obj.metadata.name);
      this.kubelet.run(obj);
    }
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

/** SIGKILL to an exec's whole process group (what its command started, too). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
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
