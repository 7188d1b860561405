// Backups, verification, restores and persisted state of the Kubernetes driver's nodes. The
// service never sees a PVC's files: everything is done by exec (KubeApi.exec) of short `sh -c`
// scripts in the engine's image, in the engine's pod or in a short-lived pod of the same image,
// with files streamed through stdin and stdout, never whole in memory. Every path a script uses
// is given to it as a positional argument (`sh -c '<script>' sh /data …`), never written into
// the script's text.
//
// The same contract as the local driver (src/drivers/local/local-backups.ts): the snapshot is an
// AOF rewrite whose new base is hard-linked to <data>/backup-staging/<backup id>.rdb on the
// node's PVC (a link holds it against a later rewrite); which PVC holds it is a label on that
// PVC (the port's later steps name only the backup, and may run in another replica of the
// service); a restore lays out <data>/appendonlydir as buildAofDir does. The write log after a
// snapshot is the rewrite's new increment, hard-linked to <data>/backup-logs/<backup id>.incr.aof
// (it keeps growing with the engine's writes) and read out by shipLogs into storage.logs, the
// bytes sent so far kept in an annotation of the PVC.
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import type { BackupStorage, StoredObject } from '../../backups/storage.js';
import type { EngineKind } from '../../domain/model.js';
import { loggedOnlyAfter, rewriteWriteLog } from '../../engines/aof.js';
import { endpointOf, type BackupSource, type NodeSpec, type PersistedState, type Snapshot, type VerifiedSnapshot } from '../driver.js';
import { KubeApi, KubeApiError, podEnded, podReady } from './kube-api.js';
import { CHECK_AOF, CHECK_RDB, CLI, DATA_MOUNT, DEADLINE_ANNOTATION, LABEL, loaderPodName, MANAGED_BY, objectNames, pvcOf, scratchPodOf, selector, SERVER, verifyPodName, type KubernetesSettings } from './manifests.js';

const POLL_MS = 250;
/** How long a scratch pod may take to be scheduled and start (an image pull included). */
const POD_START_MS = 5 * 60_000;
/** A short command (a link, a listing, a removal). */
const SHORT_MS = 60_000;
/** A scratch pod's lifetime: this long, plus a second per 10 MB of what it streams (a slow link). */
const BASE_LIFETIME_S = 15 * 60;
const BYTES_PER_SECOND = 10e6;

/**
 * Links the rewrite's new base (named by the manifest) to the staging directory, and its new
 * increment to backup-logs/. $1 data dir, $2 backup id, $3 AOF dir name, $4 manifest name.
 */
const STAGE_SCRIPT = `set -eu
aof="$1/$3"; stage="$1/backup-staging"
base=; incr=
while read -r w1 name w3 seq w5 type rest; do
  name=\${name#\\"}; name=\${name%\\"}
  if [ "$w1" = file ] && [ "$type" = b ]; then base=$name; fi
  if [ "$w1" = file ] && [ "$type" = i ]; then incr=$name; fi
done < "$aof/$4"
[ -n "$base" ] || { echo "the AOF manifest names no base file" >&2; exit 3; }
# One backup of a cluster runs at a time: what an earlier one left staged is not needed.
mkdir -p "$stage"
rm -f "$stage"/*.rdb
ln "$aof/$base" "$stage/$2.rdb" 2>/dev/null || cp "$aof/$base" "$stage/$2.rdb"
# The new increment (every write after the snapshot), held by a link that keeps growing with it
# and outlives the engine's next rewrite, until shipLogs has sent all of it.
if [ -n "$incr" ] && mkdir -p "$1/backup-logs" && ln -f "$aof/$incr" "$1/backup-logs/$2.incr.aof"; then
  echo "incr-ino $(stat -c %i "$1/backup-logs/$2.incr.aof")"
fi`;

