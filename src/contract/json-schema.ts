// Converts the contract's OpenAPI 3.0-style schemas (nullable, $ref into components, example)
// into plain JSON Schema that Ajv compiles. The `strict` variant forbids properties the
// contract does not define: we use it to check our own responses, because the vendor's SDK
// decodes with DisallowUnknownFields and breaks on a single extra field.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { withSdkNullables } from './nullable-fields.js';
import { contractDocument, type OpenApiDocument } from './spec.js';

type Schema = Record<string, any>;

const DROPPED_KEYS = new Set(['example', 'nullable', 'xml', 'externalDocs', 'discriminator']);

export function convertSchema(node: unknown, refBase: string, strict: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => convertSchema(n, refBase, strict));
  if (!node || typeof node !== 'object') return node;
  const src = node as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(src)) {
    if (DROPPED_KEYS.has(k) || k.startsWith('x-')) continue;
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) {
      out.$ref = `${refBase}${v}`;
    } else if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(v as Schema).map(([name, s]) => [name, convertSchema(s, refBase, strict)]),
      );
    } else {
      out[k] = convertSchema(v, refBase, strict);
    }
  }
  // The vendor's object schemas carry `properties`/`required` but no `type: object`, which JSON
  // Schema would let any non-object (null, a string, an array) pass. OpenAPI tools read them as
  // objects, and so do we.
  if ((out.properties || out.required) && out.type === undefined && out.$ref === undefined) out.type = 'object';
  if (strict && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (src.properties && typeof src.properties === 'object') {
    const required = new Set(Array.isArray(src.required) ? (src.required as string[]) : []);
    const optionalNullable = Object.entries(src.properties as Schema)
      .filter(([name, s]) => s && (s as Schema).nullable === true && !required.has(name))
      .map(([name]) => name);
    if (optionalNullable.length > 0) out[NULL_MEANS_ABSENT] = optionalNullable;
  }
  if (src.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    } else {
      return { anyOf: [out, { type: 'null' }] };
    }
  }
  return out;
}

/**
 * Keyword on an object schema: these optional, nullable properties are removed from the data
 * when they are null, so a handler sees `null` exactly as "not given" (nullable-fields.ts).
 */
export const NULL_MEANS_ABSENT = 'nullMeansAbsent';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface ContractAjv {
  /** Path and query parameters arrive as strings: coerce, then validate (loose schemas). */
  params: Ajv;
  /** Request bodies and our own responses: no coercion, and no property the contract lacks. */
  strict: Ajv;
}

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: coerce, useDefaults: false });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: NULL_MEANS_ABSENT,
    type: 'object',
    schemaType: 'array',
    modifying: true,
    errors: false,
    validate: (names: string[], data: Record<string, unknown>) => {
      for (const name of names) if (data[name] === null) delete data[name];
      return true;
    },
  });
  return ajv;
}

export function buildContractAjv(doc: OpenApiDocument = contractDocument()): ContractAjv {
  const params = newAjv(true);
  const components = withSdkNullables(doc.components ?? {});
  params.addSchema({ $id: 'contract', components: convertSchema(components, 'contract', false) });
  const strict = newAjv(false);
  strict.addSchema({ $id: 'contract', components: convertSchema(components, 'contract', true) });
  return { params, strict };
}

export type { ErrorObject, ValidateFunction };
