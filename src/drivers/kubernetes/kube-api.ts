// The driver's only way to the Kubernetes API. Every call names its resource and verb, and a call
// not listed in KUBE_PERMISSIONS is refused before it is sent: the list is what the driver does,
// and deploy/kubernetes/rbac.yaml's Role is checked against it by the tests.
import { PassThrough, Writable, type Readable } from 'node:stream';
import { ApiException, CoreV1Api, Exec, KubeConfig, NetworkingV1Api, type V1Pod, type V1Status } from '@kubernetes/client-node';

/** Every API call the driver and its firewall make, by RBAC resource (core group unless noted). */
export const KUBE_PERMISSIONS = [
  { apiGroup: '', resource: 'pods', verbs: ['get', 'list', 'create', 'delete'] },
  { apiGroup: '', resource: 'pods/log', verbs: ['get'] },
  // Exec is a WebSocket upgrade of a GET: older API servers authorize it as `get`, newer ones as
  // `create` (what it does); both are granted so that either lets it through.
  { apiGroup: '', resource: 'pods/exec', verbs: ['create', 'get'] },
  { apiGroup: '', resource: 'services', verbs: ['get', 'list', 'create', 'update', 'delete'] },
  { apiGroup: '', resource: 'secrets', verbs: ['get', 'create', 'update', 'delete'] },
  { apiGroup: '', resource: 'persistentvolumeclaims', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
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

/** A command run in a pod that did not end well: its exit code when it exited, null when the stream failed. */
export class ExecError extends Error {
  constructor(
    readonly exitCode: number | null,
    message: string,
  ) {
    super(message);
  }
}

function hint(code: number): string {
  return code === 403 ? ' (the service account lacks this permission: see deploy/kubernetes/rbac.yaml)' : '';
}

/** Running, and its readiness probe passed. */
export function podReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Its containers have exited for good (restartPolicy Never). */
export function podEnded(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
}

/** How long a deleted pod may take to be gone (a data node's grace period to save, and some). */
const POD_GONE_MS = 90_000;
const POD_POLL_MS = 250;

/** Bytes the exec socket may hold unsent before reading the source waits. */
const SEND_BUFFER = 4 << 20;

/**
 * Feeds `source` into Exec's stdin as fast as the socket sends it (Exec itself writes whatever
 * it is given at once, which would read a whole file into memory), then ends it: Exec sends the
 * v5 close of stdin, and the command sees its end of input.
 */
async function pump(source: Readable, input: PassThrough, ws: { bufferedAmount: number }, ended: Promise<unknown>): Promise<void> {
  let done = false;
  void ended.then(() => (done = true));
  for await (const chunk of source) {
    if (done) return;
    input.write(chunk as Buffer);
    while (ws.bufferedAmount > SEND_BUFFER && !done) await new Promise((r) => setTimeout(r, 5));
  }
  if (!done) input.end();
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
    this.allow(resource, verb);
    try {
      return await fn();
    } catch (err) {
      const where = this.where(resource, verb, what);
      if (err instanceof ApiException) {
        const why = statusMessage(err.body) ?? 'no reason given';
        throw new KubeApiError(err.code, `Kubernetes API refused to ${where}: HTTP ${err.code} ${why}${hint(err.code)}`);
      }
      const msg = err instanceof Error ? err.message : String(err);
      throw new KubeApiError(0, `Kubernetes API at ${this.server} did not answer to ${where}: ${msg}`);
    }
  }

  private allow(resource: Resource, verb: Verb): void {
    if (!KUBE_PERMISSIONS.some((p) => p.resource === resource && (p.verbs as readonly string[]).includes(verb))) {
      throw new Error(`the Kubernetes driver called ${verb} on ${resource}, which KUBE_PERMISSIONS (and the RBAC Role) does not list`);
    }
  }

  private where(resource: Resource, verb: Verb, what: string): string {
    return `${verb} ${resource}${what ? ` ${what}` : ''} in namespace ${this.namespace}`;
  }

  /**
   * Runs `command` in a container of a pod (exec over a WebSocket, channels: 0 stdin, 1 stdout,
   * 2 stderr, 3 the exit status). `stdin` is streamed in as the container reads it and closed at
   * its end (needs the v5.channel.k8s.io protocol, Kubernetes 1.30 or later: older ones cannot
   * close stdin alone); `stdout`, when given, receives the output as it comes and is ended only
   * once the command exited 0 (destroyed otherwise), so a consumer never takes a failed run's
   * output for whole. Without `stdout` the output is returned (for short answers). A non-zero
   * exit, a dropped connection or the timeout rejects with ExecError; a refused upgrade with
   * KubeApiError, as the other calls'.
   */
  async exec(
    pod: string,
    container: string,
    command: string[],
    opts: { stdin?: Readable; stdout?: Writable; timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ stdout: string; stderr: string }> {
    this.allow('pods/exec', 'create');
    const where = `pod ${pod}`;
    let conn: Awaited<ReturnType<Exec['exec']>> | undefined;
    let pausedEarly = false;
    let waitingForDrain = false;
    let settle!: (s: V1Status | Error) => void;
    const ended = new Promise<V1Status | Error>((r) => (settle = r));
    let collected = '';
    const stderrChunks: Buffer[] = [];
    let stderrBytes = 0;
    // What the command writes to stdout: passed on with backpressure (the socket is paused while
    // the consumer is behind), or collected (bounded) when no stream was given.
    const out = opts.stdout;
    // It is destroyed with the reason when the exec fails, maybe before its consumer listens
    // (storage still making its directory): an 'error' nobody hears would end the process.
    out?.on('error', () => undefined);
    const stdout = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (!out) {
          if (collected.length < 1 << 20) collected += chunk.toString('utf8');
          return done();
        }
        if (!out.write(chunk) && !waitingForDrain) {
          waitingForDrain = true;
          if (conn) conn.pause();
          else pausedEarly = true;
          out.once('drain', () => {
            waitingForDrain = false;
            conn?.resume();
          });
        }
        done();
      },
      // Exec ends stdout just before it hands over the status: wait for that to say how it ended.
      final(done) {
        void ended.then(() => done());
      },
    });
    const stderr = new Writable({
      write(chunk: Buffer, _enc, done) {
        // The last lines are what explains a failure: keep at most 64 KiB of them.
        stderrChunks.push(chunk);
        stderrBytes += chunk.length;
        while (stderrBytes > 65536 && stderrChunks.length > 1) stderrBytes -= stderrChunks.shift()!.length;
        done();
      },
    });
    const input = opts.stdin ? new PassThrough() : null;
    try {
      conn = await new Exec(this.config).exec(this.namespace, pod, container, command, stdout, stderr, input, false, (s) => settle(s));
    } catch (err) {
      const msg = (err as { message?: unknown }).message;
      const text = typeof msg === 'string' ? msg : String(err);
      const code = Number(/Unexpected server response: (\d+)/.exec(text)?.[1] ?? 0);
      const whereFull = this.where('pods/exec', 'create', pod);
      const failure = code
        ? new KubeApiError(code, `Kubernetes API refused to ${whereFull}: HTTP ${code}${code === 404 ? ' (the pod does not exist)' : code === 400 ? ' (the pod\'s container is not running)' : ''}${hint(code)}`)
        : new KubeApiError(0, `Kubernetes API at ${this.server} did not answer to ${whereFull}: ${text}`);
      out?.destroy(failure);
      opts.stdin?.destroy();
      throw failure;
    }
    const ws = conn;
    if (pausedEarly) ws.pause();
    ws.on('close', () => settle(new ExecError(null, `the exec stream of ${where} closed before the command's exit status arrived`)));
    ws.on('error', (err: Error) => settle(new ExecError(null, `the exec stream of ${where} failed: ${err.message}`)));
    const timer = setTimeout(() => settle(new ExecError(null, `the command in ${where} did not finish within ${opts.timeoutMs / 1000} s`)), opts.timeoutMs);
    const onAbort = () => settle(new ExecError(null, `the command in ${where} was abandoned: ${String(opts.signal?.reason ?? 'aborted')}`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.stdin && input) {
        if (ws.protocol !== 'v5.channel.k8s.io') {
          settle(new ExecError(null, `the Kubernetes API server speaks ${ws.protocol || 'no channel protocol'} for exec, not v5.channel.k8s.io (Kubernetes 1.30 or later), which streaming a file into a pod needs`));
        } else {
          void pump(opts.stdin, input, ws, ended).catch((err: Error) => settle(new ExecError(null, `reading what was to be sent to ${where} failed: ${err.message}`)));
        }
      }
      const result = await ended;
      const errText = Buffer.concat(stderrChunks).toString('utf8');
      if (result instanceof Error) throw result;
      if (result.status !== 'Success') {
        const codeText = result.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
        const exit = codeText !== undefined ? Number(codeText) : null;
        const tail = errText.split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
        throw new ExecError(exit, `${exit !== null ? `exited with code ${exit}` : `failed (${result.message ?? result.reason ?? 'no reason given'})`}${tail ? `: ${tail}` : ''}`);
      }
      out?.end();
      return { stdout: collected, stderr: errText };
    } catch (err) {
      out?.destroy(err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      opts.stdin?.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
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

  readPod(name: string): Promise<V1Pod | null> {
    return this.orNull(this.call('pods', 'get', name, () => this.core.readNamespacedPod({ name, namespace: this.namespace })));
  }

  /** Deletes the pod with the given grace period and waits until it is gone (its volumes free for the next one). */
  async deletePod(name: string, graceSeconds: number): Promise<void> {
    await this.gone(this.call('pods', 'delete', name, () => this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: graceSeconds })));
    const deadline = Date.now() + POD_GONE_MS;
    while ((await this.readPod(name)) !== null) {
      if (Date.now() > deadline) throw new Error(`pod ${name} was not gone ${POD_GONE_MS / 1000} s after its deletion`);
      await new Promise((r) => setTimeout(r, POD_POLL_MS));
    }
  }
}