/** A shell function: the inode of the engine's current increment (the manifest's last `i`), or nothing. $1 data dir, $2 AOF dir name, $3 manifest name. */
const CURRENT_INCR_FN = `current_incr() {
  cur=
  while read -r w1 name w3 seq w5 type rest; do
    if [ "$w1" = file ] && [ "$type" = i ]; then cur=\${name#\\"}; cur=\${cur%\\"}; fi
  done < "$1/$2/$3"
  if [ -n "$cur" ]; then stat -c %i "$1/$2/$cur"; fi
}`;
const CURRENT_INCR_SCRIPT = `${CURRENT_INCR_FN}
current_incr "$@" 2>/dev/null || true`;

/** Per held log: its file, inode, size and mtime, and the engine's current increment's inode. $1 data dir, $2 AOF dir name, $3 manifest name. */
const LIST_LOGS_SCRIPT = `${CURRENT_INCR_FN}
now=$(current_incr "$@" 2>/dev/null)
for f in "$1"/backup-logs/*.incr.aof; do
  [ -f "$f" ] || continue
  echo "log \${f##*/} $(stat -c '%i %s %Y' "$f") \${now:-none}"
done`;
/** Bytes of a held log from an offset. $1 data dir, $2 file, $3 offset + 1, $4 count. */
const READ_LOG_SCRIPT = `tail -c +"$3" "$1/backup-logs/$2" | head -c "$4"`;
const DROP_LOG_SCRIPT = `rm -f -- "$1/backup-logs/$2"`;

/** $1 data dir, $2 backup id. */
const SEND_SCRIPT = `exec cat -- "$1/backup-staging/$2.rdb"`;
const DISCARD_SCRIPT = `rm -f -- "$1/backup-staging/$2.rdb"`;

/**
 * Takes the snapshot from stdin and proves it restorable as verifyRdb does locally: the engine's
 * checker reads it, a scratch engine on a unix socket only (--port 0) loads it, and its keyspace
 * and DEBUG DIGEST are printed. $1 scratch dir, $2 server, $3 check-rdb, $4 cli.
 */
const VERIFY_SCRIPT = `set -u
cd "$1" || exit 20
cat > snapshot.rdb || exit 21
out=$("$3" snapshot.rdb 2>&1) || { printf '%s\\n' "$out" | tail -n 2 >&2; echo "the snapshot is damaged" >&2; exit 22; }
echo "== check"; printf '%s\\n' "$out"
"$2" --port 0 --unixsocket s.sock --unixsocketperm 700 --dir "$1" --dbfilename snapshot.rdb --appendonly no --save '' --daemonize no --enable-debug-command local --logfile engine.log &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
until [ "$("$4" -s s.sock ping 2>/dev/null)" = PONG ]; do
  kill -0 $pid 2>/dev/null || { tail -n 3 engine.log >&2; echo "the scratch engine could not load the snapshot" >&2; exit 23; }
  sleep 0.1 2>/dev/null || sleep 1
done
echo "== keyspace"; "$4" -s s.sock info keyspace
echo "== digest"; "$4" -s s.sock debug digest`;

/** The base (stdin) to a fresh incoming directory. $1 data dir. */
const IMPORT_BASE_SCRIPT = `set -eu
w="$1/restore-incoming"; rm -rf "$w"; mkdir -p "$w"
cat > "$w/appendonly.aof.1.base.rdb"`;
/** The write log (stdin) beside it. $1 data dir. */
const IMPORT_LOG_SCRIPT = `set -eu
cat > "$1/restore-incoming/appendonly.aof.1.incr.aof"`;
/**
 * The manifest as buildAofDir writes it, the log cut at the second (the engine's checker), and
 * the directory put where the engine loads it from. $1 data dir, $2 check-aof, $3 second or ''.
 */
