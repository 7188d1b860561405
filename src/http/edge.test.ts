import { describe, expect, it } from 'vitest';
import { clientErrorAnswer, methodMatcher } from './edge.js';

describe('methodMatcher', () => {
  const methodsOf = methodMatcher([
    { method: 'get', path: '/v1/clusters' },
    { method: 'post', path: '/v1/clusters' },
    { method: 'get', path: '/v1/clusters/{cluster_id}' },
    { method: 'delete', path: '/v1/clusters/{cluster_id}' },
    { method: 'post', path: '/v1/clusters/{cluster_id}/stop' },
  ]);
  it('names the methods of the path (HEAD with GET), sorted', () => {
    expect(methodsOf('/v1/clusters')).toEqual(['GET', 'HEAD', 'POST']);
    expect(methodsOf('/v1/clusters/abc')).toEqual(['DELETE', 'GET', 'HEAD']);
    expect(methodsOf('/v1/clusters/abc/stop')).toEqual(['POST']);
  });
  it('knows no methods for a path that is not routed', () => {
    expect(methodsOf('/v1/clusters/abc/def/stop')).toEqual([]);
    expect(methodsOf('/v1/cluster')).toEqual([]);
    expect(methodsOf('/v1/clusters/.*')).toEqual(['DELETE', 'GET', 'HEAD']);
    expect(methodsOf('/v1Xclusters')).toEqual([]);
  });
});

describe('clientErrorAnswer', () => {
  it('431 for oversized headers, 408 for a slow request, 400 for the rest', () => {
    expect(clientErrorAnswer('HPE_HEADER_OVERFLOW').status).toBe(431);
    expect(clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT').status).toBe(408);
    for (const code of ['HPE_INVALID_EOF_STATE', 'HPE_INVALID_METHOD', undefined]) expect(clientErrorAnswer(code).status).toBe(400);
  });
});
