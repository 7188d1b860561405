// Allow-lists (Create Cluster's allowable_ip_addresses, Set Security Group Rules): which source
// addresses may open connections to a cluster's data and Sentinel ports. The rules here are
// pure; the driver enforces what `accessOf` says (nftables for the local driver).
import { isIP } from 'node:net';
import { ValidationError, type FieldProblem } from './errors.js';
import type { ClusterDetail } from './model.js';
import { isIpOrCidr } from './network.js';

/** The address the service's own admin connections leave from (local driver: loopback). */
export const SERVICE_SOURCE_ADDRESS = '127.0.0.1';

/**
 * One entry in a comparable form: the network address and prefix, host bits cleared
 * ("10.0.0.5/24" -> "10.0.0.0/24", "10.0.0.1" -> "10.0.0.1/32"). null when not an address or CIDR.
 */
export function canonicalEntry(entry: string): string | null {
  if (!isIpOrCidr(entry)) return null;
  const [addr, prefixText] = entry.split('/');
  const family = isIP(addr);
  if (family === 6) return `${addr.toLowerCase()}/${prefixText ?? '128'}`;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${prefix}`;
}

export interface AllowListChange {
  add: string[];
  del: string[];
}

/**
 * Checks a Set Security Group Rules body against the list in force and returns the list that
 * results; a 400 naming every entry that is not an address or CIDR, is added while already
 * allowed, removed while not allowed, or both added and removed. Nothing changes on a refusal.
 */
export function planAllowListChange(current: string[], change: AllowListChange): string[] {
  const problems: FieldProblem[] = [];
  const have = new Map(current.map((e) => [canonicalEntry(e) ?? e, e]));
  const seen = new Map<string, string>();
  const check = (field: 'add_ip_addresses' | 'del_ip_addresses', list: string[]) => {
    list.forEach((entry, i) => {
      const loc = ['body', field, String(i)];
      const key = canonicalEntry(entry);
      if (key === null) return problems.push({ loc, msg: `'${entry}' is not an IP address or a CIDR block such as 10.0.0.0/24`, type_: 'value_error' });
      const already = seen.get(key);
      if (already) return problems.push({ loc, msg: `'${entry}' is the same entry as ${already}`, type_: 'value_error' });
      seen.set(key, `${field}.${i}`);
      if (field === 'add_ip_addresses' && have.has(key)) problems.push({ loc, msg: `'${entry}' is already allowed (as '${have.get(key)}')`, type_: 'value_error' });
      if (field === 'del_ip_addresses' && !have.has(key)) problems.push({ loc, msg: `'${entry}' is not in the allow-list (${current.length ? current.join(', ') : 'empty'})`, type_: 'value_error' });
    });
  };
  check('add_ip_addresses', change.add);
  check('del_ip_addresses', change.del);
  if (change.add.length === 0 && change.del.length === 0) {
    problems.push({ loc: ['body'], msg: 'give at least one entry in add_ip_addresses or del_ip_addresses', type_: 'value_error' });
  }
  if (problems.length > 0) throw new ValidationError(problems.map((p) => `${p.loc.join('.')}: ${p.msg}`).join('; '), problems);
  return applyAllowListChange(current, change);
}

/** The list after a change; safe to apply twice (a resumed request). */
export function applyAllowListChange(current: string[], change: AllowListChange): string[] {
  const del = new Set(change.del.map((e) => canonicalEntry(e) ?? e));
  const kept = current.filter((e) => !del.has(canonicalEntry(e) ?? e));
  const keys = new Set(kept.map((e) => canonicalEntry(e) ?? e));
  for (const e of change.add) {
    const k = canonicalEntry(e) ?? e;
    if (!keys.has(k)) kept.push(e);
    keys.add(k);
  }
  return kept;
}

/** What the driver must enforce for one cluster. */
export interface ClusterAccess {
  clusterId: string;
  /** IPv4 networks (canonical "a.b.c.d/p") that may connect: the tenant's list, the cluster's own addresses and the service's. */
  allowed: string[];
  /** Every ip:port of the cluster a client could connect to: data ports and Sentinel ports. */
  endpoints: Array<{ ip: string; port: number }>;
}

const GONE = new Set(['TERMINATED', 'FAILED']);

/**
 * What to enforce for a cluster; null when nothing (an empty list allows every address, and a
 * terminated or failed cluster has no processes). The cluster's own instance addresses always
 * pass (replication, Sentinels among themselves leave from the node's address), as does the
 * service's own address (its admin connections). IPv6 entries are kept in the list but allow
 * nothing here: the engines listen on IPv4 addresses only.
 */
export function accessOf(detail: ClusterDetail): ClusterAccess | null {
  const c = detail.cluster;
  if (GONE.has(c.serviceState) || c.allowableIpAddresses.length === 0) return null;
  const instances = detail.instances.filter((i) => !GONE.has(i.serviceState));
  const endpoints: ClusterAccess['endpoints'] = [];
  for (const i of instances) {
    endpoints.push({ ip: i.serviceIpAddress, port: i.port });
    if (c.haEnabled && i.roleType !== 'SENTINEL') endpoints.push({ ip: i.serviceIpAddress, port: c.sentinelPort });
  }
  if (endpoints.length === 0) return null;
  const sources = [...c.allowableIpAddresses, ...instances.map((i) => i.serviceIpAddress), SERVICE_SOURCE_ADDRESS]
    .map(canonicalEntry)
    .filter((e): e is string => e !== null && isIP(e.split('/')[0]) === 4);
  return { clusterId: c.id, allowed: [...new Set(sources)], endpoints };
}