const IMPORT_PLACE_SCRIPT = `set -eu
w="$1/restore-incoming"; m="$w/appendonly.aof.manifest"
printf 'file appendonly.aof.1.base.rdb seq 1 type b\\n' > "$m"
if [ -f "$w/appendonly.aof.1.incr.aof" ]; then
  printf 'file appendonly.aof.1.incr.aof seq 1 type i\\n' >> "$m"
  if [ -n "$3" ] && [ -s "$w/appendonly.aof.1.incr.aof" ]; then
    out=$("$2" --truncate-to-timestamp "$3" "$m" 2>&1) || { printf '%s\\n' "$out" | tail -n 2 >&2; exit 24; }
  fi
fi
rm -rf "$1/appendonlydir"
mv "$w" "$1/appendonlydir"`;

/**
 * What a stopped node stored, as the local driver reads it: whether any file of the dataset is
 * non-empty, and per increment the last #TS: annotation (its tail first, the whole file when the
 * tail has none). $1 data dir.
 */
const PERSISTED_SCRIPT = `set -u
# The last #TS: second of what comes in: every byte that cannot be part of one becomes a line
# break, so binary values pass (no grep -a, which busybox lacks); an annotation starts its line.
lastts() { tr -c '#TS:0123456789' '\\n' | sed -n 's/^#TS:\\([0-9][0-9]*\\)$/\\1/p' | tail -n 1; }
aof="$1/appendonlydir"; m="$aof/appendonly.aof.manifest"
has=0
[ -s "$1/dump.rdb" ] && has=1
if [ -f "$m" ]; then
  while read -r w1 name w3 seq w5 type rest; do
    [ "$w1" = file ] || continue
    name=\${name#\\"}; name=\${name%\\"}
    [ -s "$aof/$name" ] && has=1
    if [ "$type" = i ] && [ -f "$aof/$name" ]; then
      ts=$(tail -c 1048576 "$aof/$name" | lastts)
      [ -n "$ts" ] || ts=$(lastts < "$aof/$name")
      [ -n "$ts" ] && echo "ts $seq #TS:$ts"
    fi
  done < "$m"
fi
echo "has $has"`;

/** What a PVC's annotation says of a log held in its pod: its name in storage and the bytes sent. */
interface HeldLog {
  name: string;
  offset: number;
}

const LOG_ANNOTATION_PREFIX = 'cachestore.io/log.';
function logAnnotation(backupId: string): string {
  return `${LOG_ANNOTATION_PREFIX}${backupId}`;
}
/** At most this much of a log per exec and per append (an append is held in memory). */
const SHIP_CHUNK = 8 << 20;

function sh(script: string, ...args: string[]): string[] {
  return ['sh', '-c', script, 'sh', ...args];
}

/** Backup ids become file names and label values: only what both allow. */
function checkedId(backupId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,50}$/.test(backupId)) throw new Error(`invalid backup id '${backupId}'`);
  return backupId;
}

function lifetimeFor(bytes: number): number {
  return BASE_LIFETIME_S + Math.ceil(bytes / BYTES_PER_SECOND);
}

/** Why a pod is not running yet, from its container's state (image pulls, scheduling). */
function waitingReason(pod: V1Pod): string {
  const w = pod.status?.containerStatuses?.[0]?.state?.waiting;
  const cond = (pod.status?.conditions ?? []).find((c) => c.status === 'False' && c.message);
  return [pod.status?.phase ?? 'no status', w ? `${w.reason ?? ''} ${w.message ?? ''}`.trim() : cond?.message ?? pod.status?.message ?? ''].filter(Boolean).join(': ');
}

