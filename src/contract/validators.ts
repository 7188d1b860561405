// One compiled validator set per contract operation: path, query, body, and the response
// schema by status. Error messages name the field and what it must be, so a person can fix
// the request without reading the YAML.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { buildContractAjv, convertSchema } from './json-schema.js';
import { contractOperations, type ContractOperation } from './spec.js';

export interface FieldError {
  loc: string[];
  msg: string;
  type_: string;
}

export interface OperationValidators {
  operation: ContractOperation;
  params?: ValidateFunction;
  query?: ValidateFunction;
  body?: ValidateFunction;
  responses: Record<string, ValidateFunction>;
}

function objectOf(params: ContractOperation['parameters'], where: 'path' | 'query') {
  const selected = params.filter((p) => p.in === where);
  if (selected.length === 0) return undefined;
  return {
    type: 'object',
    properties: Object.fromEntries(selected.map((p) => [p.name, convertSchema(p.schema ?? {}, 'contract', false)])),
    required: selected.filter((p) => p.required).map((p) => p.name),
  };
}

export function buildValidators(): Map<string, OperationValidators> {
  const { params, strict } = buildContractAjv();
  const out = new Map<string, OperationValidators>();
  for (const operation of contractOperations()) {
    const pathSchema = objectOf(operation.parameters, 'path');
    const querySchema = objectOf(operation.parameters, 'query');
    // Response schemas are compiled when first asked for: only the tests check our own answers
    // against them.
    let responses: Record<string, ValidateFunction> | undefined;
    const compileResponses = () => {
      const r: Record<string, ValidateFunction> = {};
      for (const [status, schema] of Object.entries(operation.responses)) {
        if (schema) r[status] = strict.compile(convertSchema(schema, 'contract', true) as object);
      }
      return r;
    };
    // Request validators likewise compile at an operation's first request, not at start (a
    // start compiled every schema of the contract: most of buildApp's time).
    let compiled: Pick<OperationValidators, 'params' | 'query' | 'body'> | undefined;
    const requestValidators = () =>
      (compiled ??= {
        params: pathSchema ? params.compile(pathSchema) : undefined,
        query: querySchema ? params.compile(querySchema) : undefined,
        body: operation.requestBody ? strict.compile(convertSchema(operation.requestBody.schema, 'contract', true) as object) : undefined,
      });
    out.set(operation.operationId, {
      operation,
      get params() {
        return requestValidators().params;
      },
      get query() {
        return requestValidators().query;
      },
      get body() {
        return requestValidators().body;
      },
      get responses() {
        return (responses ??= compileResponses());
      },
    });
  }
  return out;
}

/** Turns Ajv errors into the contract's ValidationErrorModel-like items. */
export function describeErrors(where: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errors ?? []) {
    // anyOf/nullable wrappers repeat the same problem; keep the most specific message only.
    if (e.keyword === 'anyOf' || (e.keyword === 'type' && e.params.type === 'null')) continue;
    const loc = [where, ...e.instancePath.split('/').filter(Boolean).map(unescapePointer)];
    let msg = e.message ?? 'is invalid';
    switch (e.keyword) {
      case 'required':
        loc.push(String(e.params.missingProperty));
        msg = 'is required';
        break;
      case 'additionalProperties':
        loc.push(String(e.params.additionalProperty));
        msg = 'is not a field of this request; remove it';
        break;
      case 'enum':
        msg = `must be one of: ${(e.params.allowedValues as unknown[]).filter((v) => v !== null).join(', ')}`;
        break;
      case 'pattern':
        msg = `must match the pattern ${String(e.params.pattern)}`;
        break;
      case 'type':
        msg = `must be of type ${String(e.params.type).replace(',null', '')}`;
        break;
    }
    const key = `${loc.join('.')}|${msg}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ loc, msg, type_: e.keyword });
  }
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function formatFieldErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.loc.join('.')}: ${e.msg}`).join('; ');
}
