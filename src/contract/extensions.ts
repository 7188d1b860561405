// Our extension operations: extra paths only, never extra fields on contract responses. They
// are merged into the served OpenAPI document, each marked `x-cachestore-extension: true`.
import { readFileSync } from 'node:fs';
import { contractDocument, type OpenApiDocument } from './spec.js';

/** Every signed operation: the three Scp-* headers together (servedDocument describes the signing). */
const auth = [{ ScpAccessKey: [], ScpSignature: [], ScpTimestamp: [] }];
const errors = { '400': { description: 'Bad Request' }, '401': { description: 'Unauthorized' }, '404': { description: 'Not Found' } };

/** A 200 answer of { contents: [item...], total_count }. */
const listOk = (item: Record<string, unknown>) => ({
  '200': {
    description: 'OK',
    content: {
      'application/json': {
        schema: { type: 'object', required: ['contents', 'total_count'], properties: { contents: { type: 'array', items: item }, total_count: { type: 'integer' } } },
      },
    },
  },
});

/** A signed GET of one cluster's list of `item`s. */
const clusterList = (operationId: string, summary: string, description: string, item: Record<string, unknown>) => ({
  get: {
    operationId,
    summary,
    description,
    'x-cachestore-extension': true,
    security: auth,
    parameters: [{ name: 'cluster_id', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { ...listOk(item), ...errors },
  },
});

export const EXTENSION_PATHS: Record<string, Record<string, unknown>> = {
  '/v1/requests/{request_id}/details': {
    get: {
      operationId: 'cachestoreExtShowRequestDetails',
      summary: 'Show Request Details (extension)',
      description: 'Why a request is where it is: operation, last finished step, and the reason it failed.',
      'x-cachestore-extension': true,
      security: auth,
      parameters: [{ name: 'request_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['request_id', 'cluster_id', 'operation', 'state'],
                properties: {
                  request_id: { type: 'string' },
                  cluster_id: { type: 'string' },
                  operation: {
                    type: 'string',
                    enum: ['create', 'stop', 'start', 'restart', 'terminate', 'switchover', 'sync', 'backup', 'remove-backups', 'set-backup', 'unset-backup', 'restore', 'set-parameters', 'sync-parameters', 'set-commands', 'sync-commands', 'set-server-type', 'set-security-group-rules', 'set-maintenance', 'unset-maintenance', 'upgrade-engine', 'set-block-storage-size'],
                  },
                  state: { type: 'string', enum: ['REQUESTED', 'RUNNING', 'COMPLETED', 'FAILED'] },
                  last_step: { type: ['string', 'null'] },
                  error: { type: ['string', 'null'] },
                  created_at: { type: 'string', format: 'date-time' },
                  updated_at: { type: 'string', format: 'date-time' },
                  finished_at: { type: ['string', 'null'], format: 'date-time' },
                },
              },
            },
          },
        },
        ...errors,
      },
    },
  },
  '/v1/clusters/{cluster_id}/backup-histories': {
    post: {
      operationId: 'cachestoreExtCreateBackup',
      summary: 'Create Backup (extension)',
      description:
        'Takes a backup now (on a replica when the cluster has one), stores it and verifies it by loading it into a scratch engine. ' +
        "The response's resource id is the new backup_history_number; List Backup Histories shows its state (RUNNING, then COMPLETED or FAILED with the reason in backup_state_detail).",
      'x-cachestore-extension': true,
      security: auth,
      parameters: [{ name: 'cluster_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '202': {
          description: 'Accepted',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/AsyncResponse' } } },
        },
        ...errors,
      },
    },
  },
  '/v1/clusters/{cluster_id}/restorable-ranges': clusterList(
    'cachestoreExtListRestorableRanges',
    'List Restorable Ranges (extension)',
    'The times Create Restore Cluster accepts as backup_recovery_time now: one range per completed backup, from its snapshot to the last second its write log covers (both ends included, whole seconds), oldest first. ' +
      'Ranges of consecutive backups may touch or overlap; a restore takes the newest backup whose range holds the time.',
    {
      type: 'object',
      required: ['backup_history_number', 'from', 'to'],
      properties: { backup_history_number: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } },
    },
  ),
  '/v1/clusters/{cluster_id}/events': clusterList(
    'cachestoreExtListClusterEvents',
    'List Cluster Events (extension)',
    "The cluster's history: every operation's start, resume, outcome, and what the reconciler found.",
    {
      type: 'object',
      required: ['at', 'message'],
      properties: { at: { type: 'string', format: 'date-time' }, request_id: { type: ['string', 'null'] }, message: { type: 'string' } },
    },
  ),
};

