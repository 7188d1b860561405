// Subnets and addresses, as pure functions. Every instance gets its own address from its subnet
// (locally a loopback address, on Kubernetes a Service's clusterIP), so clusters can all listen
// on the port their users asked for. The driver says whether an address is free; the choice is
// made here, the same for every driver.
import { isIP } from 'node:net';

export interface Subnet {
  id: string;
  cidr: string;
}

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m || isIP(m[1]) !== 4) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ipv4ToInt(m[1]) & mask) >>> 0, bits };
}

/** First and last address that may be handed to an instance (network and broadcast excluded). */
export function usableRange(cidr: string): { first: number; last: number } {
  const p = parseCidr(cidr);
  if (!p) throw new Error(`invalid CIDR ${cidr}`);
  const size = 2 ** (32 - p.bits);
  if (size <= 2) return { first: p.base, last: p.base + size - 1 };
  return { first: p.base + 1, last: p.base + size - 2 };
}

export function inSubnet(cidr: string, ip: string): boolean {
  if (isIP(ip) !== 4) return false;
  const { first, last } = usableRange(cidr);
  const n = ipv4ToInt(ip);
  return n >= first && n <= last;
}

/** Lowest usable addresses of `cidr` not in `taken`, up to `count` of them, in order. */
export function* freeAddresses(cidr: string, taken: ReadonlySet<string>): Generator<string> {
  const { first, last } = usableRange(cidr);
  for (let n = first; n <= last; n++) {
    const ip = intToIpv4(n);
    if (!taken.has(ip)) yield ip;
  }
}

/** What one new instance needs: the address its user asked for (or any), free on these ports. */
export interface WantedAddress {
  requestedIp: string | null;
  ports: number[];
}

/** Addresses in the order asked for, or which instance could not have one and why. */
export type AddressChoice =
  | { ok: true; addresses: string[] }
  | { ok: false; index: number; why: 'requested-in-use' | 'subnet-full' };

/** How many candidate addresses to probe before telling the user the subnet is full. */
export const MAX_ADDRESS_PROBES = 512;

/**
 * One address per wanted instance: the one asked for (refused when taken or not free), else the
 * lowest address of the subnet that is neither taken in the store nor refused by `isFree` on any
 * of the instance's ports. At most `maxProbes` candidates are probed in all.
 */
export async function chooseAddresses(
  cidr: string,
  wanted: readonly WantedAddress[],
  taken: ReadonlySet<string>,
  isFree: (ip: string, port: number) => boolean | Promise<boolean>,
  maxProbes = MAX_ADDRESS_PROBES,
): Promise<AddressChoice> {
  const held = new Set(taken);
  const free = async (ip: string, ports: number[]) => {
    for (const port of ports) if (!(await isFree(ip, port))) return false;
    return true;
  };
  for (const [index, w] of wanted.entries()) {
    if (!w.requestedIp) continue;
    if (held.has(w.requestedIp) || !(await free(w.requestedIp, w.ports))) return { ok: false, index, why: 'requested-in-use' };
    held.add(w.requestedIp);
  }
  let probes = 0;
  const candidates = freeAddresses(cidr, held);
  const addresses: string[] = [];
  for (const [index, w] of wanted.entries()) {
    if (w.requestedIp) {
      addresses.push(w.requestedIp);
      continue;
    }
    let chosen: string | undefined;
    // next() by hand: leaving a for-of early would close the generator for the next instance.
    while (!chosen && ++probes <= maxProbes) {
      const next = candidates.next();
      if (next.done) break;
      if (await free(next.value, w.ports)) chosen = next.value;
    }
    if (!chosen) return { ok: false, index, why: 'subnet-full' };
    addresses.push(chosen);
  }
  return { ok: true, addresses };
}

/** An allow-list entry: an IPv4/IPv6 address or a CIDR block. */
export function isIpOrCidr(value: string): boolean {
  const [addr, prefix, ...rest] = value.split('/');
  if (rest.length > 0) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}
