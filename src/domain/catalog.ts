// The catalogue of what can be created: engine versions (found on this machine by the engines
// module) and server types (fixed sizes whose cpu and memory drive the engine's limits).
import type { EngineKind, ProductImageType } from './model.js';

export interface EngineVersion {
  /** Stable 32-hex id derived from product and version, equal on every machine with that version. */
  id: string;
  engine: EngineKind;
  productImageType: ProductImageType;
  /** e.g. "Redis OSS 7.0.15" */
  name: string;
  dbaasEngine: string;
  majorVersion: string;
  softwareVersion: string;
  osType: string;
  osVersion: string;
  endOfService: boolean;
}

export interface ServerType {
  name: string;
  engine: EngineKind;
  productImageType: ProductImageType;
  cpuCore: number;
  memoryGb: number;
  description: string;
}

export const PRODUCT_IMAGE: Record<EngineKind, ProductImageType> = {
  redis: 'Redis OSS Sentinel',
  valkey: 'Valkey Sentinel',
};

/** Redis types are named `redis1v<cpu>m<gb>`, Valkey types `css1v<cpu>m<gb>`, as the vendor names them. */
const SIZES: Array<[number, number]> = [
  [1, 2], [2, 4], [2, 8], [4, 8], [4, 16], [4, 32], [8, 32], [8, 64], [16, 64], [16, 128],
];

export const SERVER_TYPES: ServerType[] = (['redis', 'valkey'] as const).flatMap((engine) =>
  SIZES.map(([cpu, mem]) => ({
    name: `${engine === 'redis' ? 'redis' : 'css'}1v${cpu}m${mem}`,
    engine,
    productImageType: PRODUCT_IMAGE[engine],
    cpuCore: cpu,
    memoryGb: mem,
    description: `${engine === 'redis' ? 'Redis OSS' : 'Valkey'} ${cpu} vCPU, ${mem} GB memory`,
  })),
);

export function findServerType(name: string): ServerType | undefined {
  return SERVER_TYPES.find((t) => t.name === name);
}

/**
 * The engine's memory limit for a server type. Like ElastiCache's reserved-memory-percent
 * (default 25%), a quarter is kept for fork-based persistence and replication buffers.
 */
export function maxMemoryBytes(type: ServerType): number {
  return Math.floor(type.memoryGb * 0.75 * 1024 ** 3);
}

/** Engine I/O threads for a server type: only worth it from 4 cores up (Redis guidance). */
export function ioThreads(type: ServerType): number {
  return type.cpuCore >= 4 ? Math.min(8, Math.floor(type.cpuCore / 2)) : 1;
}
