import { describe, expect, it } from 'vitest';
import { sign, verifySignature, SIGNATURE_VALIDITY_MS } from './auth.js';

const cred = { accessKey: 'AK', secretKey: 'SK', accountId: 'acct', userId: 'user' };
const lookup = async (k: string) => (k === 'AK' ? cred : undefined);

describe('request signature', () => {
  it("matches the vendor SDK's test vectors", () => {
    const base = { accessKey: 'AK', accountId: '', clientType: 'Openapi' };
    expect(
      sign('SK', { ...base, method: 'GET', url: 'http://127.0.0.1:44769/v1/clusters?name=my+name&page=0&size=20&sort=created_at%3Adesc', timestamp: '1795750226525' }),
    ).toBe('KJpvLT/T9Aeaf9Y1mB1P1PDn1Ci197x0otEq4coMHDk=');
    expect(sign('SK', { ...base, method: 'POST', url: 'http://127.0.0.1:44769/v1/clusters/abc/stop', timestamp: '1795750226528' })).toBe(
      'YN1hAxSkqwDcnKHJir6+eoXeyk10fqA9W+6P7Hm8LLc=',
    );
  });

  const url = 'http://127.0.0.1:44769/v1/clusters/abc/stop';
  const ts = 1795750226528;
  const headers = (over: Record<string, string | undefined> = {}) => ({
    'scp-accesskey': 'AK',
    'scp-signature': 'YN1hAxSkqwDcnKHJir6+eoXeyk10fqA9W+6P7Hm8LLc=',
    'scp-timestamp': String(ts),
    'scp-clienttype': 'Openapi',
    'scp-accountid': '',
    ...over,
  });

  it('accepts a valid signature within 15 minutes either way', async () => {
    await expect(verifySignature({ method: 'POST', url, headers: headers() }, ts, lookup)).resolves.toEqual(cred);
    await expect(verifySignature({ method: 'POST', url, headers: headers() }, ts + SIGNATURE_VALIDITY_MS, lookup)).resolves.toEqual(cred);
    await expect(verifySignature({ method: 'POST', url, headers: headers() }, ts - SIGNATURE_VALIDITY_MS, lookup)).resolves.toEqual(cred);
  });

  it.each([
    ['expired', headers(), ts + SIGNATURE_VALIDITY_MS + 1, /15 minutes/],
    ['from the future', headers(), ts - SIGNATURE_VALIDITY_MS - 1, /15 minutes/],
    ['missing signature', headers({ 'scp-signature': undefined }), ts, /Scp-Signature/],
    ['missing access key', headers({ 'scp-accesskey': undefined }), ts, /Scp-AccessKey/],
    ['missing timestamp', headers({ 'scp-timestamp': undefined }), ts, /Scp-Timestamp/],
    ['timestamp in seconds-with-fraction', headers({ 'scp-timestamp': '1795750226.528' }), ts, /milliseconds/],
    ['tampered signature', headers({ 'scp-signature': 'YN1hAxSkqwDcnKHJir6+eoXeyk10fqA9W+6P7Hm8LLd=' }), ts, /does not match/],
    ['unknown access key', headers({ 'scp-accesskey': 'NOPE' }), ts, /does not match/],
    ['other client type than signed', headers({ 'scp-clienttype': 'Console' }), ts, /does not match/],
    ['account id of another account', headers({ 'scp-accountid': 'other' }), ts, /does not match/],
  ])('rejects a request with %s', async (_name, h, now, message) => {
    await expect(verifySignature({ method: 'POST', url, headers: h }, now, lookup)).rejects.toMatchObject({ status: 401, message: expect.stringMatching(message) });
  });

  it('refuses a revoked key, saying so only to a caller whose signature matched', async () => {
    const revoked = async () => ({ ...cred, revokedAt: '2026-12-01T00:00:00.000Z' });
    await expect(verifySignature({ method: 'POST', url, headers: headers() }, ts, revoked)).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/revoked at 2026-12-01T00:00:00.000Z/),
    });
    const forged = headers({ 'scp-signature': 'YN1hAxSkqwDcnKHJir6+eoXeyk10fqA9W+6P7Hm8LLd=' });
    const err = await verifySignature({ method: 'POST', url, headers: forged }, ts, revoked).catch((e: Error) => e);
    expect(err).toMatchObject({ status: 401, message: expect.stringMatching(/signature does not match/) });
    expect((err as Error).message).not.toMatch(/revoked/);
  });

  it('signs the URL exactly as sent: another query order or host is another signature', async () => {
    for (const other of ['http://localhost:44769/v1/clusters/abc/stop', 'http://127.0.0.1:44769/v1/clusters/abc/stop?x=1', 'https://127.0.0.1:44769/v1/clusters/abc/stop']) {
      await expect(verifySignature({ method: 'POST', url: other, headers: headers() }, ts, lookup)).rejects.toMatchObject({ status: 401 });
    }
    await expect(verifySignature({ method: 'GET', url, headers: headers() }, ts, lookup)).rejects.toMatchObject({ status: 401 });
  });
});
