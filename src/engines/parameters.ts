// Reading and setting engine parameters, and which commands an engine knows, the same on Redis OSS and Valkey. CONFIG SET with
// several name/value pairs is atomic on both engines (all or none): one command per node.
import type { Redis } from 'ioredis';
import type { Endpoint } from './client.js';
import { withClient } from './replication.js';

/** The values of `names` (one CONFIG GET); names the engine lacks are absent from the result. */
export async function configGet(ep: Endpoint, names: string[], timeoutMs = 2000): Promise<Record<string, string>> {
  if (names.length === 0) return {};
  return withClient(ep, (c) => readConfig(c, names), timeoutMs);
}

export async function readConfig(c: Redis, names: string[]): Promise<Record<string, string>> {
  const flat = (await c.call('CONFIG', 'GET', ...names)) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

/** Sets every value in one CONFIG SET (all or none); throws the engine's error. */
export async function configSet(ep: Endpoint, values: Record<string, string>, timeoutMs = 2000): Promise<void> {
  const args = Object.entries(values).flat();
  if (args.length === 0) return;
  await withClient(ep, (c) => c.call('CONFIG', 'SET', ...args), timeoutMs);
}

/** Reads the current values of the names given, then sets them all in one CONFIG SET, on one connection; returns what was there. */
export async function swapConfig(ep: Endpoint, values: Record<string, string>, timeoutMs = 2000): Promise<Record<string, string>> {
  return withClient(
    ep,
    async (c) => {
      const previous = await readConfig(c, Object.keys(values));
      await c.call('CONFIG', 'SET', ...Object.entries(values).flat());
      return previous;
    },
    timeoutMs,
  );
}

/** Which of `names` the engine knows as commands (COMMAND INFO answers nil for the others). */
export async function knownCommands(ep: Endpoint, names: string[], timeoutMs = 2000): Promise<Record<string, boolean>> {
  if (names.length === 0) return {};
  const info = (await withClient(ep, (c) => c.call('COMMAND', 'INFO', ...names), timeoutMs)) as unknown[];
  return Object.fromEntries(names.map((n, i) => [n, info[i] != null]));
}

/** The engine's used_memory (INFO memory): the data in use, in bytes. */
export async function usedMemory(ep: Endpoint, timeoutMs = 2000): Promise<number> {
  const text = (await withClient(ep, (c) => c.call('INFO', 'memory'), timeoutMs)) as string;
  const m = /^used_memory:(\d+)/m.exec(text);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}
