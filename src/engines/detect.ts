// Finds the engines installed on this machine and reads their versions from the binaries, so
// the catalogue offers exactly what can run. A missing engine is simply not offered.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, readFile, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { PRODUCT_IMAGE, type EngineVersion } from '../domain/catalog.js';
import type { EngineKind } from '../domain/model.js';

const run = promisify(execFile);

export interface EngineBinaries {
  server: string;
  sentinel: string;
  checkAof: string | null;
  checkRdb: string | null;
}

export interface InstalledEngine {
  version: EngineVersion;
  binaries: EngineBinaries;
}

const NAMES: Record<EngineKind, { server: string; sentinel: string; checkAof: string; checkRdb: string; label: string }> = {
  redis: { server: 'redis-server', sentinel: 'redis-sentinel', checkAof: 'redis-check-aof', checkRdb: 'redis-check-rdb', label: 'Redis OSS' },
  valkey: { server: 'valkey-server', sentinel: 'valkey-sentinel', checkAof: 'valkey-check-aof', checkRdb: 'valkey-check-rdb', label: 'Valkey' },
};

async function which(name: string, dirs: string[]): Promise<string | null> {
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function osRelease(): Promise<{ type: string; version: string }> {
  try {
    const text = await readFile('/etc/os-release', 'utf8');
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?`, 'm').exec(text)?.[1];
    return { type: get('NAME')?.split(' ')[0] ?? 'Linux', version: get('VERSION_ID') ?? '' };
  } catch {
    return { type: 'Linux', version: '' };
  }
}

/** Stable across machines: the same product and version always get the same id. */
export function engineVersionId(product: string, version: string): string {
  return createHash('sha256').update(`cachestore-engine:${product}:${version}`).digest('hex').slice(0, 32);
}

/** The version an engine binary reports (`--version`, e.g. 7.0.15); null when it does not answer. */
export async function softwareVersionOf(server: string): Promise<string | null> {
  try {
    const out = (await run(server, ['--version'], { timeout: 5000 })).stdout;
    return /v=(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The catalogue's entry for an engine version, the same whichever driver offers it. */
export function engineVersionOf(engine: EngineKind, softwareVersion: string, os: { type: string; version: string }): EngineVersion {
  const product = PRODUCT_IMAGE[engine];
  const label = NAMES[engine].label;
  return {
    id: engineVersionId(product, softwareVersion),
    engine,
    productImageType: product,
    name: `${label} ${softwareVersion}`,
    dbaasEngine: label,
    majorVersion: softwareVersion.split('.').slice(0, 2).join('.'),
    softwareVersion,
    osType: os.type,
    osVersion: os.version,
    endOfService: false,
  };
}

/** Looks for each engine's server and sentinel in `searchPath` (default: $PATH). */
export async function detectEngines(searchPath = process.env.PATH ?? ''): Promise<InstalledEngine[]> {
  const dirs = searchPath.split(delimiter).filter(Boolean);
  const os = await osRelease();
  const found: InstalledEngine[] = [];
  for (const engine of ['redis', 'valkey'] as const) {
    const n = NAMES[engine];
    const server = await which(n.server, dirs);
    const sentinel = await which(n.sentinel, dirs);
    if (!server || !sentinel) continue;
    const softwareVersion = await softwareVersionOf(server);
    if (!softwareVersion) continue;
    found.push({
      version: engineVersionOf(engine, softwareVersion, os),
      binaries: { server, sentinel, checkAof: await which(n.checkAof, dirs), checkRdb: await which(n.checkRdb, dirs) },
    });
  }
  return found;
}

/**
 * What detectEngines reads, as it is now: every path where it looks for a binary (following links:
 * a package upgrade puts a new file in place, a new inode) and /etc/os-release.
 */
async function filesNow(dirs: string[]): Promise<string> {
  const paths = [...dirs.flatMap((d) => Object.values(NAMES).flatMap((n) => [n.server, n.sentinel, n.checkAof, n.checkRdb].map((b) => join(d, b)))), '/etc/os-release'];
  const marks = await Promise.all(
    paths.map((p) =>
      stat(p, { bigint: true }).then(
        (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.mode}`,
        () => '-',
      ),
    ),
  );
  return marks.join(' ');
}

/**
 * detectEngines for the local driver's catalogue (drivers/local/installed-engines.ts), read at
 * start and at each maintenance look: the binaries are run again (`--version`) only when a file
 * it reads changed. Running them cost about
 * 65 ms of the service's CPU per look (two processes started), the largest part of its idle cost
 * (issue 15); looking at the files costs well under a millisecond.
 */
export function engineDetector(searchPath = process.env.PATH ?? ''): () => Promise<InstalledEngine[]> {
  const dirs = searchPath.split(delimiter).filter(Boolean);
  let last: { files: string; found: InstalledEngine[] } | null = null;
  return async () => {
    // Taken before the read: a file replaced during it differs next time, and is read then.
    const files = await filesNow(dirs);
    if (last?.files !== files) last = { files, found: await detectEngines(searchPath) };
    return last.found;
  };
}
