// The local driver: every instance is an engine process on its own loopback address, detached
// from the service (daemonized) so that restarting the service never stops a database.
// Layout: <dataDir>/engines/<nodeId>/{engine.conf, engine.pid, engine.log, data/}
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { lastTimestamp, parseManifest } from '../../engines/aof.js';
import { parseSentinelState, processMarker, renderDataNodeConfig, renderSentinelConfig } from '../../engines/config.js';
import { ping, shutdown } from '../../engines/client.js';
import type { EngineBinaries } from '../../engines/detect.js';
import type { EngineKind } from '../../domain/model.js';
import { endpointOf, type Driver, type NodeSpec, type PersistedState } from '../driver.js';
import { findByMarker, isAlive, signal, waitForExit } from './processes.js';

const STOP_TIMEOUT_MS = 60_000;
const LAUNCH_TIMEOUT_MS = 10_000;
const STOP_ATTEMPTS = 20;

export class LocalDriver implements Driver {
  constructor(
    private readonly dataDir: string,
    private readonly binaries: (engine: EngineKind) => EngineBinaries | undefined,
  ) {}

  private paths(node: NodeSpec) {
    const dir = join(this.dataDir, 'engines', node.nodeId);
    return { dir, conf: join(dir, 'engine.conf'), pid: join(dir, 'engine.pid'), log: join(dir, 'engine.log'), data: join(dir, 'data') };
  }