/** Routes outside the API: no signature (GET /metrics: its scrape token, or a signature). */
const SERVICE_PATHS: Record<string, Record<string, unknown>> = {
  '/openapi.json': {
    get: {
      operationId: 'cachestoreExtOpenApiDocument',
      summary: 'OpenAPI document (extension)',
      description: 'This document: the Cache Store 1.0 contract, the real authentication and the extensions.',
      'x-cachestore-extension': true,
      security: [],
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
  '/metrics': {
    get: {
      operationId: 'cachestoreExtMetrics',
      summary: 'Metrics (extension)',
      description:
        'Prometheus text exposition. With `Authorization: Bearer <scrape token>` (CACHESTORE_METRICS_TOKEN, or the token the service keeps in ' +
        '`<data dir>/metrics-token`): the service\'s own series and every cluster\'s engine series. Signed like the API: only the engine series ' +
        "of the signing key's account's clusters. Engines are read at scrape time (one INFO per node, kept 5 s), never in the background.",
      'x-cachestore-extension': true,
      security: [{ MetricsToken: [] }, ...auth],
      parameters: [
        { name: 'cluster_id', in: 'query', required: false, description: 'Only this cluster\'s engine series (404 when the caller does not see it).', schema: { type: 'string', maxLength: 128 } },
      ],
      responses: {
        '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } },
        '400': { description: 'Bad Request' },
        '401': { description: 'Unauthorized' },
        '404': { description: 'Not Found' },
      },
    },
  },
  '/console': {
    get: {
      operationId: 'cachestoreExtConsole',
      summary: 'Web console (extension)',
      description: 'The web console: a page that signs its API requests in the browser with the access key and secret key given at sign-in (README "Console").',
      'x-cachestore-extension': true,
      security: [],
      responses: { '200': { description: 'OK', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
  '/console/{file}': {
    get: {
      operationId: 'cachestoreExtConsoleAsset',
      summary: 'Web console asset (extension)',
      description: "The console's scripts and style sheet, by file name; 404 for any other name.",
      'x-cachestore-extension': true,
      security: [],
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'OK', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } }, '404': { description: 'Not Found' } },
    },
  },
  '/healthz': {
    get: {
      operationId: 'cachestoreExtHealth',
      summary: 'Health (extension)',
      description: 'Answers while the service accepts requests; for load balancers and systemd.',
      'x-cachestore-extension': true,
      security: [],
      responses: {
        '200': {
          description: 'OK',
          content: { 'application/json': { schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } } },
        },
      },
    },
  },
};

const SIGNING = `Every /v1 request is signed as the Samsung Cloud Platform SDK signs it (docs/CONTRACT.md):

    Scp-Signature = base64(HMAC-SHA256(secret_key, method + url + timestamp + access_key + account_id + client_type))

- \`method\`: upper case, e.g. \`GET\`.
- \`url\`: the absolute URL exactly as sent: scheme, host, port, path and \`?query\` (e.g. \`http://127.0.0.1:8080/v1/clusters?page=0&size=20\`).
- \`timestamp\`: the \`Scp-Timestamp\` header, Unix time in milliseconds; valid 15 minutes either way.
- \`access_key\`: the \`Scp-AccessKey\` header.
- \`account_id\`: the \`Scp-AccountId\` header (the SDK sends it empty; if set it must be the key's account).
- \`client_type\`: the \`Scp-ClientType\` header (the SDK sends \`Openapi\`).

The body is not signed. A missing, stale or wrong signature, or a revoked key, gets 401 in the error shape.
Keys: the bootstrap credential the first start prints, or \`cachestore admin keys issue --account NAME\`.`;

const SCHEMES = {
  ScpAccessKey: { type: 'apiKey', in: 'header', name: 'Scp-AccessKey', description: 'Your access key. Sent with Scp-Signature and Scp-Timestamp; see the signing rule in info.description.' },
  ScpSignature: { type: 'apiKey', in: 'header', name: 'Scp-Signature', description: 'base64(HMAC-SHA256(secret_key, method + url + timestamp + access_key + account_id + client_type)), computed per request.' },
  ScpTimestamp: { type: 'apiKey', in: 'header', name: 'Scp-Timestamp', description: 'Unix time in milliseconds, the one signed; valid 15 minutes either way.' },
  MetricsToken: { type: 'http', scheme: 'bearer', description: 'GET /metrics only: the scrape token (CACHESTORE_METRICS_TOKEN, or <data dir>/metrics-token).' },
};

const EXTENSION_TAG = 'cachestore.extensions';

function ownPackage(): { name: string; version: string } {
  // src/contract/ and dist/contract/ are both two levels below the package root.
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
}

/**
 * The document served at GET /openapi.json: the vendor's contract with this service's own name,
 * version and authentication (the Scp-* signature, not the YAML's X-Auth-Token), plus every
 * extension route. Built here and only here.
 */
export function servedDocument(): OpenApiDocument {
  const doc = structuredClone(contractDocument());
  const pkg = ownPackage();
  doc.info = {
    title: 'Cache Store',
    version: pkg.version,
    description:
      'Managed Redis OSS / Valkey, self-hosted. Speaks the Samsung Cloud Platform Cache Store 1.0 API (the operations under /v1, from the vendor\'s contract, MIT) ' +
      `and adds the operations tagged ${EXTENSION_TAG} (x-cachestore-extension: true).\n\n` +
      SIGNING,
    license: { name: 'MIT', identifier: 'MIT' },
    'x-cachestore-package': pkg.name,
    'x-cachestore-contract': 'cachestore 1.0',
  };
  // The vendor's empty server URL is not a URL; without `servers` a tool uses the document's own origin.
  delete doc.servers;
  doc.components = { ...(doc.components ?? {}), securitySchemes: SCHEMES };
  doc.security = auth;
  // An extension may add a method to a path the contract has (POST .../backup-histories).
  for (const [path, item] of Object.entries({ ...EXTENSION_PATHS, ...SERVICE_PATHS })) {
    const tagged = Object.fromEntries(Object.entries(item).map(([m, op]) => [m, { tags: [EXTENSION_TAG], ...(op as object) }]));
    doc.paths[path] = { ...(doc.paths[path] ?? {}), ...tagged };
  }
  // Every operation that had the YAML's scheme gets the real one.
  for (const item of Object.values<Record<string, any>>(doc.paths)) {
    for (const op of Object.values<any>(item)) {
      if (op && typeof op === 'object' && Array.isArray(op.security) && op.security.some((s: object) => 'X-Auth-Token' in s)) op.security = auth;
    }
  }
  // Only the tags operations use (the vendor's file lists every product of its platform).
  const used = new Set<string>();
  for (const item of Object.values<Record<string, any>>(doc.paths)) for (const op of Object.values<any>(item)) for (const t of op?.tags ?? []) used.add(t);
  doc.tags = [
    ...(doc.tags ?? []).filter((t: { name: string }) => used.has(t.name)),
    { name: EXTENSION_TAG, description: 'Cache Store extensions: routes beyond the 31 operations of the contract.' },
  ];
  for (const k of Object.keys(doc)) if (k.startsWith('x-service-') || k === 'x-app-name' || k === 'x-package-name') delete doc[k];
  return doc;
}
