// GET /metrics (README "Metrics"). Two ways in:
//  - `Authorization: Bearer <scrape token>` (CACHESTORE_METRICS_TOKEN or <data dir>/metrics-token):
//    the operator's view, the service's own series and every cluster's engine series;
//  - a request signed like the API (a GET: may repeat): the engine series of the signing key's
//    account's clusters only, none of the service's own.
// `?cluster_id=<id>` narrows the engine series to one cluster; one the caller does not see is 404,
// as Show Cluster answers for it.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError, UnauthorizedError, ValidationError } from '../../domain/errors.js';
import { clusterFilter, type MetricsScope } from '../../domain/metrics-scope.js';
import type { Credential } from '../../domain/model.js';
import type { EngineMetrics } from '../../operations/engine-metrics.js';
import { engineText, METRICS_CONTENT_TYPE, type ServiceMetrics } from '../../operations/service-metrics.js';

export interface MetricsEndpoint {
  token: string;
  service: ServiceMetrics;
  engines: EngineMetrics;
}

const WAYS_IN =
  'GET /metrics needs the scrape token (Authorization: Bearer <token>; CACHESTORE_METRICS_TOKEN or <data dir>/metrics-token) for every series, ' +
  "or a request signed as the API (Scp-AccessKey, Scp-Signature, Scp-Timestamp) for the engine series of that key's account.";
const mismatch = 'The scrape token does not match. ' + WAYS_IN;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether the Authorization header carries the scrape token (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

export function registerMetricsRoute(app: FastifyInstance, m: MetricsEndpoint, signed: (req: FastifyRequest) => Promise<Credential>): void {
  app.get('/metrics', { config: { operationId: 'cachestoreExtMetrics' } }, async (req, reply) => {
    let scope: MetricsScope;
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      if (!bearerMatches(authorization, m.token)) {
        throw new UnauthorizedError(mismatch);
      }
      scope = { kind: 'operator' };
    } else if (req.headers['scp-accesskey'] === undefined) {
      throw new UnauthorizedError(WAYS_IN);
    } else {
      scope = { kind: 'account', accountId: (await signed(req)).accountId };
    }
    const filter = clusterFilter(req.query as Record<string, unknown>);
    if (!filter.ok) throw ValidationError.field(['query', 'cluster_id'], filter.problem);
    const clusters = await m.engines.clusters(scope, filter.clusterId);
    if (!clusters) throw new NotFoundError(`Cluster ${filter.clusterId} was not found.`);
    const engines = await engineText(await m.engines.collect(clusters));
    const text = scope.kind === 'operator' ? (await m.service.serviceText()) + engines : engines;
    return reply.type(METRICS_CONTENT_TYPE).send(text);
  });
}
