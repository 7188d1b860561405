// Our extension operations: extra paths only, never extra fields on contract responses. They
// are merged into the served OpenAPI document, each marked `x-cachestore-extension: true`.
import { contractDocument, type OpenApiDocument } from './spec.js';

const auth = [{ 'X-Auth-Token': [] }];
const errors = { '400': { description: 'Bad Request' }, '401': { description: 'Unauthorized' }, '404': { description: 'Not Found' } };

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
                    enum: ['create', 'stop', 'start', 'restart', 'terminate', 'switchover', 'sync', 'backup', 'remove-backups', 'set-backup', 'unset-backup', 'restore', 'set-parameters', 'sync-parameters', 'set-commands', 'sync-commands', 'set-server-type', 'set-security-group-rules', 'set-block-storage-size'],
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
  '/v1/clusters/{cluster_id}/events': {
    get: {
      operationId: 'cachestoreExtListClusterEvents',
      summary: 'List Cluster Events (extension)',
      description: "The cluster's history: every operation's start, resume, outcome, and what the reconciler found.",
      'x-cachestore-extension': true,
      security: auth,
      parameters: [{ name: 'cluster_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['contents', 'total_count'],
                properties: {
                  contents: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['at', 'message'],
                      properties: { at: { type: 'string', format: 'date-time' }, request_id: { type: ['string', 'null'] }, message: { type: 'string' } },
                    },
                  },
                  total_count: { type: 'integer' },
                },
              },
            },
          },
        },
        ...errors,
      },
    },
  },
};

/** The document served at GET /openapi.json: the contract, plus our extension paths. */
export function servedDocument(): OpenApiDocument {
  const doc = structuredClone(contractDocument());
  // An extension may add a method to a path the contract has (POST .../backup-histories).
  for (const [path, item] of Object.entries(EXTENSION_PATHS)) {
    doc.paths[path] = { ...(doc.paths[path] ?? {}), ...item };
  }
  return doc;
}
