// Replication and Sentinel commands, the same on Redis OSS and Valkey: reading a node's role,
// waiting for a replica to catch up, pausing writes, promoting, and pointing Sentinels.
import type { Redis } from 'ioredis';
import { connect, type Endpoint } from './client.js';

export interface ReplicationInfo {
  role: 'master' | 'slave';
  masterHost?: string;
  masterPort?: number;
  linkUp?: boolean;
  /** master_repl_offset on a primary, slave_repl_offset on a replica. */
  offset: number;
  /** Replicas that count for min-replicas-to-write; reported by a primary only while it is set. */
  goodReplicas?: number;
}

/** `readyCheck`: see connect() (false for reads an engine answers while it loads its data). */
export async function withClient<T>(ep: Endpoint, fn: (c: Redis) => Promise<T>, timeoutMs = 1000, readyCheck = true): Promise<T> {
  const c = connect(ep, timeoutMs, readyCheck);
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export async function replicationInfo(c: Redis): Promise<ReplicationInfo> {
  const info = parseInfo(await c.info('replication'));
  if (info.role === 'slave') {
    return {
      role: 'slave',
      masterHost: info.master_host,
      masterPort: Number(info.master_port),
      linkUp: info.master_link_status === 'up',
      offset: Number(info.slave_repl_offset ?? 0),
    };
  }
  // Redis 7 and Valkey 8 both name it min_slaves_good_slaves; a later rename is read too.
  const good = info.min_slaves_good_slaves ?? info.min_replicas_good_replicas;
  return { role: 'master', offset: Number(info.master_repl_offset ?? 0), ...(good !== undefined ? { goodReplicas: Number(good) } : {}) };
}

/** Replication info of a node, or null when it does not answer within `timeoutMs` (to connect). */
export async function probeReplication(ep: Endpoint, timeoutMs = 500): Promise<ReplicationInfo | null> {
  try {
    return await withClient(ep, replicationInfo, timeoutMs, false);
  } catch {
    return null;
  }
}

/**
 * As probeReplication, but a node that lets the first look pass is looked at once more, with a
 * second to connect, before it counts as not answering: when this process's event loop is busy
 * (many requests resuming at once on a loaded machine) the connect timer can fire before the
 * connection that was already made is seen, and a healthy engine would be recorded as one that
 * does not answer (the crash sweep saw a cluster left ERROR so). A dead engine refuses at once,
 * twice.
 */
export async function probeReplicationSurely(ep: Endpoint): Promise<ReplicationInfo | null> {
  return (await probeReplication(ep)) ?? probeReplication(ep, 1000);
}

/** Waits until a replica is linked to `master` and has finished its initial sync. */
export async function waitReplicaSynced(ep: Endpoint, master: { ip: string; port: number }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const r = await probeReplication(ep);
    if (r?.role === 'slave' && r.masterHost === master.ip && r.masterPort === master.port && r.linkUp) return;
    last = r ? `role ${r.role}${r.masterHost ? ` of ${r.masterHost}:${r.masterPort}` : ''}, link ${r.linkUp ? 'up' : 'down'}` : 'no answer';
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`replica ${ep.host}:${ep.port} did not sync with ${master.ip}:${master.port} within ${timeoutMs} ms (${last})`);
}

/** The primary a Sentinel currently names for `masterName`, or null. */
export async function sentinelMaster(ep: Endpoint, masterName: string): Promise<{ ip: string; port: number } | null> {
  try {
    return await withClient(
      ep,
      async (c) => {
        const r = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string] | null;
        return r ? { ip: r[0], port: Number(r[1]) } : null;
      },
      500,
      false,
    );
  } catch {
    return null;
  }
}
