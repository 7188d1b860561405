// Ids as the vendor issues them: resources are 32 lowercase hex characters, requests `req-<uuid>`.
import { randomBytes, randomUUID } from 'node:crypto';

export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

export function newRequestId(): string {
  return `req-${randomUUID()}`;
}

export function isResourceId(s: string): boolean {
  return /^[0-9a-f]{32}$/.test(s);
}

/** A cluster's secret for the service's own ACL user on its processes: 64 hex characters. */
export function newServiceSecret(): string {
  return randomBytes(32).toString('hex');
}
