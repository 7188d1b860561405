// Builds the HTTP app (no listen): every operation of the contract is routed from the YAML,
// with auth, validation against the contract, and the contract's error shape. An operation
// without a handler answers 501 in the error shape (README "Not yet built").
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { EXTENSION_PATHS, servedDocument } from '../contract/extensions.js';
import { contractOperations, toRouterPath } from '../contract/spec.js';
import { buildContractAjv, convertSchema } from '../contract/json-schema.js';
import { buildValidators, describeErrors, formatFieldErrors, type OperationValidators } from '../contract/validators.js';
import type { BackupService } from '../domain/backup-service.js';
import type { CatalogService } from '../domain/catalog-service.js';
import type { ClusterService } from '../domain/cluster-service.js';
import type { CommandService } from '../domain/command-service.js';
import type { ParameterService } from '../domain/parameter-service.js';
import type { ServerTypeService } from '../domain/server-type-change.js';
import { NotImplementedError, UnauthorizedError, ValidationError, type DomainError } from '../domain/errors.js';
import type { Credential } from '../domain/model.js';
import { acceptedOnce, signatureExpiry, verifySignature } from './auth.js';
import { errorBody, toErrorResponse } from './errors.js';
import { clientErrorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH, methodMatcher, newRequestId } from './edge.js';
import { registerConsole } from './console.js';
import { backupHandlers } from './routes/backups.js';
import { catalogHandlers } from './routes/catalog.js';
import { clusterHandlers } from './routes/clusters.js';
import { commandHandlers } from './routes/commands.js';
import type { SecurityGroupService } from '../domain/security-group-service.js';
import { parameterHandlers } from './routes/parameters.js';
import { serverTypeHandlers } from './routes/server-types.js';
import { securityGroupHandlers } from './routes/security-groups.js';
import type { Handler } from './routes/handler.js';
import type { MaintenanceService } from '../domain/maintenance-service.js';
import { maintenanceHandlers } from './routes/maintenance.js';
import type { BlockStorageService } from '../domain/block-storage-change.js';
import { blockStorageHandlers } from './routes/block-storage.js';
import { registerMetricsRoute, type MetricsEndpoint } from './routes/metrics.js';

export interface AppOptions {
  clusters: ClusterService;
  backups: BackupService;
  catalog: CatalogService;
  parameters: ParameterService;
  commands: CommandService;
  serverTypes: ServerTypeService;
  securityGroups: SecurityGroupService;
  /** Set / Unset Maintenance; without it they answer 501. */
  maintenance?: MaintenanceService;
  blockStorage: BlockStorageService;
  /** GET /metrics, and the HTTP series every answered request adds to. */
  metrics: MetricsEndpoint;
  findCredential: (accessKey: string) => Promise<Credential | undefined>;
  /** Records a state-changing request's signature; false when it was used before. */
  useSignature: (accessKey: string, signature: string, expiresAtMs: number, nowMs: number) => Promise<boolean>;
  /** Honour X-Forwarded-Proto/Host when rebuilding the signed URL (only behind a trusted proxy). */
  trustProxy?: boolean;
  loggerInstance?: FastifyBaseLogger;
  /** Tests: check every 2xx body against the contract, unknown fields forbidden; a mismatch is a 500. */
  checkResponses?: boolean;
  now?: () => number;
}

const UNSUPPORTED = Symbol('unsupported-media-type');

const registered = new WeakMap<FastifyInstance, ReadonlyArray<{ method: string; url: string }>>();

