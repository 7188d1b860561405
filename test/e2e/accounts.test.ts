// Accounts and access keys as an operator manages them with `cachestore admin` (on the store
// directly), seen through the signed API: an issued key works, a revoked one gets 401 at once on
// every instance sharing the store, a new bootstrap credential revokes the old one, keys of one
// account never see another's clusters, secrets are shown only at issue, and bad input is one
// line and a non-zero exit.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../src/cli/admin.js';
import { SignedClient } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { expectErrorShape } from '../support/errors.js';
import { completes, createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface AdminRun {
  code: number;
  out: string;
  err: string;
}

/** `cachestore admin <args>` in-process, against the store `env` names. */
async function admin(env: Record<string, string>, ...args: string[]): Promise<AdminRun> {
  let out = '';
  let err = '';
  const code = await runAdmin(args, { out: (t) => (out += t), err: (t) => (err += t), env });
  return { code, out, err };
}

/** The same as its own process, as an operator runs it (exit code and stderr as the shell sees them). */
function adminProcess(env: Record<string, string>, ...args: string[]): Promise<AdminRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/admin-main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, out: stdout, err: stderr }),
    );
  });
}

async function issue(env: Record<string, string>, account: string, description?: string) {
  const r = await admin(env, 'keys', 'issue', '--account', account, ...(description ? ['--description', description] : []), '-o', 'json');
  expect(r, r.err).toMatchObject({ code: 0, err: '' });
  return JSON.parse(r.out) as { access_key: string; secret_key: string; account_id: string; account_name: string };
}

function clientFor(h: Harness, key: { access_key: string; secret_key: string }) {
  return new SignedClient(h.baseUrl, { accessKey: key.access_key, secretKey: key.secret_key });
}

describe('keys issued and revoked on two service instances sharing one PostgreSQL store', () => {
  let db: TestDatabase;
  let a: Harness;
  let b: Harness;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    if (db.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
    // Replicas on one store share its master key (secrets are sealed with it).
    env = { CACHESTORE_DATABASE_URL: db.config.url, CACHESTORE_MASTER_KEY: randomBytes(32).toString('hex') };
    a = await startHarness(env);
    b = await startHarness(env);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.cleanup();
  });

  it('a key issued with the admin command signs requests on both instances; revoked, it gets 401 on both at once', async () => {
    const created = await admin(env, 'accounts', 'create', 'acme', '-o', 'json');
    expect(created.code, created.err).toBe(0);
    const account = JSON.parse(created.out);
    expect(account).toMatchObject({ name: 'acme', id: expect.stringMatching(/^[0-9a-f]{32}$/) });

    const key = await issue(env, 'acme', 'acme CI');
    expect(key.account_id).toBe(account.id);
    for (const h of [a, b]) {
      const r = await clientFor(h, key).get('/v1/clusters');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.count).toBe(0);
    }

    const revoked = await admin(env, 'keys', 'revoke', key.access_key);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toContain(key.access_key);
    // The very next request, on either instance: no cache outlives the revocation.
    for (const h of [a, b]) {
      const r = await clientFor(h, key).get('/v1/clusters');
      const e = expectErrorShape(r, 401, 'Unauthorized');
      expect(e.detail).toMatch(/revoked/);
    }
    // The instances' own bootstrap key is untouched.
    expect((await a.client.get('/v1/clusters')).status).toBe(200);
    expect((await b.client.get('/v1/clusters')).status).toBe(200);
  });

  it('a key revoked on a store the service reads while it runs: revoking twice is refused in one line', async () => {
    const key = await issue(env, 'bootstrap');
    expect((await clientFor(b, key).get('/v1/clusters')).status).toBe(200);
    expect((await admin(env, 'keys', 'revoke', key.access_key)).code).toBe(0);
    const again = await admin(env, 'keys', 'revoke', key.access_key);
    expect(again.code).toBe(1);
    expect(again.out).toBe('');
    expect(again.err).toMatch(/^error: access key '.+' was revoked already, at \S+\n$/);
  });
});