  async isAddressFree(ip: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ host: ip, port, exclusive: true }, () => srv.close(() => resolve(true)));
    });
  }

  async configure(node: NodeSpec): Promise<void> {
    const p = this.paths(node);
    await mkdir(p.data, { recursive: true, mode: 0o700 });
    await chmod(p.dir, 0o700);
    const files = { dir: p.data, pidFile: p.pid, logFile: p.log };
    const text =
      node.kind === 'sentinel'
        ? renderSentinelConfig({ nodeId: node.nodeId, ip: node.ip, port: node.port, password: node.password, ...files, ...node.sentinel! })
        : renderDataNodeConfig({
            instanceId: node.nodeId,
            ip: node.ip,
            port: node.port,
            password: node.password,
            ...files,
            maxMemoryBytes: node.maxMemoryBytes,
            ioThreads: node.ioThreads,
            replicaOf: node.replicaOf,
            keepWriteLog: node.keepWriteLog ?? false,
          });
    // The file holds the password: readable by the owner only.
    await writeFile(p.conf, text, { mode: 0o600 });
    await chmod(p.conf, 0o600);
  }

  /** The pid of the node's engine if it runs: from its pid file, else by scanning for the marker. */
  private async pid(node: NodeSpec): Promise<number | null> {
    const fromFile = await this.pidFromFile(node);
    if (fromFile !== null) return fromFile;
    // No live pid file: the engine never started, exited cleanly, or died before writing it;
    // or its pid file was lost. Only a scan of /proc tells for sure.
    const found = await findByMarker(processMarker(node.nodeId));
    return found[0] ?? null;
  }

  private async pidFromFile(node: NodeSpec): Promise<number | null> {
    try {
      const pid = Number((await readFile(this.paths(node).pid, 'utf8')).trim());
      if (pid > 0 && (await isAlive(pid, processMarker(node.nodeId)))) return pid;
    } catch {
      // no pid file yet
    }
    return null;
  }

  async isRunning(node: NodeSpec): Promise<boolean> {
    return (await this.pid(node)) !== null;
  }

  async isHealthy(node: NodeSpec): Promise<boolean> {
    return (await this.isRunning(node)) && (await ping(endpointOf(node)));
  }

  async launch(node: NodeSpec): Promise<void> {
    if ((await this.pidFromFile(node)) !== null) return;
    // Without a live pid file, a free address means nothing runs there; only when the port is
    // taken is the (slower) scan of /proc needed, to tell our engine from a stranger.
    if (!(await this.isAddressFree(node.ip, node.port))) {
      if ((await findByMarker(processMarker(node.nodeId))).length > 0) return;
      throw new Error(`${node.ip}:${node.port} is taken by a process that is not this node's engine`);
    }
    const bin = this.binaries(node.engine);
    if (!bin) throw new Error(`the ${node.engine} engine is not installed on this machine`);
    const p = this.paths(node);
    // A pid file left by a dead engine names no live engine (checked above): without it, a pid
    // file that appears and names a dead process says the new daemon died while starting.
    await rm(p.pid, { force: true });
    const stderr: Buffer[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(node.kind === 'sentinel' ? bin.sentinel : bin.server, [p.conf], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], cwd: p.dir });
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
    // (pid file written, title set), so that "not running" means dead from here on.
    const deadline = Date.now() + LAUNCH_TIMEOUT_MS;
    while ((await this.pidFromFile(node)) === null) {
      const written = Number((await readFile(p.pid, 'utf8').catch(() => '')).trim());
      if (Date.now() > deadline || (written > 0 && (await exited(written)))) {
        throw new Error(`${node.engine} engine exited right after starting: ${await this.why(node)}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The last lines of the engine's log, as the reason a start failed. Never holds secrets. */
  private async why(node: NodeSpec, stderr = ''): Promise<string> {
    const log = (await this.lastLogLines(node, 3)).join(' | ');
    const text = `${stderr.trim()} ${log}`.trim() || 'no output';
    return text.split(node.password).join('***').slice(0, 600);
  }

  async lastLogLines(node: NodeSpec, count: number): Promise<string[]> {
    // The tail is enough: a log grows for as long as the node lives.
    const text = await readTail(this.paths(node).log, 64 * 1024).catch(() => '');
    return text
      .split('\n')
      .filter((l) => l.trim())
      .slice(-count)
      .map((l) => l.split(node.password).join('***'));
  }

  async persistedState(node: NodeSpec): Promise<PersistedState> {
    const p = this.paths(node);
    if (node.kind === 'sentinel') {
      const text = await readFile(p.conf, 'utf8').catch(() => '');
      return { hasData: false, lastWriteAt: null, sentinel: text ? parseSentinelState(text, node.sentinel!.masterName) : null };
    }
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
    const pid = await this.pid(node);
    if (pid === null) return;
    const marker = processMarker(node.nodeId);
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
          signal(pid, 'SIGTERM');
          break;
        }
        // The engine refused, e.g. its save failed, or a replica was still loading what its
        // primary sent: try again for a while, then give up and say why (it keeps running).
        if (attempt >= STOP_ATTEMPTS) {
          throw new Error(`${node.engine} engine refused to shut down: ${msg.split(node.password).join('***')}; ${await this.why(node)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!(await waitForExit(pid, marker, STOP_TIMEOUT_MS))) {
      throw new Error(`${node.engine} engine (pid ${pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s`);
    }
  }

  async kill(node: NodeSpec): Promise<void> {
    const marker = processMarker(node.nodeId);
    for (const pid of await findByMarker(marker)) {
      signal(pid, 'SIGKILL');
      await waitForExit(pid, marker, 10_000);
    }
  }

  async importAof(node: NodeSpec, fromDir: string): Promise<void> {
    if (await this.isRunning(node)) throw new Error(`node ${node.nodeId} is running; a dataset can only be placed while it is stopped`);
    // The engine's default appenddirname, inside the node's data dir.
    const target = join(this.paths(node).data, 'appendonlydir');
    await rm(target, { recursive: true, force: true });
    await mkdir(this.paths(node).data, { recursive: true, mode: 0o700 });
    await cp(fromDir, target, { recursive: true });
  }

  async removeData(node: NodeSpec): Promise<void> {
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

/** Whether a process is gone (or a zombie), whatever its title. */
async function exited(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}