/** Sections (`== name` lines) of a script's output. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of text.split('\n')) {
    const m = /^== (\w+)\s*$/.exec(line);
    if (m) name = m[1];
    else if (name) out.set(name, `${out.get(name) ?? ''}${line}\n`);
  }
  return out;
}

async function sizeOf(file: string): Promise<number> {
  return (await stat(file)).size;
}

export class KubeBackups {
  constructor(
    private readonly api: KubeApi,
    private readonly settings: KubernetesSettings,
  ) {}

  private get ns(): string {
    return this.settings.namespace;
  }

  /** Creates a scratch pod (a leftover of the same name goes first) and waits until it runs. */
  private async startScratch(pod: ReturnType<typeof scratchPodOf>): Promise<void> {
    const name = pod.metadata.name;
    await this.api.deletePod(name, 0);
    await this.api.call('pods', 'create', name, () => this.api.core.createNamespacedPod({ namespace: this.ns, body: pod }));
    const deadline = Date.now() + POD_START_MS;
    for (;;) {
      const have = await this.api.readPod(name);
      if (have && podReady(have)) return;
      if (!have || podEnded(have)) throw new Error(`scratch pod ${name} ended before it ran (${have ? waitingReason(have) : 'it is gone'})`);
      if (Date.now() > deadline) throw new Error(`scratch pod ${name} did not start within ${POD_START_MS / 1000} s (${waitingReason(have)})`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Runs `fn` with a scratch pod that is deleted after, also on failure. */
  private async withScratch<T>(pod: ReturnType<typeof scratchPodOf>, fn: () => Promise<T>): Promise<T> {
    let failed = false;
    try {
      await this.startScratch(pod);
      return await fn();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // A failed deletion is the error only when the work itself went well (its deadline and
      // the sweep still end the pod); otherwise the work's own reason is what is said.
      await this.api.deletePod(pod.metadata.name, 0).catch((err: unknown) => {
        if (!failed) throw err;
      });
    }
  }

  /** The PVC the backup's snapshot is staged on (its label), or null. */
  private async stagedOn(backupId: string): Promise<{ pod: string; pvc: string; clusterId: string | null } | null> {
    const labelSelector = selector({ ...MANAGED_BY, [LABEL.stagedBackup]: checkedId(backupId) });
    const list = await this.api.call('persistentvolumeclaims', 'list', '', () => this.api.core.listNamespacedPersistentVolumeClaim({ namespace: this.ns, labelSelector }));
    const pvc = list.items[0];
    const nodeId = pvc?.metadata?.labels?.[LABEL.node];
    if (!pvc?.metadata?.name || !nodeId) return null;
    // The engine pod and its PVC share the node's name (objectNames).
    return { pod: `cs-${nodeId}`, pvc: pvc.metadata.name, clusterId: pvc.metadata.labels?.[LABEL.cluster] ?? null };
  }


  /** A JSON Patch of one label or annotation (`null`: removed). */
  private async patchMeta(pvc: string, where: 'labels' | 'annotations', key: string, value: string | null): Promise<void> {
    const path = `/metadata/${where}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const body = value === null ? [{ op: 'remove', path }] : [{ op: 'add', path, value }];
    await this.api.call('persistentvolumeclaims', 'patch', pvc, () => this.api.core.patchNamespacedPersistentVolumeClaim({ name: pvc, namespace: this.ns, body }));
  }

  async snapshot(node: NodeSpec, backupId: string, storage: BackupStorage): Promise<Snapshot> {
    checkedId(backupId);
    const names = { dir: 'appendonlydir', manifest: 'appendonly.aof.manifest' };
    const pod = objectNames(node).pod;
    const pvc = objectNames(node).pvc;
    const r = await rewriteWriteLog(endpointOf(node), undefined, async (config) => {
      names.dir = (await config('appenddirname')) || names.dir;
      const file = await config('appendfilename');
      if (file) names.manifest = `${file}.manifest`;
      // The increment this rewrite closes: the log an earlier backup on this node follows.
      const { stdout } = await this.api.exec(pod, 'engine', sh(CURRENT_INCR_SCRIPT, DATA_MOUNT, names.dir, names.manifest), { timeoutMs: SHORT_MS });
      return /^\d+$/.test(stdout.trim()) ? Number(stdout.trim()) : null;
    });
    const { stdout } = await this.api.exec(pod, 'engine', sh(STAGE_SCRIPT, DATA_MOUNT, backupId, names.dir, names.manifest), { timeoutMs: SHORT_MS }).catch((err: Error) => {
      throw new Error(`the snapshot could not be staged in pod ${pod}: ${err.message}`);
    });
    await this.patchMeta(pvc, 'labels', LABEL.stagedBackup, backupId);
    // The new increment, linked in the pod, becomes the backup's log; shipLogs sends its bytes.
    let log: Snapshot['log'] = null;
    const ino = /^incr-ino (\d+)$/m.exec(stdout)?.[1];
    if (ino) {
      try {
        const name = await storage.logs.begin(node.clusterId, backupId, Number(ino));
        await this.patchMeta(pvc, 'annotations', logAnnotation(backupId), JSON.stringify({ name, offset: 0 } satisfies HeldLog));
        await this.patchMeta(pvc, 'labels', LABEL.shipsLogs, 'yes');
        log = { name };
      } catch (err) {
        log = { error: err as Error };
      }
    }
    return { snapshotAt: r.snapshotAt, closedLog: r.before, log };
  }

  /**
   * Sends what the logs held in pods gained since the last call to `storage.logs` (append), read
   * by exec from the links snapshot made; a log the engine's rewrite closed is sent to its end,
   * said not live, and its link removed. The offset sent so far is kept on the PVC (an
   * annotation), so another process or a restart goes on from there. Returns the bytes sent.
   */
  async shipLogs(storage: BackupStorage): Promise<number> {
    const labelSelector = selector({ ...MANAGED_BY, [LABEL.shipsLogs]: 'yes' });
    const list = await this.api.call('persistentvolumeclaims', 'list', '', () => this.api.core.listNamespacedPersistentVolumeClaim({ namespace: this.ns, labelSelector }));
    let sent = 0;
    const errors: string[] = [];
    for (const pvc of list.items) {
      const name = pvc.metadata?.name;
      const nodeId = pvc.metadata?.labels?.[LABEL.node];
      if (!name || !nodeId) continue;
      try {
        sent += await this.shipFrom(name, `cs-${nodeId}`, pvc.metadata?.annotations ?? {}, storage);
      } catch (err) {
        // A pod that does not run has nothing new: its log is taken up again once it runs.
        if (err instanceof KubeApiError && (err.status === 404 || err.status === 400)) continue;
        errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length > 0) throw new Error(`shipping write logs out of pods failed: ${errors.join('; ')}`);
    return sent;
  }

  private async shipFrom(pvc: string, pod: string, annotations: Record<string, string>, storage: BackupStorage): Promise<number> {
    const held = Object.entries(annotations).filter(([k]) => k.startsWith(LOG_ANNOTATION_PREFIX));
    // The label stays when none is left: removing it could race a snapshot that adds a log now.
    if (held.length === 0) return 0;
    const { stdout } = await this.api.exec(pod, 'engine', sh(LIST_LOGS_SCRIPT, DATA_MOUNT, 'appendonlydir', 'appendonly.aof.manifest'), { timeoutMs: SHORT_MS });
    const files = new Map<string, { ino: number; size: number; mtime: number; current: number | null }>();
    for (const m of stdout.matchAll(/^log (\S+) (\d+) (\d+) (\d+) (\d+|none)$/gm)) {
      files.set(m[1], { ino: Number(m[2]), size: Number(m[3]), mtime: Number(m[4]), current: m[5] === 'none' ? null : Number(m[5]) });
    }
    let sent = 0;
    for (const [key, raw] of held) {
      const backupId = key.slice(LOG_ANNOTATION_PREFIX.length);
      const log = JSON.parse(raw) as HeldLog;
      const file = files.get(`${backupId}.incr.aof`);
      if (!file) {
        // Its link is gone (a lost PVC's files): nothing more can come of it.
        await this.api.gone(this.patchMeta(pvc, 'annotations', key, null));
        continue;
      }
      // The backup failed or was removed, and its log with it: the pod lets it go.
      if ((await storage.logs.state(log.name)) === null) {
        await this.api.exec(pod, 'engine', sh(DROP_LOG_SCRIPT, DATA_MOUNT, `${backupId}.incr.aof`), { timeoutMs: SHORT_MS });
        await this.api.gone(this.patchMeta(pvc, 'annotations', key, null));
        continue;
      }
      const live = file.current === file.ino;
      const state = { live, lastWriteAt: new Date(file.mtime * 1000) };
      let offset = log.offset;
      let restarted = false;
      while (offset < file.size) {
        const count = Math.min(SHIP_CHUNK, file.size - offset);
        const bytes = await this.readLog(pod, `${backupId}.incr.aof`, offset, count);
        if (bytes.length === 0) break;
        try {
          // A closed log counts as ended (not live) only once its last byte is in.
          await storage.logs.append(log.name, offset, bytes, { ...state, live: live || offset + bytes.length < file.size });
        } catch (err) {
          // Storage holds less than the annotation says (the log was begun again by a repeated
          // snapshot while this ran): from the start once, which append takes idempotently.
          if (restarted || offset === 0 || !/gap/.test(String((err as Error).message))) throw err;
          restarted = true;
          offset = 0;
          continue;
        }
        offset += bytes.length;
        sent += bytes.length;
      }
      if (offset === log.offset && !live) await storage.logs.append(log.name, offset, Buffer.alloc(0), state);
      if (!live && offset >= file.size) {
        await this.api.exec(pod, 'engine', sh(DROP_LOG_SCRIPT, DATA_MOUNT, `${backupId}.incr.aof`), { timeoutMs: SHORT_MS });
        await this.api.gone(this.patchMeta(pvc, 'annotations', key, null));
      } else if (offset !== log.offset) {
        await this.patchMeta(pvc, 'annotations', key, JSON.stringify({ name: log.name, offset } satisfies HeldLog));
      }
    }
    return sent;
  }

  /** `count` bytes of a held log from `offset`, as bytes (a log holds binary values). */
  private async readLog(pod: string, file: string, offset: number, count: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.api.exec(pod, 'engine', sh(READ_LOG_SCRIPT, DATA_MOUNT, file, String(offset + 1), String(count)), { stdout: sink, timeoutMs: SHORT_MS * 5 });
    return Buffer.concat(chunks);
  }

  async storeSnapshot(backupId: string, storage: BackupStorage, key: string): Promise<StoredObject> {
    const at = await this.stagedOn(backupId);
    if (!at) throw new Error(`backup ${backupId} has no staged snapshot (its PVC is gone or it was discarded); take the backup again`);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const abort = new AbortController();
    const sent = this.api.exec(at.pod, 'engine', sh(SEND_SCRIPT, DATA_MOUNT, backupId), { stdout: out, timeoutMs: 6 * 3600_000, signal: abort.signal });
    // The exec ends `out` only after a clean exit and destroys it otherwise, so storage never
    // makes a failed copy visible under `key`; storage failing (full) abandons the exec.
    const stored = storage.putStream(key, out).catch((err: unknown) => {
      abort.abort(err instanceof Error ? err.message : String(err));
      throw err;
    });
    try {
      const [o] = await Promise.all([stored, sent]);
      return o;
    } catch (err) {
      await stored.catch(() => undefined);
      await sent.catch(() => undefined);
      const why = err instanceof Error ? err.message : String(err);
      throw Object.assign(new Error(`the snapshot could not be read out of pod ${at.pod}: ${why}`), { code: (err as NodeJS.ErrnoException).code });
    }
  }

  async verifySnapshot(backupId: string, engine: EngineKind, storage: BackupStorage, key: string): Promise<VerifiedSnapshot> {
    checkedId(backupId);
    const work = await mkdtemp(join(tmpdir(), 'cachestore-kverify-'));
    try {
      const copy = join(work, 'snapshot.rdb');
      const sha256 = await storage.get(key, copy, null);
      const at = await this.stagedOn(backupId).catch(() => null);
      const size = await sizeOf(copy);
      const lifetime = lifetimeFor(size);
      const pod = scratchPodOf({ name: verifyPodName(backupId), purpose: 'verify', engine, clusterId: at?.clusterId ?? null, claim: null, startedAt: new Date(), lifetimeSeconds: lifetime, snapshotBytes: size }, this.settings);
      const { stdout } = await this.withScratch(pod, () =>
        this.api.exec(pod.metadata.name, 'work', sh(VERIFY_SCRIPT, DATA_MOUNT, SERVER[engine], CHECK_RDB[engine], CLI[engine]), { stdin: createReadStream(copy, { highWaterMark: 1 << 20 }), timeoutMs: (lifetime - 60) * 1000 }),
      ).catch((err: Error) => {
        throw new Error(`verification failed: ${err.message}`);
      });
      const part = sections(stdout);
      const check = part.get('check') ?? '';
      const read = Number(/(\d+) keys read/.exec(check)?.[1] ?? NaN);
      const expired = Number(/(\d+) already expired/.exec(check)?.[1] ?? 0);
      const keys = [...(part.get('keyspace') ?? '').matchAll(/keys=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const digest = (part.get('digest') ?? '').trim();
      if (!/^[0-9a-f]{40}$/.test(digest)) throw new Error(`verification failed: the scratch engine gave no digest (${stdout.slice(-200).trim()})`);
      if (Number.isFinite(read) && keys !== read - expired) throw new Error(`verification failed: the snapshot holds ${read - expired} keys but ${keys} loaded`);
      return { sha256, keys, digest };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Scratch pods past their deadline: their service died before deleting them. */
  async sweepScratch(now = new Date()): Promise<number> {
    let removed = 0;
    for (const purpose of ['verify', 'load'] as const) {
      const labelSelector = selector({ ...MANAGED_BY, [LABEL.kind]: purpose });
      const list = await this.api.call('pods', 'list', '', () => this.api.core.listNamespacedPod({ namespace: this.ns, labelSelector }));
      for (const pod of list.items) {
        const deadline = Date.parse(pod.metadata?.annotations?.[DEADLINE_ANNOTATION] ?? '');
        // A live verification of another replica is within its deadline: left alone.
        if (!pod.metadata?.name || (Number.isFinite(deadline) && deadline > now.getTime())) continue;
        await this.api.deletePod(pod.metadata.name, 0);
        removed++;
      }
    }
    return removed;
  }

  async discardSnapshot(backupId: string): Promise<void> {
    const at = await this.stagedOn(backupId);
    if (!at) return;
    try {
      await this.api.exec(at.pod, 'engine', sh(DISCARD_SCRIPT, DATA_MOUNT, backupId), { timeoutMs: SHORT_MS });
    } catch (err) {
      // The pod is gone or not running: the file stays on the PVC until the next snapshot of
      // that node clears the staging directory (or the PVC goes with the node).
      if (!(err instanceof KubeApiError && (err.status === 404 || err.status === 400))) throw err;
    }
    await this.api.gone(this.patchMeta(at.pvc, 'labels', LABEL.stagedBackup, null));
  }

  async importBackup(node: NodeSpec, from: BackupSource): Promise<void> {
    if (!pvcOf(node, this.settings)) throw new Error(`node ${node.nodeId} has no PVC (no block storage size): its data directory exists only with its pod, so a backup cannot be placed before its engine starts`);
    const enginePod = await this.api.readPod(objectNames(node).pod);
    if (enginePod && enginePod.status?.phase === 'Running') throw new Error(`node ${node.nodeId} is running; a dataset can only be placed while it is stopped`);
    const work = await mkdtemp(join(tmpdir(), 'cachestore-krestore-'));
    try {
      const base = join(work, 'base.rdb');
      await from.storage.get(from.key, base, from.sha256);
      let incr: string | null = null;
      let until = '';
      if (from.log) {
        incr = join(work, 'incr.aof');
        // What the pods logged since the last ship comes in first: the recovery second may be
        // just past (a live log's window runs to the last whole second). A pod that does not run
        // has nothing new, and storage's copy is then the log.
        await this.shipLogs(from.storage).catch(() => 0);
        // A live log keeps growing: this copy is the log as it stands now, cut below.
        await from.storage.logs.copyOut(from.log.name, incr);
        // Every write of the log came after that second: the data then is the base alone (the
        // checker refuses this cut, "has nothing before timestamp"), as truncateAofAt does.
        if (await loggedOnlyAfter(incr, from.log.until)) await (await open(incr, 'w')).close();
        until = String(from.log.until);
      }
      const lifetime = lifetimeFor((await sizeOf(base)) + (incr ? await sizeOf(incr) : 0));
      const pod = scratchPodOf({ name: loaderPodName(node), purpose: 'load', engine: node.engine, clusterId: node.clusterId, claim: objectNames(node).pvc, startedAt: new Date(), lifetimeSeconds: lifetime }, this.settings);
      const name = pod.metadata.name;
      const timeoutMs = (lifetime - 60) * 1000;
      await this.withScratch(pod, async () => {
        await this.api.exec(name, 'work', sh(IMPORT_BASE_SCRIPT, DATA_MOUNT), { stdin: createReadStream(base, { highWaterMark: 1 << 20 }), timeoutMs });
        if (incr) await this.api.exec(name, 'work', sh(IMPORT_LOG_SCRIPT, DATA_MOUNT), { stdin: createReadStream(incr, { highWaterMark: 1 << 20 }), timeoutMs });
        await this.api.exec(name, 'work', sh(IMPORT_PLACE_SCRIPT, DATA_MOUNT, CHECK_AOF[node.engine], incr ? until : ''), { timeoutMs });
      }).catch((err: Error) => {
        const what = incr && /code 24/.test(err.message) ? `the write log could not be cut at ${until}` : `the backup could not be placed on node ${node.nodeId}'s volume`;
        throw new Error(`${what}: ${err.message}`);
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async persistedState(node: NodeSpec): Promise<PersistedState> {
    // A Sentinel keeps its file on an emptyDir, gone with its pod: nothing of it is left to read
    // (configure writes its configuration again from the store).
    if (node.kind === 'sentinel') return { hasData: false, lastWriteAt: null, sentinel: null };
    // A data node without a PVC kept its files on an emptyDir: gone with its pod.
    if (!pvcOf(node, this.settings)) return { hasData: false, lastWriteAt: null, sentinel: null };
    const lifetime = BASE_LIFETIME_S;
    const pod = scratchPodOf({ name: loaderPodName(node), purpose: 'load', engine: node.engine, clusterId: node.clusterId, claim: objectNames(node).pvc, startedAt: new Date(), lifetimeSeconds: lifetime }, this.settings);
    const { stdout } = await this.withScratch(pod, () => this.api.exec(pod.metadata.name, 'work', sh(PERSISTED_SCRIPT, DATA_MOUNT), { timeoutMs: (lifetime - 60) * 1000 })).catch((err: Error) => {
      throw new Error(`what node ${node.nodeId} stored could not be read: ${err.message}`);
    });
    const hasData = /^has 1$/m.test(stdout);
    let best: { seq: number; ts: number } | null = null;
    for (const m of stdout.matchAll(/^ts (\d+) #TS:(\d+)$/gm)) {
      const seq = Number(m[1]);
      if (!best || seq > best.seq) best = { seq, ts: Number(m[2]) };
    }
    return { hasData, lastWriteAt: best?.ts ?? null, sentinel: null };
  }
}
