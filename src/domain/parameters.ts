// Parameter groups (one per engine and major version), parameter ids, and the checks a new
// value must pass before any engine sees it. Pure: unit-tested in parameters.test.ts.
import { createHash } from 'node:crypto';
import type { EngineVersion } from './catalog.js';
import type { EngineKind, ProductImageType } from './model.js';
import { PARAMETERS, type EngineParameter, type ParameterDef } from './parameter-catalog.js';

export interface ParameterGroup {
  id: string;
  engine: EngineKind;
  productImageType: ProductImageType;
  /** As List Engine Versions shows it, e.g. "7.0". */
  majorVersion: string;
  /** e.g. "default.redis7.0" (ElastiCache names its default groups this way). */
  name: string;
  productType: string;
}

function hex32(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export function parameterGroupId(product: string, majorVersion: string): string {
  return hex32(`cachestore-parameter-group:${product}:${majorVersion}`);
}

export function parameterId(groupId: string, name: string): string {
  return hex32(`cachestore-parameter:${groupId}:${name}`);
}

/** One group per product and major version among the engine versions offered here. */
export function parameterGroups(versions: EngineVersion[]): ParameterGroup[] {
  const out = new Map<string, ParameterGroup>();
  for (const v of versions) {
    const id = parameterGroupId(v.productImageType, v.majorVersion);
    if (out.has(id)) continue;
    out.set(id, {
      id,
      engine: v.engine,
      productImageType: v.productImageType,
      majorVersion: v.majorVersion,
      name: `default.${v.engine}${v.majorVersion}`,
      productType: v.dbaasEngine,
    });
  }
  return [...out.values()];
}

/** The group a cluster's parameters belong to. */
export function groupOf(engine: EngineKind, productImageType: string, softwareVersion: string): { id: string; engine: EngineKind } {
  const major = softwareVersion.split('.').slice(0, 2).join('.');
  return { id: parameterGroupId(productImageType, major), engine };
}

export interface GroupParameter {
  id: string;
  def: ParameterDef;
  engine: EngineParameter;
}

/** The parameters an engine has, in name order. */
export function parametersOf(groupId: string, engine: EngineKind): GroupParameter[] {
  return PARAMETERS.filter((d) => d.engines[engine])
    .map((def) => ({ id: parameterId(groupId, def.name), def, engine: def.engines[engine]! }))
    .sort((a, b) => (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0));
}

export function isModifiable(def: ParameterDef): boolean {
  return def.owner === undefined;
}

/** The allowed values in words, as List Parameter Values shows them (allows_value). */
export function allowedValues(def: ParameterDef, e: EngineParameter): string {
  if (e.values) return e.values.join(',');
  if (e.range) return `${e.range[0]}..${e.range[1]}${def.type === 'memory' ? ' (bytes; k, kb, m, mb, g, gb accepted)' : ''}`;
  switch (def.name) {
    case 'client-output-buffer-limit':
      return '<class> <hard> <soft> <seconds> for any of the classes normal, replica, pubsub (limits in bytes or with k, kb, m, mb, g, gb; 0: none); classes left out keep their values';
    case 'notify-keyspace-events':
      return 'empty, or a combination of the characters K E g $ l s h z x e t m d n A';
    case 'latency-tracking-info-percentiles':
      return 'space-separated numbers from 0 to 100';
    default:
      return 'set by the service';
  }
}

export function dataType(def: ParameterDef): string {
  return def.type === 'memory' ? 'integer' : def.type;
}

const UNITS: Record<string, bigint> = {
  '': 1n, k: 1000n, kb: 1024n, m: 1000n ** 2n, mb: 1024n ** 2n, g: 1000n ** 3n, gb: 1024n ** 3n,
};

/** Bytes of a memory value as the engine reads it ("10mb"), or null. */
export function parseMemory(text: string): bigint | null {
  const m = /^(\d{1,20})(k|kb|m|mb|g|gb)?$/i.exec(text.trim());
  if (!m) return null;
  return BigInt(m[1]) * UNITS[(m[2] ?? '').toLowerCase()];
}

export type Checked = { ok: true; value: string } | { ok: false; allowed: string };

/**
 * Checks a new value against the catalogue and gives it in the form the engine reports it
 * back (CONFIG GET), so what the service stores compares equal to what the engines run.
 * `current`: the value the engines run now (needed where a value only changes a part).
 */
export function checkValue(def: ParameterDef, e: EngineParameter, raw: string, current?: string): Checked {
  const no: Checked = { ok: false, allowed: allowedValues(def, e) };
  const text = raw.trim();
  switch (def.type) {
    case 'boolean':
    case 'enum': {
      const v = text.toLowerCase();
      return e.values?.includes(v) ? { ok: true, value: v } : no;
    }
    case 'integer':
    case 'memory': {
      let n: bigint | null = null;
      if (/^-?\d{1,20}$/.test(text)) n = BigInt(text);
      else if (def.type === 'memory') n = parseMemory(text);
      if (n === null || !e.range) return no;
      if (n < BigInt(e.range[0]) || n > BigInt(e.range[1])) return no;
      return { ok: true, value: n.toString() };
    }
    case 'string': {
      const v = checkString(def.name, text, current);
      return v === null ? no : { ok: true, value: v };
    }
  }
}

const OUTPUT_CLASSES = ['normal', 'slave', 'pubsub'] as const;

function checkString(name: string, text: string, current?: string): string | null {
  switch (name) {
    case 'notify-keyspace-events':
      return /^[KEg$lshzxetmdnA]*$/.test(text) ? text : null;
    case 'latency-tracking-info-percentiles': {
      const parts = text.split(/\s+/).filter(Boolean);
      for (const p of parts) {
        if (!/^\d+(\.\d+)?$/.test(p) || Number(p) > 100) return null;
      }
      return parts.join(' ');
    }
    case 'client-output-buffer-limit':
      return checkOutputBufferLimit(text, current);
    default:
      return null;
  }
}

/** Classes as the engine reports them (replica is shown as slave), merged into the current value. */
function checkOutputBufferLimit(text: string, current?: string): string | null {
  const tokens = text.split(/\s+/).filter(Boolean);
  if (tokens.length === 0 || tokens.length % 4 !== 0) return null;
  const limits = new Map<string, string[]>();
  if (current) {
    const cur = current.split(/\s+/).filter(Boolean);
    for (let i = 0; i + 3 < cur.length; i += 4) limits.set(cur[i], cur.slice(i + 1, i + 4));
  }
  for (let i = 0; i < tokens.length; i += 4) {
    let cls = tokens[i].toLowerCase();
    if (cls === 'replica') cls = 'slave';
    if (!(OUTPUT_CLASSES as readonly string[]).includes(cls)) return null;
    const hard = parseMemory(tokens[i + 1]);
    const soft = parseMemory(tokens[i + 2]);
    const secs = /^\d{1,10}$/.test(tokens[i + 3]) ? BigInt(tokens[i + 3]) : null;
    if (hard === null || soft === null || secs === null || secs > 2147483647n) return null;
    limits.set(cls, [hard.toString(), soft.toString(), secs.toString()]);
  }
  if (!OUTPUT_CLASSES.every((c) => limits.has(c))) return null;
  return OUTPUT_CLASSES.map((c) => [c, ...limits.get(c)!].join(' ')).join(' ');
}
