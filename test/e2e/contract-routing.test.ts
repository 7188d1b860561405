// The contract as served and as routed: GET /openapi.json equals the vendor YAML for every
// operation but its security (the Scp-* signature; extensions only as extra paths, marked), every one of the 31 operations has a
// route (the ones later issues build answer 501 in the error shape), List Clusters validates
// its query and filters, pages and sorts, and unknown ids answer as docs/CONTRACT.md says.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildValidators } from '../../src/contract/validators.js';
import { createBody, engineVersions, startHarness, type Harness, settle as settleCreate } from '../support/harness.js';
import { expectErrorShape } from '../support/errors.js';
import { VALID_BODIES } from '../support/contract-bodies.js';

const CONTRACT_YAML = fileURLToPath(new URL('../../src/contract/cachestore-1.0.openapi.yaml', import.meta.url));
const contract = parse(readFileSync(CONTRACT_YAML, 'utf8')) as { paths: Record<string, Record<string, any>>; components: unknown; openapi: string; info: unknown };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

interface Operation {
  operationId: string;
  method: string;
  path: string;
  op: any;
}
const operations: Operation[] = Object.entries(contract.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([m]) => METHODS.includes(m))
    .map(([method, op]) => ({ operationId: op.operationId as string, method, path, op })),
);

let h: Harness;
let redis: { id: string; product_image_type: string };

beforeAll(async () => {
  h = await startHarness();
  redis = (await engineVersions(h.client)).find((e) => e.product_image_type === 'Redis OSS Sentinel')!;
  expect(redis).toBeDefined();
});
afterAll(async () => {
  await h?.stop();
});

function settle(requestId: string, clusterId: string, timeoutMs = 20_000): Promise<void> {
  return settleCreate(h.client, requestId, clusterId, timeoutMs);
}

function expectLoc(detail: unknown, loc: string) {
  expect(Array.isArray(detail), JSON.stringify(detail)).toBe(true);
  expect((detail as Array<{ loc: string[] }>).map((d) => d.loc.join('.')), JSON.stringify(detail)).toContain(loc);
}

/** The contract's operation as served: the real Scp-* signature in place of the YAML's X-Auth-Token. */
function withScpSecurity(op: any) {
  return op.security ? { ...op, security: [{ ScpAccessKey: [], ScpSignature: [], ScpTimestamp: [] }] } : op;
}

/** Is this the not-found handler's answer, i.e. the route does not exist? */
const isNoOperation = (r: { status: number; body: any }) => r.status === 404 && /No operation/.test(String(r.body?.errors?.[0]?.detail));

describe('GET /openapi.json', () => {
  let served: any;
  beforeAll(async () => {
    const r = await fetch(`${h.baseUrl}/openapi.json`); // unsigned
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    served = await r.json();
  });

  it('holds the 31 operations of the contract', () => {
    expect(operations).toHaveLength(31);
    expect(new Set(operations.map((o) => o.operationId)).size).toBe(31);
  });

  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))('equals the contract for %s', (_, o) => {
    expect(served.paths[o.path]?.[o.method]).toEqual(withScpSecurity(o.op));
  });

  it('equals the contract for path-level fields, components and document info', () => {
    for (const [path, item] of Object.entries(contract.paths)) {
      // The contract's methods unchanged; a method our extensions add to the path is marked.
      for (const [m, op] of Object.entries(item as object)) expect(served.paths[path][m], `${m} ${path}`).toEqual(withScpSecurity(op));
      for (const m of Object.keys(served.paths[path]).filter((m) => !(m in (item as object)))) {
        expect(served.paths[path][m]['x-cachestore-extension'], `${m} ${path}`).toBe(true);
      }
    }
    // The contract's schemas; the security scheme and info are the service's own (openapi-document.test.ts).
    expect({ ...served.components, securitySchemes: null }).toEqual({ ...(contract.components as object), securitySchemes: null });
    expect(served.openapi).toBe(contract.openapi);
  });

  it('adds extension paths only, each operation marked x-cachestore-extension: true', () => {
    const extra = Object.keys(served.paths).filter((p) => !(p in contract.paths));
    expect(extra.length).toBeGreaterThan(0);
    for (const p of extra) {
      const ops = Object.entries(served.paths[p]).filter(([m]) => METHODS.includes(m));
      expect(ops.length, p).toBeGreaterThan(0);
      for (const [m, op] of ops) expect((op as any)['x-cachestore-extension'], `${m} ${p}`).toBe(true);
    }
    // The on-demand backup sits beside the contract's GET/PUT on .../backup-histories.
    expect(served.paths['/v1/clusters/{cluster_id}/backup-histories'].post['x-cachestore-extension']).toBe(true);
    // Contract operations are not marked as extensions.
    for (const o of operations) expect(served.paths[o.path][o.method]['x-cachestore-extension']).toBeUndefined();
  });
});

