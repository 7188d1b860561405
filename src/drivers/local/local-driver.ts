// The local driver: every instance is an engine process on its own loopback address, detached
// from the service (daemonized) so that restarting the service never stops a database.
// Layout: <dataDir>/engines/<nodeId>/{engine.conf, engine.pid, engine.launch, engine.log, data/},
// and for a data node with a volume data.img, the filesystem mounted on data/ (volumes.ts).
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { lastTimestamp, parseManifest } from '../../engines/aof.js';
import { parseSentinelState } from '../../engines/config.js';
import { renderNodeConfig } from '../node-config.js';
import { engineEnv } from '../../engines/child-env.js';
import { ping, shutdown } from '../../engines/client.js';
import type { EngineVersion } from '../../domain/catalog.js';
import type { EngineKind } from '../../domain/model.js';
import type { InstalledEngines } from './installed-engines.js';
import { chooseAddresses, type AddressChoice, type Subnet, type WantedAddress } from '../../domain/network.js';
import type { BackupStorage, StoredObject } from '../../backups/storage.js';
import { endpointOf, type BackupSource, type Driver, type NodeSpec, type PersistedState, type Snapshot, type VerifiedSnapshot, type VolumeUsage } from '../driver.js';
import { sweepScratchEngines } from '../../engines/snapshot.js';
import { LocalBackups } from './local-backups.js';
import { followFile } from './log-follower.js';
import type { LoopVolumes } from './volumes.js';
import { findEnginesIn, identify, inspect, isAdoptable, isSameProcess, parseStat, signal, waitForExit, type ProcessIdentity } from './processes.js';

const STOP_TIMEOUT_MS = 60_000;
const LAUNCH_TIMEOUT_MS = 10_000;
const STOP_ATTEMPTS = 20;

function nodePaths(nodeDir: string) {
  return { dir: nodeDir, conf: join(nodeDir, 'engine.conf'), pid: join(nodeDir, 'engine.pid'), launch: join(nodeDir, 'engine.launch'), log: join(nodeDir, 'engine.log'), data: join(nodeDir, 'data'), image: join(nodeDir, 'data.img') };
}

async function readRecord(path: string): Promise<ProcessIdentity | null> {
  try {
    const r = JSON.parse(await readFile(path, 'utf8')) as ProcessIdentity;
    return Number.isInteger(r.pid) && Number.isInteger(r.startTicks) && typeof r.exe === 'string' ? r : null;
  } catch {
    return null;
  }
}

