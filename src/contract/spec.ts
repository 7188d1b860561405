// The vendor's OpenAPI document is the single source of truth for routes, request validation
// and the response shapes we promise. Everything here is derived from the YAML at start-up, so
// the document we serve equals the contract by construction (spec-first).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Record<string, unknown>;
}

export interface ContractOperation {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI path, e.g. /v1/clusters/{cluster_id} */
  path: string;
  summary: string;
  parameters: OpenApiParameter[];
  /** JSON schema of the body (OpenAPI flavour), when the operation takes one */
  requestBody?: { schema: Record<string, unknown>; required: boolean };
  /** OpenAPI response schemas by status code */
  responses: Record<string, Record<string, unknown> | undefined>;
}

export const CONTRACT_FILE = fileURLToPath(new URL('./cachestore-1.0.openapi.yaml', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OpenApiDocument = Record<string, any>;

let cached: OpenApiDocument | undefined;

/** The same document as JSON, written beside the YAML by `npm run build` (dist/ only). */
const CONTRACT_JSON = CONTRACT_FILE.replace(/\.yaml$/, '.json');

/** The vendor document, parsed once (from the build's JSON when there is one). Callers must not mutate it. */
export function contractDocument(): OpenApiDocument {
  // (The YAML parser is loaded only where there is no JSON: from source, in development and tests.)
  cached ??= (existsSync(CONTRACT_JSON)
    ? JSON.parse(readFileSync(CONTRACT_JSON, 'utf8'))
    : (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(readFileSync(CONTRACT_FILE, 'utf8'))) as OpenApiDocument;
  return cached;
}

const METHODS: HttpMethod[] = ['get', 'post', 'put', 'delete', 'patch'];

export function contractOperations(doc: OpenApiDocument = contractDocument()): ContractOperation[] {
  const ops: ContractOperation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const body = op.requestBody?.content?.['application/json']?.schema;
      const responses: ContractOperation['responses'] = {};
      for (const [status, r] of Object.entries<any>(op.responses ?? {})) {
        responses[status] = r?.content?.['application/json']?.schema;
      }
      ops.push({
        operationId: op.operationId,
        method,
        path,
        summary: op.summary ?? op.operationId,
        parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])],
        requestBody: body ? { schema: body, required: op.requestBody?.required === true } : undefined,
        responses,
      });
    }
  }
  return ops;
}

/** `/v1/clusters/{cluster_id}` -> `/v1/clusters/:cluster_id` */
export function toRouterPath(openApiPath: string): string {
  return openApiPath.replace(/\{([^}]+)\}/g, ':$1');
}