describe('routing of every contract operation', () => {
  const ID = 'f'.repeat(32);
  const PARAMS: Record<string, string> = {
    cluster_id: ID,
    block_storage_group_id: ID,
    instance_group_id: ID,
    dbaas_engine_version_id: ID,
    request_id: 'req-00000000-0000-4000-8000-000000000000',
  };
  /** Required query parameters. */
  const QUERY: Record<string, string> = { cachestoreListParameters: '?dbaas_parameter_group_id=pg1' };
  /** Valid bodies, so an operation that is not built yet can answer 501 rather than 400. */
  const BODIES: Record<string, unknown> = {
    ...VALID_BODIES,
    cachestoreCreateCluster: {}, // implemented: an empty body is a 400 naming the required fields
  };
  /** What the implemented operations answer for unknown ids (docs/CONTRACT.md). */
  const IMPLEMENTED: Record<string, number> = {
    cachestoreListClusters: 200,
    cachestoreCreateCluster: 400,
    cachestoreShowCluster: 404,
    cachestoreDeleteCluster: 404,
    cachestoreStopCluster: 404,
    cachestoreStartCluster: 404,
    cachestoreRestartCluster: 404,
    cachestoreSwitchoverCluster: 404,
    cachestoreSyncClusterState: 404,
    cachestoreShowRequest: 400,
    cachestoreListEngineVersions: 200,
    cachestoreListEngineVersionProperties: 400,
    cachestoreListServerTypes: 200,
    cachestoreListBackupHistories: 404,
    cachestoreRemoveBackupHistories: 404,
    cachestoreSetBackup: 404,
    cachestoreUnsetBackup: 404,
    cachestoreCreateRestore: 404,
    cachestoreListParameterGroups: 200,
    cachestoreListParameters: 400, // an unknown group id in the query
    cachestoreListParameterValues: 404,
    cachestoreSetParameterValues: 404,
    cachestoreSyncParameterValues: 404,
    cachestoreListCommands: 404,
    cachestoreSetCommands: 404,
    cachestoreSyncCommands: 404,
    cachestoreSetServerType: 404, // an unknown instance group
    cachestoreSetSecurityGroupRules: 404,
    cachestoreSetMaintenance: 404,
    cachestoreUnsetMaintenance: 404,
    cachestoreSetBlockStorageSize: 404, // an unknown block storage group
  };
  /** Built by later issues: 501 in the error shape until then. */
  const NOT_YET: Record<string, string> = {
  };
  const validators = buildValidators();

  it('the tables cover all 31 operations, each once', () => {
    const covered = [...Object.keys(IMPLEMENTED), ...Object.keys(NOT_YET)];
    expect(covered.sort()).toEqual(operations.map((o) => o.operationId).sort());
    expect(covered).toHaveLength(31);
    // Every body sent below is valid for the contract, so a 400 is never what we test here.
    for (const [id, body] of Object.entries(BODIES)) {
      if (id === 'cachestoreCreateCluster') continue;
      const v = validators.get(id)!.body!;
      expect(v(body), `${id}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
    for (const o of operations) expect(Boolean(o.op.requestBody), o.operationId).toBe(o.operationId in BODIES);
  });

  const label = (o: Operation) =>
    `${o.method.toUpperCase()} ${o.path} (${o.operationId})${o.operationId in NOT_YET ? ` answers 501 until ${NOT_YET[o.operationId]} lands` : ''}`;

  it.each(operations.map((o) => [label(o), o] as const))('%s', async (_, o) => {
    const path = o.path.replace(/\{([^}]+)\}/g, (_m, name: string) => PARAMS[name] ?? ID) + (QUERY[o.operationId] ?? '');
    const r = await h.client.request(o.method.toUpperCase(), path, BODIES[o.operationId]);
    expect(isNoOperation(r), JSON.stringify(r.body)).toBe(false);
    if (o.operationId in NOT_YET) {
      // When one lands, move it to IMPLEMENTED with what it answers for an unknown id.
      const e = expectErrorShape(r, 501, 'NotImplemented');
      expect(e.detail).toMatch(/not implemented yet/);
    } else {
      expect(r.status, JSON.stringify(r.body)).toBe(IMPLEMENTED[o.operationId]);
      if (r.status >= 400) expectErrorShape(r, r.status);
    }
  });

  it('routes the extension operations too', async () => {
    const details = await h.client.get(`/v1/requests/${PARAMS.request_id}/details`);
    expectErrorShape(details, 400);
    const events = await h.client.get(`/v1/clusters/${ID}/events`);
    expectErrorShape(events, 404, 'NotFound');
    const backup = await h.client.post(`/v1/clusters/${ID}/backup-histories`);
    expectErrorShape(backup, 404, 'NotFound');
  });

  it('answers an unknown path with the not-found handler, and an unsigned call with 401', async () => {
    const r = await h.client.get('/v1/clusters/abc/nothing-here');
    expectErrorShape(r, 404, 'NotFound');
    expect(isNoOperation(r)).toBe(true);
    const unsigned = await fetch(`${h.baseUrl}/v1/clusters`);
    expectErrorShape({ status: unsigned.status, body: await unsigned.json() }, 401);
  });
});

describe('List Clusters', () => {
  it.each([
    ['sort=bad', 'query.sort'],
    ['sort=name:up', 'query.sort'],
    ['sort=id:asc', 'query.sort'],
    ['size=-1', 'query.size'],
    ['size=abc', 'query.size'],
    ['size=1001', 'query.size'],
    ['page=abc', 'query.page'],
    ['page=-1', 'query.page'],
    ['page=1.5', 'query.page'],
    ['page=1e300', 'query.page'],
    ['size=1000&page=9007199254740991', 'query.page'],
    ['service_state=NOPE', 'query.service_state'],
    ['service_state=running', 'query.service_state'],
  ])('refuses %s with a 400 naming %s', async (q, loc) => {
    const r = await h.client.get(`/v1/clusters?${q}`);
    const e = expectErrorShape(r, 400, 'ValidationError');
    expectLoc(e.detail, loc);
  });

  describe('with three clusters', () => {
    const NAMES = ['alphaOne', 'bravoTwo', 'charlieThree']; // the same order case-sensitive or not
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      for (const [i, name] of NAMES.entries()) {
        const r = await h.client.post('/v1/clusters', createBody(redis, { name, instance_name_prefix: `ls${i}` }));
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        ids[name] = r.body.resource.id;
        await settle(r.body.request_id, ids[name]);
        await new Promise((res) => setTimeout(res, 5)); // distinct created_at
      }
    });

    const names = async (q: string) => {
      const r = await h.client.get(`/v1/clusters${q}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return { names: r.body.contents.map((c: any) => c.name) as string[], body: r.body };
    };

    it('lists them with the count', async () => {
      const { names: all, body } = await names('');
      expect(all.sort()).toEqual([...NAMES].sort());
      expect(body.count).toBe(3);
      expect(body.contents.map((c: any) => c.id).sort()).toEqual(Object.values(ids).sort());
      for (const c of body.contents) {
        expect(c.instance_count).toBe(1);
        expect(c.service_state).toBe('RUNNING');
      }
    });

    it('filters by name: a case-insensitive substring, wildcards taken literally', async () => {
      expect((await names('?name=ALPHA')).names).toEqual(['alphaOne']);
      expect((await names('?name=one')).names).toEqual(['alphaOne']);
      expect((await names('?name=TWO')).names).toEqual(['bravoTwo']);
      expect((await names('?name=o&sort=name:asc')).names).toEqual(['alphaOne', 'bravoTwo']);
      expect((await names('?name=charliethree')).names).toEqual(['charlieThree']);
      for (const q of ['zzz', '%25', '_', 'alpha%25', 'a_pha']) {
        const { names: n, body } = await names(`?name=${q}`);
        expect(n, q).toEqual([]);
        expect(body.count).toBe(0);
      }
      const r = await names('?name=a&size=1&sort=name:asc');
      expect(r.names).toEqual(['alphaOne']);
      expect(r.body.count).toBe(3);
    });

    it('combines the name filter with service_state', async () => {
      const state = (await h.client.get(`/v1/clusters/${ids.bravoTwo}`)).body.service_state;
      expect((await names(`?name=bravo&service_state=${state}`)).names).toEqual(['bravoTwo']);
      expect((await names('?name=bravo&service_state=STOPPED')).names).toEqual([]);
      expect((await names('?name=bravo&service_state=CREATING')).names).toEqual([]);
    });

    it('sorts by name, ascending and descending', async () => {
      expect((await names('?sort=name:asc')).names).toEqual(NAMES);
      expect((await names('?sort=name:desc')).names).toEqual([...NAMES].reverse());
    });

    it('sorts by created_at, newest first by default', async () => {
      expect((await names('?sort=created_at:asc')).names).toEqual(NAMES);
      expect((await names('?sort=created_at:desc')).names).toEqual([...NAMES].reverse());
      const byDefault = await names('');
      expect(byDefault.names).toEqual([...NAMES].reverse());
      expect(byDefault.body.sort).toEqual(['created_at:desc']);
    });

    it('pages with page and size, and echoes them', async () => {
      const p0 = await names('?sort=name:asc&size=2&page=0');
      expect(p0.names).toEqual(['alphaOne', 'bravoTwo']);
      expect(p0.body).toMatchObject({ count: 3, page: 0, size: 2, sort: ['name:asc'] });
      const p1 = await names('?sort=name:asc&size=2&page=1');
      expect(p1.names).toEqual(['charlieThree']);
      expect(p1.body).toMatchObject({ count: 3, page: 1, size: 2 });
      const p2 = await names('?sort=name:asc&size=2&page=2');
      expect(p2.names).toEqual([]);
      expect(p2.body).toMatchObject({ count: 3, page: 2, size: 2 });
      const p1desc = await names('?sort=name:desc&size=1&page=1');
      expect(p1desc.names).toEqual(['bravoTwo']);
      const none = await names('?size=0');
      expect(none.names).toEqual([]);
      expect(none.body).toMatchObject({ count: 3, size: 0 });
      const defaults = await names('');
      expect(defaults.body).toMatchObject({ page: 0, size: 20 });
    });
  });
});

describe('unknown ids', () => {
  it('Show Cluster of an unknown id answers 404 in the error shape', async () => {
    const r = await h.client.get(`/v1/clusters/${'0'.repeat(32)}`);
    const e = expectErrorShape(r, 404, 'NotFound');
    expect(e.detail).toContain('0'.repeat(32));
  });

  it('Show Request of an unknown id answers 400 in the error shape', async () => {
    const r = await h.client.get('/v1/requests/req-00000000-0000-4000-8000-000000000000');
    const e = expectErrorShape(r, 400, 'ValidationError');
    expectLoc(e.detail, 'path.request_id');
  });
});