describe('accounts, tenancy and the bootstrap credential on one service (SQLite)', () => {
  let h: Harness;
  let env: Record<string, string>;
  let clusterId: string;
  const oldKeys = { accessKey: 'test-access-key', secretKey: 'test-secret-key' };

  beforeAll(async () => {
    h = await startHarness();
    // The admin command opens the service's SQLite file while the service runs.
    env = { CACHESTORE_DATA_DIR: h.dataDir };
    const [engine] = await engineVersions(h.client);
    clusterId = (await completes(h.client, 'POST', '/v1/clusters', createBody(engine, { name: 'alphacache' }))).id;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a key of another account sees none of the first account\'s clusters; a second key of the first sees them', async () => {
    expect((await admin(env, 'accounts', 'create', 'beta')).code).toBe(0);
    const beta = clientFor(h, await issue(env, 'beta'));
    const list = await beta.get('/v1/clusters');
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(0);
    expectErrorShape(await beta.get(`/v1/clusters/${clusterId}`), 404, 'NotFound');
    expectErrorShape(await beta.post(`/v1/clusters/${clusterId}/stop`), 404, 'NotFound');

    const mine = clientFor(h, await issue(env, 'bootstrap', 'second key of the first account'));
    const shown = await mine.get(`/v1/clusters/${clusterId}`);
    expect(shown.status).toBe(200);
    expect(shown.body.name).toBe('alphacache');
  });

  it('shows a secret once, at issue; lists accounts and keys without any secret, in a table and as JSON', async () => {
    const issued = await admin(env, 'keys', 'issue', '--account', 'beta', '--description', 'listed');
    expect(issued.code, issued.err).toBe(0);
    const access = /access key: (\S+)/.exec(issued.out)?.[1];
    const secret = /secret key: (\S+)/.exec(issued.out)?.[1];
    expect(issued.out).toMatch(/shown this once/);
    const key = { access_key: access!, secret_key: secret! };
    expect((await clientFor(h, key).get('/v1/clusters')).status).toBe(200);
    const table = await admin(env, 'keys', 'list');
    const json = await admin(env, 'keys', 'list', '-o', 'json');
    const byAccount = await admin(env, 'keys', 'list', '--account', 'beta', '-o', 'json');
    for (const r of [table, json, byAccount]) {
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(key.access_key);
      expect(r.out).not.toContain(key.secret_key);
      expect(r.out).not.toContain(oldKeys.secretKey);
    }
    expect(table.out.split('\n')[0]).toMatch(/^ACCESS KEY\s+ACCOUNT\s+KIND\s+CREATED\s+REVOKED\s+DESCRIPTION$/);
    const rows = JSON.parse(json.out) as Array<Record<string, unknown>>;
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(['access_key', 'account_id', 'account_name', 'created_at', 'description', 'kind', 'revoked_at']);
    expect(rows.find((r) => r.access_key === oldKeys.accessKey)).toMatchObject({ kind: 'bootstrap', account_name: 'bootstrap', revoked_at: null });
    expect(JSON.parse(byAccount.out).every((r: { account_name: string }) => r.account_name === 'beta')).toBe(true);

    const accounts = await admin(env, 'accounts', 'list', '-o', 'json');
    expect(JSON.parse(accounts.out).map((a: { name: string }) => a.name)).toEqual(['bootstrap', 'beta']);
  });

  it('a new bootstrap credential in the environment revokes the old one at the next start; issued keys keep working', async () => {
    const issuedKey = await issue(env, 'bootstrap');
    expect((await h.client.get(`/v1/clusters/${clusterId}`)).status).toBe(200);

    // As an operator would: change CACHESTORE_ACCESS_KEY / CACHESTORE_SECRET_KEY and restart.
    await h.closeService();
    h.config.bootstrap = { ...h.config.bootstrap, accessKey: 'rotated-access-key', secretKey: 'rotated-secret-key' };
    await h.restartService();

    // The service listens on a new port after the restart: clients for it, old key and new.
    const before = new SignedClient(h.baseUrl, oldKeys);
    const issued = clientFor(h, issuedKey);
    const e = expectErrorShape(await before.get(`/v1/clusters/${clusterId}`), 401, 'Unauthorized');
    expect(e.detail).toMatch(/revoked/);
    expect(h.client.keys.accessKey).toBe('rotated-access-key');
    const shown = await h.client.get(`/v1/clusters/${clusterId}`);
    expect(shown.status).toBe(200);
    expect(shown.body.name).toBe('alphacache');
    expect((await issued.get(`/v1/clusters/${clusterId}`)).status).toBe(200);

    const keys = JSON.parse((await admin(env, 'keys', 'list', '--account', 'bootstrap', '-o', 'json')).out) as Array<{ access_key: string; kind: string; revoked_at: string | null }>;
    expect(keys.filter((k) => k.kind === 'bootstrap').map((k) => [k.access_key, k.revoked_at === null])).toEqual([
      [oldKeys.accessKey, false],
      ['rotated-access-key', true],
    ]);
  });

  it('bad input to the admin commands: a non-zero exit and one line on stderr', async () => {
    const cases: Array<{ args: string[]; code: number; message: RegExp }> = [
      { args: ['accounts', 'create', 'Bad Name!'], code: 1, message: /account name 'Bad Name!' must be 3 to 64 characters/ },
      { args: ['accounts', 'create', 'beta'], code: 1, message: /an account named 'beta' exists already/ },
      { args: ['keys', 'issue', '--account', 'nobody'], code: 1, message: /no account 'nobody'/ },
      { args: ['keys', 'issue'], code: 2, message: /required option '--account <name-or-id>' not specified/ },
      { args: ['keys', 'revoke', 'no-such-key'], code: 1, message: /no access key 'no-such-key'/ },
      { args: ['keys', 'list', '--output', 'xml'], code: 2, message: /argument 'xml' is invalid.*table, json/ },
      { args: ['keys', 'rotate'], code: 2, message: /unknown command 'rotate'/ },
      { args: ['accounts', 'list', '--data-dir', '/nonexistent/cachestore'], code: 1, message: /no Cache Store database at \/nonexistent\/cachestore\/cachestore\.db/ },
      { args: ['keys', 'issue', '--account', 'beta', '--description', 'two\nlines'], code: 1, message: /one line of printable text/ },
    ];
    for (const c of cases) {
      const r = await admin(env, ...c.args);
      expect([r.code, r.out], c.args.join(' ')).toEqual([c.code, '']);
      expect(r.err, c.args.join(' ')).toMatch(/^error: [^\n]+\n$/);
      expect(r.err, c.args.join(' ')).toMatch(c.message);
    }
    // As its own process: the exit code and the one line are what a shell sees.
    const p = await adminProcess(env, 'keys', 'issue', '--account', 'nobody');
    expect(p).toMatchObject({ code: 1, out: '' });
    expect(p.err).toMatch(/^error: no account 'nobody'[^\n]*\n$/);
    const usage = await adminProcess(env, 'accounts', 'create');
    expect(usage).toMatchObject({ code: 2, out: '' });
    expect(usage.err).toMatch(/^error: missing required argument 'name'\n$/);
  });
});
