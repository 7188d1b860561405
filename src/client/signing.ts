// Request signing exactly as the vendor's SDK signs (docs/CONTRACT.md, "Signature"):
//   Scp-Signature = base64(HMAC-SHA256(secret, method + url + timestamp + access_key + account_id + client_type))
// where url is the absolute URL as sent on the wire. The body is not signed.
import { createHmac } from 'node:crypto';

export interface Keys {
  accessKey: string;
  secretKey: string;
  /** Sent as Scp-AccountId; the SDK sends it empty, and the service then takes the key's account. */
  accountId?: string;
}

export const CLIENT_TYPE = 'Openapi';
export const API_VERSION = 'cachestore 1.0';

export function signature(secretKey: string, method: string, url: string, timestamp: string, accessKey: string, accountId = '', clientType = CLIENT_TYPE): string {
  return createHmac('sha256', secretKey).update(method + url + timestamp + accessKey + accountId + clientType).digest('base64');
}

/** The headers the SDK sends with every request, signed for `method` and the absolute `url`. */
let lastTimestamp = 0;

/**
 * A millisecond of its own for every request this process signs: the service accepts a
 * state-changing request's signature once, and two requests to one URL signed in the same
 * millisecond would sign alike (the body is not signed).
 */
export function nextTimestamp(): number {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

export function signedHeaders(keys: Keys, method: string, url: string, timestamp = nextTimestamp()): Record<string, string> {
  const accountId = keys.accountId ?? '';
  return {
    'Scp-Accesskey': keys.accessKey,
    'Scp-Signature': signature(keys.secretKey, method.toUpperCase(), url, String(timestamp), keys.accessKey, accountId),
    'Scp-Timestamp': String(timestamp),
    'Scp-Clienttype': CLIENT_TYPE,
    'Scp-Accountid': accountId,
    'Scp-Api-Version': API_VERSION,
    'Accept-Language': 'en-US',
  };
}
