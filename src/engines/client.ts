// Short-lived admin connections to an engine: readiness, shutdown, role. ioredis is the
// well-kept client here (it also speaks Sentinel, which HA needs).
import { Redis } from 'ioredis';

export interface Endpoint {
  host: string;
  port: number;
  /** The ACL user; absent: `default` (an engine from before the service had its own user). */
  username?: string;
  password: string;
}

/**
 * `readyCheck: false` skips ioredis's INFO (every section) that it otherwise sends on connecting
 * and waits on while the engine loads its data: for reads that an engine answers while it loads
 * (INFO sections, SENTINEL), it is only a round trip and a few kB to parse. The periodic look at
 * every cluster (reconciler.ts) makes seven such connections per HA cluster (issue 15).
 */
export function connect(ep: Endpoint, timeoutMs = 1000, readyCheck = true): Redis {
  return new Redis({
    host: ep.host,
    port: ep.port,
    username: ep.username,
    password: ep.password,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs * 5,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableReadyCheck: readyCheck,
  });
}

/** True when the engine answers PING to these credentials. */
export async function ping(ep: Endpoint, timeoutMs = 1000): Promise<boolean> {
  const client = connect(ep, timeoutMs);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Asks the engine to shut down. With `save`, it writes its dataset first and refuses to exit
 * if that fails (the error is thrown). Resolves when the connection closes.
 */
export async function shutdown(ep: Endpoint, save: boolean): Promise<void> {
  const client = connect(ep, 1000);
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.call('SHUTDOWN', save ? 'SAVE' : 'NOSAVE');
  } catch (err) {
    // A successful SHUTDOWN closes the connection instead of replying.
    const msg = err instanceof Error ? err.message : String(err);
    if (!/Connection is closed|ECONNRESET|EPIPE/i.test(msg)) throw err;
  } finally {
    client.disconnect();
  }
}
