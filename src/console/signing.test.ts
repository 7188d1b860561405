// The browser's signing (Web Crypto) and the SDK's (node:crypto) must sign every request alike:
// the API has one authentication, and the console is just another signer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signedHeaders as sdkHeaders, signature as sdkSignature } from '../client/signing.js';
import { verifySignature } from '../http/auth.js';
import { canonicalString, signature, signedHeaders } from './signing.js';

describe('browser request signing', () => {
  it('gives the SDK signature for any method, URL, timestamp, keys and account', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'post'),
        fc.webUrl({ withQueryParameters: true }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.string(),
        async (method, url, ts, accessKey, secretKey, accountId) => {
          expect(await signature(secretKey, method, url, String(ts), accessKey, accountId)).toBe(sdkSignature(secretKey, method.toUpperCase(), url, String(ts), accessKey, accountId));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sends the headers the SDK sends, and the service accepts them', async () => {
    const keys = { accessKey: 'ak-1', secretKey: 's3cret/+=', accountId: '' };
    const url = 'http://127.0.0.1:8080/v1/clusters?size=1';
    const ours = await signedHeaders(keys, 'GET', url, 1_700_000_000_000);
    const sdk = sdkHeaders(keys, 'GET', url, 1_700_000_000_000);
    delete sdk['Accept-Language'];
    expect(ours).toEqual(sdk);
    const lower = Object.fromEntries(Object.entries(ours).map(([k, v]) => [k.toLowerCase(), v]));
    const credential = { accessKey: 'ak-1', secretKey: 's3cret/+=', accountId: 'acc', userId: 'u', revokedAt: null };
    await expect(verifySignature({ method: 'GET', url, headers: lower }, 1_700_000_000_000, async () => credential as never)).resolves.toBe(credential);
    // Another URL than the one signed is refused.
    await expect(verifySignature({ method: 'GET', url: `${url}0`, headers: lower }, 1_700_000_000_000, async () => credential as never)).rejects.toThrow(/signature does not match/);
  });

  it('signs method in upper case, then URL, timestamp, access key, account and client type', () => {
    expect(canonicalString('post', 'http://h/v1/x', '12', 'ak', 'acc')).toBe('POSThttp://h/v1/x12akaccOpenapi');
  });
});
