// A client that writes through Sentinel discovery (ioredis with `sentinels`), as an application
// would, or straight to a standalone engine, and remembers every write the cluster acknowledged,
// so a test can check that none was lost across a failover, a switchover, a rolling restart or
// an engine's crash and restart.
import { Redis } from 'ioredis';

export interface SentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  name: string;
  password: string;
}

/** A standalone cluster's engine, reached directly. */
export interface DirectTarget {
  host: string;
  port: number;
  password: string;
}

export type Target = SentinelTarget | DirectTarget;

/** A client that reconnects and retries until stopped: through Sentinel, or straight to the engine. */
export function clientFor(t: Target): Redis {
  if ('sentinels' in t) return sentinelClient(t);
  const c = new Redis({
    host: t.host,
    port: t.port,
    password: t.password,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    connectTimeout: 500,
    retryStrategy: () => 50,
  });
  c.on('error', () => undefined);
  return c;
}

export function sentinelClient(t: SentinelTarget): Redis {
  const c = new Redis({
    sentinels: t.sentinels,
    name: t.name,
    password: t.password,
    sentinelPassword: t.password,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    connectTimeout: 500,
    sentinelRetryStrategy: () => 50,
    retryStrategy: () => 50,
    // A demoted primary answers READONLY, a fenced one (cut off from its replicas) NOREPLICAS:
    // reconnect (asking Sentinel again) and resend.
    reconnectOnError: (err) => (/^(READONLY|NOREPLICAS)/.test(err.message) ? 2 : false),
    // ioredis 5's failoverDetector left clients ended ("Connection is closed.") after some
    // failovers here; plain reconnection through Sentinel is reliable.
    failoverDetector: false,
  });
  c.on('error', () => undefined);
  return c;
}

export interface WriterResult {
  acked: string[];
  /** When each acknowledged write was acknowledged (ms since epoch), in order. */
  ackedAt: number[];
  /** When each acknowledged write was sent. */
  sentAt: number[];
  errors: number;
  /** The last error a write got (they are retried), for diagnostics. */
  lastError: string;
  /** Longest time between two acknowledged writes while the writer ran (ms). */
  longestGapMs: number;
}

export interface Writer {
  ackedCount(): number;
  /** When the latest write was acknowledged. */
  lastAckAt(): number;
  stop(): Promise<WriterResult>;
}

export function startWriter(t: Target, prefix: string): Writer {
  const client = clientFor(t);
  const acked: string[] = [];
  const ackedAt: number[] = [];
  const sentAt: number[] = [];
  let errors = 0;
  let lastError = '';
  let running = true;
  let last = Date.now();
  let longestGapMs = 0;
  const loop = (async () => {
    let i = 0;
    while (running) {
      const key = `${prefix}:${i++}`;
      const sent = Date.now();
      try {
        await client.set(key, String(i));
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
        acked.push(key);
        ackedAt.push(now);
        sentAt.push(sent);
      } catch (err) {
        errors++;
        lastError = err instanceof Error ? err.message : String(err);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
  return {
    ackedCount: () => acked.length,
    lastAckAt: () => ackedAt[ackedAt.length - 1] ?? 0,
    async stop() {
      running = false;
      await loop;
      client.disconnect();
      return { acked, ackedAt, sentAt, errors, lastError, longestGapMs };
    },
  };
}

/**
 * How long before a SIGKILL the engines may have acknowledged writes that are not in their
 * append-only file yet. With `appendfsync everysec` a write is acknowledged once it is in the AOF
 * buffer, and while the disk is still syncing the previous second the engines (Redis OSS and
 * Valkey alike: flushAppendOnlyFile) put off writing that buffer to the file for up to 2 s. On a
 * busy disk, then, killing every copy of the data loses what was acknowledged in those 2 s (and a
 * scheduling margin), even without a power loss (README, Behaviour worth knowing, Data).
 */
export const AOF_WRITE_DELAY_MS = 2500;

/**
 * Of the keys missing after every copy of the data was SIGKILLed at `killedAt`, those the
 * engines' own delay does not explain: acknowledged before its window, or after the kill.
 */
export function lostBeyondAofDelay(missing: string[], written: { acked: string[]; ackedAt: number[] }, killedAt: number): string[] {
  const at = new Map(written.acked.map((k, i) => [k, written.ackedAt[i]]));
  return missing.filter((k) => {
    const t = at.get(k) ?? 0;
    return t < killedAt - AOF_WRITE_DELAY_MS || t > killedAt;
  });
}

/** The acknowledged keys the cluster's current primary does not have. */
export async function missingKeys(t: Target, keys: string[]): Promise<string[]> {
  const c = clientFor(t);
  try {
    const missing: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await c.mget(...chunk);
      values.forEach((v, j) => {
        if (v === null) missing.push(chunk[j]);
      });
    }
    return missing;
  } finally {
    c.disconnect();
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** How a Sentinel-aware client finds a cluster as Show Cluster shows it: every instance's Sentinel. */
export function sentinelTargetOf(body: { name: string; instance_groups: Array<{ instances: Array<{ service_ip_address: string }> }> }, password = 'Secr3t!pass', sentinelPort = 26378): SentinelTarget {
  return {
    sentinels: body.instance_groups.flatMap((g) => g.instances).map((i) => ({ host: i.service_ip_address, port: sentinelPort })),
    name: body.name,
    password,
  };
}