/** Every route the app registered (HEAD aside), in Fastify's form (`/v1/clusters/:cluster_id`). */
export function registeredRoutes(app: FastifyInstance): ReadonlyArray<{ method: string; url: string }> {
  return registered.get(app) ?? [];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The contract's operationId (or an extension's): the only operation label of the HTTP series. */
    operationId?: string;
  }
  interface FastifyRequest {
    /** Who signed the request; set by the onRequest signature check of every API route. */
    credential: Credential | null;
  }
}

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Request logs carry method, URL and address only: never headers or bodies (secrets).
    loggerInstance: o.loggerInstance,
    genReqId: newRequestId,
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A request not received in full within a minute is answered 408 (clientErrorHandler) and
    // its connection closed, so a client trickling bytes cannot hold a connection for ever.
    // (Node's headersTimeout, 60 s, may not exceed it.)
    requestTimeout: 60_000,
    // What Node's parser or the router refuse before any route runs, in the contract's shape.
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  });
  // What the app answers, for the test that finds each of them in /openapi.json.
  const routes: Array<{ method: string; url: string }> = [];
  registered.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ method: m, url: r.url });
  });
  app.decorateRequest('credential', null);
  // Every answer counts in the HTTP series, labelled by the matched route's operationId (a 404 or
  // 405 is "unmatched"): never the raw URL, so the label set stays bounded.
  const http = o.metrics.service;
  app.addHook('onResponse', (req, reply, done) => {
    http.httpRequest(req.routeOptions.config?.operationId ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  const now = o.now ?? Date.now;
  const validators = buildValidators();
  const handlers: Record<string, Handler> = { ...catalogHandlers(o.catalog), ...clusterHandlers(o.clusters), ...backupHandlers(o.backups),
    ...parameterHandlers(o.parameters),
    ...commandHandlers(o.commands),
    ...serverTypeHandlers(o.serverTypes),
    ...securityGroupHandlers(o.securityGroups),
    ...(o.maintenance ? maintenanceHandlers(o.maintenance) : {}),
    ...blockStorageHandlers(o.blockStorage),
  };
  // No cache: every request reads its key from the store (one primary-key lookup), so a key
  // revoked or issued through `cachestore admin` holds at once on every instance sharing the store.
  const lookup = (key: string) => o.findCredential(key);

  // JSON bodies; an empty body is no body (the SDK sends Content-Type on body-less POSTs).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const s = String(text);
    if (s.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(s));
    } catch (err) {
      done(new ValidationError(`The request body is not valid JSON: ${jsonProblem(err as Error)}`) as unknown as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, buf, done) => done(null, (buf as Buffer).length ? UNSUPPORTED : undefined));

  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toErrorResponse(err, req.id);
    if (internal) req.log.error({ err }, 'unhandled error');
    // Refused before its body was read (e.g. unsigned): the body is not read at all, and the
    // connection closes after the answer, since the unread bytes cannot be told from a next request.
    if (bodyUnread(req)) void reply.header('connection', 'close');
    void reply.code(status).type('application/json').send(body);
  });
  const routed: Array<{ method: string; path: string }> = [];
  let methodsOf: ((path: string) => string[]) | undefined;
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    methodsOf ??= methodMatcher(routed);
    const allowed = methodsOf(path);
    // Named in the answer, but not at any length (a path may be up to 16 kB).
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    if (bodyUnread(req)) void reply.header('connection', 'close');
    if (allowed.length > 0) {
      void reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(errorBody(405, 'MethodNotAllowed', `${shown} does not take ${req.method}; it takes ${allowed.join(', ')}.`, req.id));
      return;
    }
    void reply.code(404).send(errorBody(404, 'NotFound', `No operation ${req.method} ${shown}; GET /openapi.json lists them.`, req.id));
  });

  const authenticate = async (req: FastifyRequest) => {
    const forwardedProto = o.trustProxy ? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() : '';
    const forwardedHost = o.trustProxy ? String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim() : '';
    const url = `${forwardedProto || 'http'}://${forwardedHost || req.headers.host || ''}${req.raw.url ?? req.url}`;
    const nowMs = now();
    const credential = await verifySignature({ method: req.method, url, headers: req.headers }, nowMs, lookup);
    if (acceptedOnce(req.method)) {
      const { signature, expiresAtMs } = signatureExpiry(req.headers);
      if (!(await o.useSignature(credential.accessKey, signature, expiresAtMs, nowMs))) {
        throw new UnauthorizedError('This signed request was accepted before: a signature is accepted once. Sign each request afresh (the SDK does).');
      }
    }
    return credential;
  };

  const responseCheck = o.checkResponses ? responseChecker() : undefined;

  // The signature is checked before the body is read (onRequest runs before body parsing): an
  // unsigned request is refused without reading what it sends.
  const checkSignature = async (req: FastifyRequest) => {
    req.credential = await authenticate(req);
  };

  const register = (operationId: string, method: string, path: string, v: OperationValidators | undefined) => {
    routed.push({ method, path });
    app.route({
      method: method.toUpperCase() as 'GET',
      url: toRouterPath(path),
      config: { operationId },
      onRequest: checkSignature,
      handler: async (req, reply) => {
        const credential = req.credential!;
        const call = validate(v, req);
        const handler = handlers[operationId];
        if (!handler) {
          throw new NotImplementedError(
            `${v?.operation.summary ?? operationId} is not implemented yet.`,
          );
        }
        const out = await handler({ principal: { accountId: credential.accountId, userId: credential.userId }, ...call });
        responseCheck?.(operationId, out.status, out.body);
        return reply.code(out.status).type('application/json').send(out.body);
      },
    });
  };
  for (const op of contractOperations()) register(op.operationId, op.method, op.path, validators.get(op.operationId));
  for (const [path, item] of Object.entries(EXTENSION_PATHS)) {
    for (const [method, op] of Object.entries(item)) register((op as { operationId: string }).operationId, method, path, undefined);
  }

  // Serialized once: the document is 86 kB of JSON and never changes while the service runs
  // (serializing it per request held /openapi.json to ~1,000 req/s).
  const served = Buffer.from(JSON.stringify(servedDocument()));
  routed.push({ method: 'get', path: '/openapi.json' }, { method: 'get', path: '/healthz' });
  app.get('/openapi.json', { config: { operationId: 'cachestoreExtOpenApiDocument' } }, (_req, reply) => reply.type('application/json; charset=utf-8').send(served));
  app.get('/healthz', { config: { operationId: 'cachestoreExtHealth' } }, async () => ({ status: 'ok' }));
  routed.push({ method: 'get', path: '/metrics' });
  registerMetricsRoute(app, o.metrics, authenticate);
  routed.push(...registerConsole(app));
  return app;
}

