// Datasets for backup tests: keys of every common type written through a real client, and a
// read-back of every key with its type and contents, so two datasets compare key by key.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const PASSWORD = 'Secr3t!pass';

export function connectTo(ip: string, port = 6378, password = PASSWORD): Redis {
  const c = new Redis({ host: ip, port, password, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  c.on('error', () => undefined);
  return c;
}

/** PING as the tenant with `password`: 'PONG', or the engine's refusal as an error. */
export async function pingWith(ip: string, port: number, password = PASSWORD): Promise<string> {
  const c = connectTo(ip, port, password);
  try {
    await c.connect();
    return await c.ping();
  } finally {
    c.disconnect();
  }
}

/**
 * Writes `n` keys named `<prefix>:<i>`, cycling through string, hash, list, set and sorted set.
 * Values carry random bytes, so snapshots do not compress them away.
 */
export async function fill(ip: string, prefix: string, n: number, valueBytes = 32): Promise<string[]> {
  const c = connectTo(ip);
  await c.connect();
  try {
    const keys: string[] = [];
    for (let start = 0; start < n; start += 500) {
      const p = c.pipeline();
      for (let i = start; i < Math.min(n, start + 500); i++) {
        const pad = randomBytes(Math.max(1, Math.ceil((valueBytes - 8) / 2))).toString('hex');
        const k = `${prefix}:${i}`;
        keys.push(k);
        switch (i % 5) {
          case 0: p.set(k, `v${i}${pad}`); break;
          case 1: p.hset(k, { a: String(i), b: pad }); break;
          case 2: p.rpush(k, String(i), pad, 'tail'); break;
          case 3: p.sadd(k, String(i), 'm2', 'm3'); break;
          default: p.zadd(k, i, 'one', i + 1, 'two');
        }
      }
      await p.exec();
    }
    return keys;
  } finally {
    c.disconnect();
  }
}

/** Every key of the node with its type and contents, in a form `toEqual` compares. */
export async function readAll(ip: string, port = 6378): Promise<Map<string, unknown>> {
  const c = connectTo(ip, port);
  await c.connect();
  try {
    const out = new Map<string, unknown>();
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const type = await c.type(k);
        let value: unknown;
        if (type === 'string') value = await c.get(k);
        else if (type === 'hash') value = await c.hgetall(k);
        else if (type === 'list') value = await c.lrange(k, 0, -1);
        else if (type === 'set') value = (await c.smembers(k)).sort();
        else if (type === 'zset') value = await c.zrange(k, 0, -1, 'WITHSCORES');
        else value = `<${type}>`;
        out.set(k, { type, value });
      }
    } while (cursor !== '0');
    return out;
  } finally {
    c.disconnect();
  }
}

/**
 * Writes `n` keys (`fill`) all within one wall-clock second, then waits for that second to end.
 * `settle` runs before the second may end (e.g. waiting for replicas to have the writes). Returns
 * the second (unix) and the node's data as it stood at its end, the target of a restore to it.
 */
export async function writeWithinOneSecond(ip: string, prefix: string, n: number, settle?: () => Promise<void>): Promise<{ second: number; data: Map<string, unknown> }> {
  const second = await nextSecond();
  await fill(ip, prefix, n);
  await settle?.();
  if (Math.floor(Date.now() / 1000) !== second) throw new Error(`writing ${n} keys took longer than the second they started in`);
  await nextSecond();
  return { second, data: await readAll(ip) };
}

/** Waits until the wall clock is in a new second, then returns that second (unix). */
export async function nextSecond(): Promise<number> {
  const now = Date.now();
  await new Promise((r) => setTimeout(r, 1000 - (now % 1000) + 20));
  return Math.floor(Date.now() / 1000);
}

/** Runs `fn` on a connection made as the tenant makes it: the cluster password, no user name. */
export async function asTenant<T>(ip: string, port: number, fn: (c: Redis) => Promise<T>, password = PASSWORD): Promise<T> {
  const c = new Redis({ host: ip, port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}
