// Subnets and addresses, as pure functions. The local driver hands every instance its own
// address from its subnet, so clusters can all listen on the port their users asked for.
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