/** The request announced a body that nothing has read (it was refused before body parsing). */
function bodyUnread(req: FastifyRequest): boolean {
  const announced = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  return announced && !req.raw.readableEnded;
}

/**
 * JSON.parse's message without the text it could not parse: V8 quotes a piece of the body
 * ("Unexpected token 'S', ...\"password\":Secr3t!pa\"... is not valid JSON"), and the body may
 * hold the database password.
 */
function jsonProblem(err: Error): string {
  const m = String(err.message);
  if (!m.includes('"') && !/is not valid JSON|Unexpected token/.test(m)) return m;
  const at = /at position (\d+)/.exec(m)?.[1];
  return `unexpected character${at ? ` at position ${at}` : ''} (check quotes around strings and commas between fields)`;
}

function validate(v: OperationValidators | undefined, req: FastifyRequest) {
  const params = { ...(req.params as Record<string, unknown>) };
  const query = { ...(req.query as Record<string, unknown>) };
  let body = req.body as unknown;
  if (!v) return { params, query, body };
  const problems = [];
  if (v.params && !v.params(params)) problems.push(...describeErrors('path', v.params.errors));
  if (v.query && !v.query(query)) problems.push(...describeErrors('query', v.query.errors));
  if (v.operation.requestBody) {
    if (body === UNSUPPORTED) throw Object.assign(new Error('unsupported media type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
    if (body === undefined) {
      problems.push({ loc: ['body'], msg: 'is required: send the request as JSON with Content-Type: application/json', type_: 'missing' });
    } else if (v.body && !v.body(body)) {
      problems.push(...describeErrors('body', v.body.errors));
    }
  } else {
    body = undefined;
  }
  if (problems.length > 0) throw new ValidationError(formatFieldErrors(problems), problems) as DomainError;
  return { params, query, body };
}

/** Validates our own 2xx bodies against the contract with unknown properties forbidden. */
function responseChecker() {
  const validators = buildValidators();
  const { strict } = buildContractAjv();
  const ext = new Map<string, ReturnType<typeof strict.compile>>();
  for (const item of Object.values(EXTENSION_PATHS)) {
    for (const op of Object.values(item) as Array<{ operationId: string; responses: Record<string, any> }>) {
      const ok = Object.entries(op.responses).find(([code]) => code.startsWith('2'))![1];
      ext.set(op.operationId, strict.compile(convertSchema(ok.content['application/json'].schema, 'contract', true) as object));
    }
  }
  return (operationId: string, status: number, body: unknown) => {
    const check = validators.get(operationId)?.responses[String(status)] ?? ext.get(operationId);
    if (!check) throw new Error(`contract check: no ${status} response schema for ${operationId}`);
    if (!check(JSON.parse(JSON.stringify(body)))) {
      throw new Error(`contract check: ${operationId} ${status} body breaks the contract: ${JSON.stringify(check.errors)}`);
    }
  };
}
