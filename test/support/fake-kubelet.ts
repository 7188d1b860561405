// A FAKE kubelet for the FAKE API server (fake-kube-api.ts), opt-in with `fake.runPods = true`:
// it runs the pods the driver creates as local processes, so that the whole service can be tested
// on the Kubernetes driver with real engines. No kubelet or container runtime can run here.
//
// What it does, per pod:
// - Volumes: a PVC is the fake's local directory for the claim, an emptyDir the pod's own local
//   directory (both as exec sees them), a Secret volume a local directory with one file per key
//   (written when the pod starts; a pod whose Secret does not exist yet stays Pending).
// - Init containers, one after the other, then the container (the first only: the driver's pods
//   have one), as local processes of the installed programs (the images' programs are the same),
//   each in its own process group. Pod paths are mapped as exec maps them, but also inside an
//   argument (the init container's `sh -c` script names its paths in its text): every absolute
//   path in an argument that lies under a container's mountPath is replaced by the local directory.
// - The engine's configuration (the file the container's first argument names, when it lies on a
//   volume) is rewritten once the init containers are done, in two ways a real pod needs neither:
//   its `bind` line becomes the pod's address, so that pods on one machine do not clash on their
//   ports (a pod's address is its Service's clusterIP: the driver makes one per instance; the
//   tests' subnets are loopback ones, so it can be bound), and the pod paths in it (`dir`,
//   `pidfile`) become the local directories, as the fake has no filesystem namespace to mount
//   them at those paths. Nothing else of it is touched.
// - Readiness: the container's readinessProbe command is run as a local process with `-h <pod
//   address>` given to its redis-cli / valkey-cli (the probe in the pod assumes 127.0.0.1), every
//   200 ms until it first succeeds, then every periodSeconds. A pod without a probe is Ready once
//   its container runs.
// - stdout and stderr of the container are the pod's log (pods/log and follow streams); the init
//   containers' output is not (a real server keeps it under their own names), but an init
//   container that fails says so in the pod's status message.
// - Deletion: SIGTERM to the container's process group, SIGKILL after the grace period (the
//   request's gracePeriodSeconds, else the pod's terminationGracePeriodSeconds); the pod object
//   carries a deletionTimestamp meanwhile and vanishes when the process has exited.
// - A container that exits on its own moves its pod to Failed (Succeeded on 0), as restartPolicy
//   Never does; activeDeadlineSeconds kills the pod and fails it (DeadlineExceeded).
// What it does not emulate: images (any image runs the installed programs), resource limits,
// users (runAsUser is ignored: the processes run as the test's user), restarts, liveness and
// startup probes, network isolation (NetworkPolicies are stored, not enforced), a pod address of
// its own (every pod without a Service, such as a scratch pod, shares the machine's), events.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A pod object as the fake stores it (only what the kubelet reads). */
export interface KubeletPod {
  metadata: { name: string; namespace?: string; uid?: unknown; labels?: Record<string, string>; deletionTimestamp?: string; resourceVersion?: string };
  spec?: any;
  status?: any;
}

/** What the kubelet needs of the API server it runs under. */
export interface KubeletHost {
  readonly root: string;
  /** The pod as stored now, or undefined (deleted, or replaced by another pod of the same name). */
  current(namespace: string, name: string, uid: unknown): KubeletPod | undefined;
  /** Writes the pod's status (a new resourceVersion). */
  setStatus(pod: KubeletPod, status: unknown): void;
  /** Removes the pod object (its processes are gone). */
  vanish(pod: KubeletPod): void;
  appendPodLog(name: string, text: string): void;
  secretData(namespace: string, name: string): Record<string, string> | undefined;
  services(namespace: string): Array<{ spec?: any }>;
  volumeDir(namespace: string, claim: string): string;
  emptyDir(pod: KubeletPod, volume: string): string;
  containerEnv(namespace: string, container: any): Record<string, string>;
}

interface Running {
  pod: KubeletPod;
  child: ChildProcess | null;
  timers: Set<NodeJS.Timeout>;
  /** Init containers and probes running now. */
  side: Set<ChildProcess>;
  deleting: boolean;
  /** The container's process exited (or never started). */
  exited: boolean;
}

const FIRST_PROBE_MS = 200;

export class FakeKubelet {
  private readonly pods = new Map<string, Running>();

  constructor(private readonly host: KubeletHost) {}

  private key(pod: KubeletPod): string {
    return `${pod.metadata.namespace}/${pod.metadata.name}/${String(pod.metadata.uid)}`;
  }

  /** Starts a new pod (its status is Pending until its container runs). */
  run(pod: KubeletPod): void {
    const r: Running = { pod, child: null, timers: new Set(), side: new Set(), deleting: false, exited: false };
    this.pods.set(this.key(pod), r);
    void this.start(r).catch((err: Error) => this.fail(r, `fake kubelet: ${err.message}`));
  }

  /** Whether the kubelet runs this pod (its deletion then waits for its processes). */
  has(pod: KubeletPod): boolean {
    return this.pods.has(this.key(pod));
  }

