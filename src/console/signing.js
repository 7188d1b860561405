// Request signing in the browser, exactly as the SDK signs (src/client/signing.ts; a unit test
// checks both give the same signature):
//   Scp-Signature = base64(HMAC-SHA256(secret, method + url + timestamp + access_key + account_id + client_type))
// Web Crypto only: no Node imports, so the page loads this file as it is.

export const CLIENT_TYPE = 'Openapi';
export const API_VERSION = 'cachestore 1.0';

/** The string the signature covers. */
export function canonicalString(method, url, timestamp, accessKey, accountId = '', clientType = CLIENT_TYPE) {
  return method.toUpperCase() + url + timestamp + accessKey + accountId + clientType;
}

const encoder = new TextEncoder();

function base64(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

/** base64(HMAC-SHA256(secretKey, canonical string)). */
export async function signature(secretKey, method, url, timestamp, accessKey, accountId = '', clientType = CLIENT_TYPE) {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secretKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(canonicalString(method, url, String(timestamp), accessKey, accountId, clientType)));
  return base64(mac);
}

let lastTimestamp = 0;

/**
 * A millisecond of its own for every request this page signs: the service accepts a POST's
 * signature once, and two requests to one URL in one millisecond would sign alike.
 */
export function nextTimestamp() {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

/** The headers the SDK sends, signed for `method` and the absolute `url`. */
export async function signedHeaders(keys, method, url, timestamp = nextTimestamp()) {
  const accountId = keys.accountId ?? '';
  return {
    'Scp-Accesskey': keys.accessKey,
    'Scp-Signature': await signature(keys.secretKey, method, url, String(timestamp), keys.accessKey, accountId),
    'Scp-Timestamp': String(timestamp),
    'Scp-Clienttype': CLIENT_TYPE,
    'Scp-Accountid': accountId,
    'Scp-Api-Version': API_VERSION,
  };
}
