// Verifies the vendor's request signature:
//   Scp-Signature = base64(HMAC-SHA256(secret, method + url + timestamp + access_key + account_id + client_type))
// where url is the absolute URL exactly as the client sent it. Timestamps are Unix milliseconds
// and valid for 15 minutes either way. The comparison is constant-time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../domain/errors.js';
import type { Credential } from '../domain/model.js';

export const SIGNATURE_VALIDITY_MS = 15 * 60 * 1000;

export function sign(secretKey: string, parts: { method: string; url: string; timestamp: string; accessKey: string; accountId: string; clientType: string }): string {
  return createHmac('sha256', secretKey)
    .update(parts.method + parts.url + parts.timestamp + parts.accessKey + parts.accountId + parts.clientType)
    .digest('base64');
}

export interface SignedRequest {
  method: string;
  /** Absolute URL as the client sent it: scheme://host[:port]/path?query */
  url: string;
  /** Header names in lower case (Node lower-cases them). */
  headers: Record<string, string | string[] | undefined>;
}

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Whether a request's signature may be accepted only once. The vendor's signature covers method,
 * URL and timestamp but not the body, so a captured POST could be sent again with another body;
 * state-changing methods are refused the second time. GET and HEAD change nothing, and the SDK
 * may send the same GET twice in one millisecond (same signature) when it polls in parallel.
 */
export function acceptedOnce(method: string): boolean {
  const m = method.toUpperCase();
  return m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';
}

/** When a signature's timestamp leaves the window (Unix ms): how long it must be remembered. */
export function signatureExpiry(headers: SignedRequest['headers']): { signature: string; expiresAtMs: number } {
  return { signature: header(headers, 'scp-signature') ?? '', expiresAtMs: Number(header(headers, 'scp-timestamp')) + SIGNATURE_VALIDITY_MS };
}

export async function verifySignature(
  req: SignedRequest,
  nowMs: number,
  lookup: (accessKey: string) => Promise<Credential | undefined>,
): Promise<Credential> {
  const accessKey = header(req.headers, 'scp-accesskey');
  const signature = header(req.headers, 'scp-signature');
  const timestamp = header(req.headers, 'scp-timestamp');
  const missing = [
    ['Scp-AccessKey', accessKey],
    ['Scp-Signature', signature],
    ['Scp-Timestamp', timestamp],
  ].filter(([, v]) => !v).map(([n]) => n);
  if (missing.length > 0) throw new UnauthorizedError(`Missing authentication header(s): ${missing.join(', ')}. Sign the request as the Cache Store SDK does.`);
  if (!/^\d{1,16}$/.test(timestamp!)) throw new UnauthorizedError('Scp-Timestamp must be the Unix time in milliseconds.');
  if (Math.abs(nowMs - Number(timestamp)) > SIGNATURE_VALIDITY_MS) {
    throw new UnauthorizedError('Scp-Timestamp is more than 15 minutes away from the server time; sign the request again (and check the client clock).');
  }
  const credential = await lookup(accessKey!);
  const accountIdHeader = header(req.headers, 'scp-accountid') ?? '';
  const clientType = header(req.headers, 'scp-clienttype') ?? '';
  const provided = Buffer.from(signature!, 'utf8');
  // Compute an expected value even for an unknown key, so both cases take the same time.
  const expected = Buffer.from(
    sign(credential?.secretKey ?? 'unknown-key', { method: req.method.toUpperCase(), url: req.url, timestamp: timestamp!, accessKey: accessKey!, accountId: accountIdHeader, clientType }),
    'utf8',
  );
  const same = provided.length === expected.length && timingSafeEqual(provided, expected);
  if (!credential || !same) {
    throw new UnauthorizedError(
      'The signature does not match: sign method + full request URL + Scp-Timestamp + Scp-AccessKey + Scp-AccountId + Scp-ClientType with HMAC-SHA256 and your secret key, base64-encoded.',
    );
  }
  // Said only to a caller who holds the secret (the signature matched): anyone else learns nothing.
  if (credential.revokedAt) {
    throw new UnauthorizedError(`This access key was revoked at ${credential.revokedAt}; ask the operator for a new one (cachestore admin keys issue).`);
  }
  if (accountIdHeader && accountIdHeader !== credential.accountId) {
    throw new UnauthorizedError('Scp-AccountId does not match the account of this access key; send it empty or send the right account.');
  }
  return credential;
}
