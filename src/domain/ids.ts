// Ids as the vendor issues them: resources are 32 lowercase hex characters, requests `req-<uuid>`.
import { randomUUID } from 'node:crypto';

export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

export function newRequestId(): string {
  return `req-${randomUUID()}`;
}

export function isResourceId(s: string): boolean {
  return /^[0-9a-f]{32}$/.test(s);
}