  /** Deletion: SIGTERM, SIGKILL after `graceSeconds`; the object vanishes when the process is gone. */
  terminate(pod: KubeletPod, graceSeconds: number): void {
    const r = this.pods.get(this.key(pod));
    if (!r) return this.host.vanish(pod);
    if (r.deleting) {
      // A later deletion may shorten the grace period (to 0: at once), never lengthen it.
      if (graceSeconds <= 0 && r.child && !r.exited) signal(r.child, 'SIGKILL');
      else if (r.child && !r.exited) this.later(r, graceSeconds * 1000, () => signal(r.child!, 'SIGKILL'));
      return;
    }
    r.deleting = true;
    if (r.exited || !r.child) return this.finish(r);
    signal(r.child, 'SIGTERM');
    if (graceSeconds <= 0) signal(r.child, 'SIGKILL');
    else this.later(r, graceSeconds * 1000, () => signal(r.child!, 'SIGKILL'));
  }

  /** Kills every process at once (the fake's close or reset). */
  killAll(): void {
    for (const r of this.pods.values()) {
      for (const t of r.timers) clearTimeout(t);
      if (r.child) signal(r.child, 'SIGKILL');
      for (const c of r.side) signal(c, 'SIGKILL');
    }
    this.pods.clear();
  }

  private later(r: Running, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      r.timers.delete(t);
      fn();
    }, ms);
    r.timers.add(t);
  }

  private alive(r: Running): boolean {
    return this.pods.get(this.key(r.pod)) === r && this.host.current(r.pod.metadata.namespace!, r.pod.metadata.name, r.pod.metadata.uid) !== undefined;
  }

  private status(r: Running, status: Record<string, unknown>): void {
    const pod = this.host.current(r.pod.metadata.namespace!, r.pod.metadata.name, r.pod.metadata.uid);
    if (pod) this.host.setStatus(pod, status);
  }

  private finish(r: Running): void {
    for (const t of r.timers) clearTimeout(t);
    for (const c of r.side) signal(c, 'SIGKILL');
    this.pods.delete(this.key(r.pod));
    const pod = this.host.current(r.pod.metadata.namespace!, r.pod.metadata.name, r.pod.metadata.uid);
    if (pod) this.host.vanish(pod);
    rmSync(this.secretRoot(r.pod), { recursive: true, force: true });
  }

  private fail(r: Running, message: string): void {
    r.exited = true;
    if (r.deleting) return this.finish(r);
    this.status(r, { phase: 'Failed', message, conditions: [{ type: 'Ready', status: 'False' }] });
  }

  private secretRoot(pod: KubeletPod): string {
    return join(this.host.root, 'secret', String(pod.metadata.uid));
  }

  private async start(r: Running): Promise<void> {
    const { pod } = r;
    const ns = pod.metadata.namespace!;
    const spec = pod.spec ?? {};
    // Secret volumes: the pod waits (Pending) until its Secrets exist, as a real one does.
    const dirs = new Map<string, string>();
    for (;;) {
      if (!this.alive(r) || r.deleting) return this.finish(r);
      const missing = (spec.volumes ?? []).find((v: any) => v.secret && !this.host.secretData(ns, v.secret.secretName));
      if (!missing) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    for (const v of spec.volumes ?? []) {
      if (v.persistentVolumeClaim) dirs.set(v.name, this.host.volumeDir(ns, v.persistentVolumeClaim.claimName));
      else if (v.emptyDir) dirs.set(v.name, this.host.emptyDir(pod, v.name));
      else if (v.secret) {
        const dir = join(this.secretRoot(pod), v.name);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        for (const [k, b64] of Object.entries(this.host.secretData(ns, v.secret.secretName)!)) {
          const file = join(dir, k);
          writeFileSync(file, Buffer.from(b64, 'base64'));
          chmodSync(file, v.secret.defaultMode ?? 0o644);
        }
        dirs.set(v.name, dir);
      } else throw new Error(`the fake kubelet mounts only persistentVolumeClaim, emptyDir and secret volumes (volume ${v.name})`);
    }
    const ip = this.podAddress(pod);
    if (spec.activeDeadlineSeconds) {
      this.later(r, spec.activeDeadlineSeconds * 1000, () => {
        // Whatever runs then ends (an init container too), and nothing starts after.
        if (r.child && !r.exited) signal(r.child, 'SIGKILL');
        for (const c of r.side) signal(c, 'SIGKILL');
        r.exited = true;
        if (!r.deleting) this.status(r, { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline', conditions: [{ type: 'Ready', status: 'False' }] });
      });
    }

    for (const c of spec.initContainers ?? []) {
      const local = mapper(c, dirs);
      const { code, output } = await this.runToEnd(r, c.command.map(local), this.host.containerEnv(ns, c));
      if (!this.alive(r) || r.deleting) return this.finish(r);
      if (r.exited) return;
      if (code !== 0) return this.fail(r, `init container ${c.name} exited with code ${code}: ${output.trim().split('\n').slice(-2).join(' | ')}`);
    }

    const c = spec.containers[0];
    const local = mapper(c, dirs);
    const command: string[] = c.command.map(local);
    // The engine's configuration: its bind line to the pod's address, its pod paths to local ones.
    if (command[1] && command[1] !== c.command[1] && existsSync(command[1])) {
      const text = readFileSync(command[1], 'utf8')
        .split('\n')
        .map((l) => (ip && /^bind\s/.test(l) ? `bind ${ip}` : /^(dir|pidfile)\s/.test(l) ? l.replace(/(\s"?)(\/[^\s"]*)/, (_m, pre: string, p: string) => pre + local(p)) : l))
        .join('\n');
      writeFileSync(command[1], text);
    }
    const env = this.host.containerEnv(ns, c);
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...command], { cwd: this.host.root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    r.child = child;
    const log = (d: Buffer) => this.host.appendPodLog(pod.metadata.name, d.toString('utf8'));
    child.stdout!.on('data', log);
    child.stderr!.on('data', log);
    child.once('error', (err) => this.fail(r, `container ${c.name} could not start: ${err.message}`));
    child.once('close', (code, sig) => {
      r.exited = true;
      if (r.deleting || !this.alive(r)) return this.finish(r);
      // Killed at its deadline: the pod already says so.
      if (this.host.current(pod.metadata.namespace!, pod.metadata.name, pod.metadata.uid)?.status?.reason === 'DeadlineExceeded') return;
      const exitCode = code ?? 128 + (sig === 'SIGKILL' ? 9 : 15);
      this.status(r, {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [{ name: c.name, ready: false, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } } }],
      });
    });
    if (r.deleting) {
      signal(child, 'SIGKILL');
      return;
    }
    const probe = c.readinessProbe?.exec?.command as string[] | undefined;
    this.status(r, { phase: 'Running', ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: probe ? 'False' : 'True' }] });
    if (probe) this.probe(r, probe.map((a) => (ip ? a.replace(/\b(redis-cli|valkey-cli)\b/g, `$1 -h ${ip}`) : a)), env, (c.readinessProbe.periodSeconds ?? 10) * 1000, false);
  }

  private probe(r: Running, command: string[], env: Record<string, string>, periodMs: number, ready: boolean): void {
    this.later(r, ready ? periodMs : FIRST_PROBE_MS, () => {
      if (r.exited || r.deleting || !this.alive(r)) return;
      void this.runToEnd(r, command, env, periodMs).then(({ code }) => {
        if (r.exited || r.deleting || !this.alive(r)) return;
        const now = code === 0;
        if (now !== ready) this.status(r, { ...this.host.current(r.pod.metadata.namespace!, r.pod.metadata.name, r.pod.metadata.uid)!.status, conditions: [{ type: 'Ready', status: now ? 'True' : 'False' }] });
        this.probe(r, command, env, periodMs, now);
      });
    });
  }

  /** Runs a command to its end (killed after timeoutMs, or with the pod); its exit code and output. */
  private runToEnd(r: Running, command: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
      const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...command], { cwd: this.host.root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const t = setTimeout(() => signal(child, 'SIGKILL'), timeoutMs);
      // A pod deleted or killed meanwhile takes its running init container or probe with it.
      r.side.add(child);
      child.once('error', (err) => {
        output += err.message;
      });
      child.once('close', (code) => {
        clearTimeout(t);
        r.side.delete(child);
        resolve({ code: code ?? 137, output });
      });
    });
  }

  /** The clusterIP of the Service that selects the pod, or null (a scratch pod). */
  private podAddress(pod: KubeletPod): string | null {
    const labels = pod.metadata.labels ?? {};
    const svc = this.host.services(pod.metadata.namespace!).find((s) => {
      const sel: Record<string, string> = s.spec?.selector ?? {};
      return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
    });
    const ip = svc?.spec?.clusterIP;
    return ip && ip !== 'None' ? ip : null;
  }
}

/**
 * A pod path as the local directory behind it: `mounts` are [mount path, local directory], the
 * deepest mount first wins. Paths outside every mount are left as they are. Exec (the fake API
 * server) maps whole arguments with it; the kubelet, paths inside scripts too (mapper).
 */
export function localPath(mounts: Array<[string, string]>): (path: string) => string {
  const deepestFirst = [...mounts].sort((a, b) => b[0].length - a[0].length);
  return (path) => {
    const hit = deepestFirst.find(([mp]) => path === mp || path.startsWith(`${mp}/`));
    return hit ? hit[1] + path.slice(hit[0].length) : path;
  };
}

/** Maps the pod paths in a container's arguments (whole or inside a script) to local directories. */
function mapper(container: any, dirs: Map<string, string>): (arg: string) => string {
  const one = localPath((container.volumeMounts ?? []).map((vm: any) => [vm.mountPath, dirs.get(vm.name)!]));
  return (arg) => arg.replace(/(^|[\s'"=])(\/[^\s'";&|]*)/g, (_m, pre: string, path: string) => pre + one(path));
}

/** A signal to a process's whole group (what its command started, too). */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}