async function writeRecord(path: string, id: ProcessIdentity): Promise<void> {
  // Written whole or not at all: a half-written record would lose the engine.
  await writeFile(`${path}.tmp`, JSON.stringify(id), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** The text without the node's secrets. */
function masked(node: NodeSpec, text: string): string {
  return text.split(node.password).join('***').split(node.serviceSecret).join('***');
}

/**
 * The live engine process of the node whose directory this is, or null. First the identity the
 * service recorded at launch (pid, start time, executable); without one that matches, the pid in
 * the engine's own pid file if that process is an engine working in this node's data dir (an
 * engine from before launch records, or one whose record was not written): it is recorded then.
 */
export async function engineProcessIn(nodeDir: string): Promise<ProcessIdentity | null> {
  const p = nodePaths(nodeDir);
  const recorded = await readRecord(p.launch);
  if (recorded && isSameProcess(recorded, await inspect(recorded.pid))) return recorded;
  const pid = await readPidFile(p.pid);
  // A pid that is not an engine in this data dir (a recycled pid, a stale file) is never adopted.
  if (pid === null) return null;
  if (!isAdoptable(await inspect(pid), p.data)) return null;
  const id = await identify(pid);
  if (id) await writeRecord(p.launch, id).catch(() => undefined);
  return id;
}

export class LocalDriver implements Driver {
  private readonly backups: LocalBackups;

  constructor(
    private readonly dataDir: string,
    private readonly engines: InstalledEngines,
    private readonly volumes?: LoopVolumes,
  ) {
    this.backups = new LocalBackups(join(dataDir, 'backup-staging'), (engine) => engines.binaries(engine));
  }

  offeredEngines(): Promise<EngineVersion[]> {
    return this.engines.read();
  }

  runnableVersion(engine: EngineKind): Promise<string | null> {
    return this.engines.runnableVersion(engine);
  }

  private paths(node: NodeSpec) {
    return nodePaths(join(this.dataDir, 'engines', node.nodeId));
  }

  get volumesUnavailable(): string | null {
    return this.volumes ? this.volumes.unavailable : 'the driver was started without volumes';
  }

  /** Whether this node's data directory is (to be) a volume of its own. */
  private usesVolume(node: NodeSpec): node is NodeSpec & { volumeGb: number } {
    return node.kind === 'data' && this.volumesUnavailable === null && typeof node.volumeGb === 'number';
  }

  /**
   * The node's data directory, ready for the engine: for a data node with volumes, its volume is
   * made (a new node), mounted (after a reboot) and at least its size. A data directory that
   * already holds data without a volume (a node from before volumes) is left as it is: a fresh
   * volume mounted over it would hide the dataset.
   */
  private async prepareData(node: NodeSpec): Promise<void> {
    const p = this.paths(node);
    await mkdir(p.data, { recursive: true, mode: 0o700 });
    await this.mountExisting(node);
    if (this.usesVolume(node)) {
      const own = await this.volumes!.exists(p.image);
      const bare = !own && (await this.volumes!.mountOf(p.data)) === undefined && (await readdir(p.data)).length > 0;
      if (!bare) await this.volumes!.ensure(p.image, p.data, this.volumes!.bytes(node.volumeGb));
    }
    await chmod(p.data, 0o700);
  }

  /**
   * An existing volume is mounted before anything reads or writes the data directory. A node
   * whose dataset is on a volume this service cannot mount (run as another user now, say) is
   * refused: its engine would start empty on the bare mount point.
   */
  private async mountExisting(node: NodeSpec): Promise<void> {
    if (node.kind !== 'data') return;
    const p = this.paths(node);
    const why = this.volumesUnavailable;
    if (why === null) {
      await this.volumes!.mountIfExists(p.image, p.data);
      return;
    }
    const hasImage = await stat(p.image).then(() => true, () => false);
    if (hasImage && !(await isMountPoint(p.data))) {
      throw new Error(`the data of node ${node.nodeId} is on a volume (${p.image}) that is not mounted, and this service cannot mount it: ${why}`);
    }
  }

  async growVolume(node: NodeSpec): Promise<boolean> {
    if (!this.usesVolume(node)) return false;
    const p = this.paths(node);
    if (!(await this.volumes!.mountIfExists(p.image, p.data))) return false;
    await this.volumes!.grow(p.image, p.data, this.volumes!.bytes(node.volumeGb), true);
    return true;
  }

  async volumeUsage(node: NodeSpec): Promise<VolumeUsage | null> {
    if (node.kind !== 'data' || this.volumesUnavailable !== null) return null;
    return this.volumes!.usage(this.paths(node).data);
  }

  async isAddressFree(ip: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ host: ip, port, exclusive: true }, () => srv.close(() => resolve(true)));
    });
  }

  /** Each candidate is bound once on each port it needs: free means free on this machine now. */
  allocateAddresses(subnet: Subnet, wanted: readonly WantedAddress[], taken: ReadonlySet<string>): Promise<AddressChoice> {
    return chooseAddresses(subnet.cidr, wanted, taken, (ip, port) => this.isAddressFree(ip, port));
  }

  async configure(node: NodeSpec): Promise<void> {
    const p = this.paths(node);
    await mkdir(p.dir, { recursive: true, mode: 0o700 });
    await chmod(p.dir, 0o700);
    await this.prepareData(node);
    const files = { dir: p.data, pidFile: p.pid, logFile: p.log };
    const text = renderNodeConfig(node, files);
    // The file holds the password: readable by the owner only.
    await writeFile(p.conf, text, { mode: 0o600 });
    await chmod(p.conf, 0o600);
  }

  /** The node's engine process if it runs. */
  private process(node: NodeSpec): Promise<ProcessIdentity | null> {
    return engineProcessIn(this.paths(node).dir);
  }

  /** The node's engine found by a scan of /proc (its pid file lost), recorded; or null. */
  private async adoptByScan(node: NodeSpec): Promise<ProcessIdentity | null> {
    const [pid] = await findEnginesIn(this.paths(node).data);
    const id = pid === undefined ? null : await identify(pid);
    if (id) await writeRecord(this.paths(node).launch, id);
    return id;
  }

  async isRunning(node: NodeSpec): Promise<boolean> {
    return (await this.process(node)) !== null;
  }

  async isHealthy(node: NodeSpec): Promise<boolean> {
    return (await this.isRunning(node)) && (await ping(endpointOf(node)));
  }

  async launch(node: NodeSpec): Promise<void> {
    if ((await this.process(node)) !== null) return;
    // Without a live pid file, a free address means nothing runs there; only when the port is
    // taken is the (slower) scan of /proc needed, to tell this node's engine from a stranger.
    if (!(await this.isAddressFree(node.ip, node.port))) {
      if ((await this.adoptByScan(node)) !== null) return;
      throw new Error(`${node.ip}:${node.port} is taken by a process that is not this node's engine`);
    }
    const bin = this.engines.binaries(node.engine);
    if (!bin) throw new Error(`the ${node.engine} engine is not installed on this machine`);
    const p = this.paths(node);
    // Never an engine on the bare mount point of its volume (after a reboot, say): it would
    // start empty and write beside, not into, its dataset.
    await this.mountExisting(node);
    // A pid file or launch record left by an engine that died is harmless: its pid is no engine
    // in this data dir any more (or has another start time), and the new engine overwrites it.
    // It is left in place (a launch racing another must not lose the other's engine); what it
    // names now tells a new daemon that wrote its pid and died from the old one.
    const stalePid = await readPidFile(p.pid);
    const stderr: Buffer[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(node.kind === 'sentinel' ? bin.sentinel : bin.server, [p.conf], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], cwd: p.dir, env: engineEnv() });
      child.stderr.on('data', (d: Buffer) => stderr.push(d));
      child.once('error', reject);
      // Not unref'd: it is awaited, and at boot (before the API listens) nothing else may keep
      // the event loop alive while the launcher forks the daemon.
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      throw new Error(`${node.engine} engine did not start (exit ${code}): ${await this.why(node, Buffer.concat(stderr).toString())}`);
    }
    // The launcher exits as soon as it has forked the daemon; wait until the daemon shows up
    // (pid file written, in its data dir) and record it, so that "not running" means dead from
    // here on.
    const deadline = Date.now() + LAUNCH_TIMEOUT_MS;
    while ((await this.process(node)) === null) {
      // A new pid written and already gone: the daemon died while starting (say so at once).
      const written = await readPidFile(p.pid);
      if (Date.now() > deadline || (written !== null && written !== stalePid && (await exited(written)))) {
        throw new Error(`${node.engine} engine exited right after starting: ${await this.why(node)}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The last lines of the engine's log, as the reason a start failed. Never holds secrets. */
  private async why(node: NodeSpec, stderr = ''): Promise<string> {
    const log = (await this.lastLogLines(node, 3)).join(' | ');
    const text = `${stderr.trim()} ${log}`.trim() || 'no output';
    return masked(node, text).slice(0, 600);
  }

  followLog(node: NodeSpec, onLines: (lines: string[]) => void): () => void {
    return followFile(this.paths(node).log, (lines) => onLines(lines.map((l) => masked(node, l))));
  }

  async lastLogLines(node: NodeSpec, count: number): Promise<string[]> {
    // The tail is enough: a log grows for as long as the node lives.
    const text = await readTail(this.paths(node).log, 64 * 1024).catch(() => '');
    return text
      .split('\n')
      .filter((l) => l.trim())
      .slice(-count)
      .map((l) => masked(node, l));
  }

  async persistedState(node: NodeSpec): Promise<PersistedState> {
    const p = this.paths(node);
    if (node.kind === 'sentinel') {
      const text = await readFile(p.conf, 'utf8').catch(() => '');
      return { hasData: false, lastWriteAt: null, sentinel: text ? parseSentinelState(text, node.sentinel!.masterName) : null };
    }
    await this.mountExisting(node);
    // The engine's default appenddirname and snapshot name, inside the node's data dir.
    const aofDir = join(p.data, 'appendonlydir');
    const entries = parseManifest(await readFile(join(aofDir, 'appendonly.aof.manifest'), 'utf8').catch(() => ''));
    const size = (f: string) => stat(f).then((s) => s.size, () => 0);
    let hasData = (await size(join(p.data, 'dump.rdb'))) > 0;
    for (const e of entries) if ((await size(join(aofDir, e.name))) > 0) hasData = true;
    // The newest increment that logged a write with its second (aof-timestamp-enabled).
    let lastWriteAt: number | null = null;
    for (const e of entries.filter((x) => x.type === 'i').sort((a, b) => b.seq - a.seq)) {
      lastWriteAt = await lastTimestampIn(join(aofDir, e.name));
      if (lastWriteAt !== null) break;
    }
    return { hasData, lastWriteAt, sentinel: null };
  }


  async waitReady(node: NodeSpec, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ep = endpointOf(node);
    for (;;) {
      if (await ping(ep, 500)) return;
      if (!(await this.isRunning(node))) throw new Error(`${node.engine} engine exited while starting: ${await this.why(node)}`);
      if (Date.now() > deadline) throw new Error(`${node.engine} engine did not answer within ${timeoutMs} ms: ${await this.why(node)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(node: NodeSpec, opts: { save: boolean }): Promise<void> {
    const proc = await this.process(node);
    if (proc === null) return;
    const ep = endpointOf(node);
    // A Sentinel has no dataset to save.
    const save = opts.save && node.kind === 'data';
    for (let attempt = 1; ; attempt++) {
      try {
        await shutdown(ep, save);
        break;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (/ECONNREFUSED|ETIMEDOUT|Connection is closed|connect/i.test(msg)) {
          // It does not answer: SIGTERM asks it to persist and exit.
          signal(proc.pid, 'SIGTERM');
          break;
        }
        // The engine refused, e.g. its save failed, or a replica was still loading what its
        // primary sent: try again for a while, then give up and say why (it keeps running).
        if (attempt >= STOP_ATTEMPTS) {
          throw new Error(`${node.engine} engine refused to shut down: ${masked(node, msg)}; ${await this.why(node)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!(await waitForExit(proc, STOP_TIMEOUT_MS))) {
      throw new Error(`${node.engine} engine (pid ${proc.pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s`);
    }
  }

  async kill(node: NodeSpec): Promise<void> {
    // Every engine in the node's data dir, also one whose pid file was lost.
    const found = await this.process(node);
    const pids = new Set([...(found ? [found.pid] : []), ...(await findEnginesIn(this.paths(node).data))]);
    for (const pid of pids) {
      const proc = await identify(pid);
      if (!proc) continue;
      signal(pid, 'SIGKILL');
      await waitForExit(proc, 10_000);
    }
  }

  snapshot(node: NodeSpec, backupId: string, storage: BackupStorage): Promise<Snapshot> {
    return this.backups.snapshot(node, backupId, storage);
  }

  storeSnapshot(backupId: string, storage: BackupStorage, key: string): Promise<StoredObject> {
    return this.backups.storeSnapshot(backupId, storage, key);
  }

  verifySnapshot(backupId: string, engine: EngineKind, storage: BackupStorage, key: string, opts: { resumed: boolean }): Promise<VerifiedSnapshot> {
    return this.backups.verifySnapshot(backupId, engine, storage, key, opts);
  }

  sweepScratch(): Promise<number> {
    return sweepScratchEngines();
  }

  /** Nothing to send: the engines' logs are on this machine, taken in by `keepLive`. */
  async shipLogs(_storage: BackupStorage): Promise<number> {
    return 0;
  }

  discardSnapshot(backupId: string): Promise<void> {
    return this.backups.discardSnapshot(backupId);
  }

  importBackup(node: NodeSpec, from: BackupSource): Promise<void> {
    return this.backups.importBackup(node, from, (n, dir) => this.importAof(n, dir));
  }

  /** Places an append-only directory (manifest, base, increment) in the stopped node's data directory. */
  private async importAof(node: NodeSpec, fromDir: string): Promise<void> {
    if (await this.isRunning(node)) throw new Error(`node ${node.nodeId} is running; a dataset can only be placed while it is stopped`);
    // The engine's default appenddirname, inside the node's data dir.
    const target = join(this.paths(node).data, 'appendonlydir');
    await mkdir(this.paths(node).dir, { recursive: true, mode: 0o700 });
    await this.prepareData(node);
    await rm(target, { recursive: true, force: true });
    await cp(fromDir, target, { recursive: true });
  }

  async removeData(node: NodeSpec): Promise<void> {
    // Unmounted and its loop device freed first: rm would otherwise empty the mounted volume and
    // leave the mount and the device behind.
    if (node.kind === 'data' && this.volumes && this.volumes.unavailable === null) {
      const p = this.paths(node);
      await this.volumes.remove(p.image, p.data);
    }
    await rm(this.paths(node).dir, { recursive: true, force: true });
  }
}

/** The last `bytes` of a file as text. */
async function readTail(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last `#TS:` second of a write log, read backwards in chunks (a log can be gigabytes). */
async function lastTimestampIn(file: string): Promise<number | null> {
  const CHUNK = 1 << 20;
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await fh.stat();
    // Chunks overlap by a little, so an annotation cut by a chunk's start is read whole in the next.
    for (let end = size; end > 0; end -= CHUNK - 64) {
      const start = Math.max(0, end - CHUNK);
      const buf = Buffer.alloc(end - start);
      await fh.read(buf, 0, buf.length, start);
      // Annotations start a line; one cut at the chunk's start may read as a shorter number.
      const text = buf.toString('latin1');
      const at = text.lastIndexOf('\n#TS:');
      if (at >= 0) return lastTimestamp(text.slice(at + 1));
      if (start === 0) return lastTimestamp(text);
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** Whether a directory is a mount point: it lies on another device than its parent. */
async function isMountPoint(dir: string): Promise<boolean> {
  const [a, b] = await Promise.all([stat(dir).catch(() => null), stat(join(dir, '..')).catch(() => null)]);
  return a !== null && b !== null && a.dev !== b.dev;
}

/** Whether a process is gone (or a zombie), whatever its title. */
async function exited(pid: number): Promise<boolean> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).state === 'Z';
  } catch {
    return true;
  }
}

/** The pid a pid file names, or null when there is none. */
async function readPidFile(file: string): Promise<number | null> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  return pid > 0 ? pid : null;
}
