// The SDK covers the whole API: a method for every operation of the contract and every extension,
// and it signs as the vendor's SDK does (the test vectors of docs/CONTRACT.md).
import { describe, expect, it } from 'vitest';
import { EXTENSION_PATHS } from '../contract/extensions.js';
import { contractOperations } from '../contract/spec.js';
import { CacheStoreClient, OPERATION_METHODS } from './client.js';
import { signature, signedHeaders } from './signing.js';

describe('CacheStoreClient', () => {
  it('has a method for every operation of the contract and the extensions, and no other entry', () => {
    const ids = [
      ...contractOperations().map((o) => o.operationId),
      ...Object.values(EXTENSION_PATHS).flatMap((item) => Object.values(item).map((op) => (op as { operationId: string }).operationId)),
    ];
    expect(Object.keys(OPERATION_METHODS).sort()).toEqual([...new Set(ids)].sort());
    const client = new CacheStoreClient({ endpoint: 'http://127.0.0.1:1', keys: { accessKey: 'a', secretKey: 'b' } });
    for (const m of Object.values(OPERATION_METHODS)) expect(typeof client[m], m).toBe('function');
  });
});

describe('signing', () => {
  it('gives the signatures the vendor SDK gives (docs/CONTRACT.md)', () => {
    expect(signature('SK', 'GET', 'http://127.0.0.1:44769/v1/clusters?name=my+name&page=0&size=20&sort=created_at%3Adesc', '1795750226525', 'AK')).toBe(
      'KJpvLT/T9Aeaf9Y1mB1P1PDn1Ci197x0otEq4coMHDk=',
    );
    const h = signedHeaders({ accessKey: 'AK', secretKey: 'SK' }, 'post', 'http://127.0.0.1:44769/v1/clusters/abc/stop', 1795750226528);
    expect(h).toEqual({
      'Scp-Accesskey': 'AK',
      'Scp-Signature': 'YN1hAxSkqwDcnKHJir6+eoXeyk10fqA9W+6P7Hm8LLc=',
      'Scp-Timestamp': '1795750226528',
      'Scp-Clienttype': 'Openapi',
      'Scp-Accountid': '',
      'Scp-Api-Version': 'cachestore 1.0',
      'Accept-Language': 'en-US',
    });
  });
});
