// Accounts and access keys in the store, on both dialects: the migration that brings earlier
// credentials under accounts, the bootstrap key that revokes its predecessors, revocation.
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, eachSupportedId, type TestDatabase } from '../../test/support/databases.js';
import { openDatabase } from './db.js';
import { migrationProvider } from './migrations.js';
import { SqlStore } from './sql-store.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

async function openRaw(t: TestDatabase): Promise<Kysely<any>> {
  if (t.config.kind === 'sqlite') {
    const { default: SQLite } = await import('better-sqlite3');
    return new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(t.config.file) }) });
  }
  const { default: pg } = await import('pg');
  return new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: t.config.url, max: 2 }) }) });
}

describe.each(eachSupportedId())('accounts and keys on %s', (dialect) => {
  const open: Array<{ close(): Promise<void> }> = [];
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of databases.splice(0)) await d.cleanup();
  });

  async function fresh(): Promise<{ t: TestDatabase; store: SqlStore }> {
    const t = await createTestDatabase(dialect);
    databases.push(t);
    const store = new SqlStore(await openDatabase(t.config));
    open.push(store);
    return { t, store };
  }

  it('migrates earlier credentials: each account gets a row, each key is a bootstrap key, and the next start revokes all but its own', async () => {
    const t = await createTestDatabase(dialect);
    databases.push(t);
    const raw = await openRaw(t);
    try {
      expect((await new Migrator({ db: raw, provider: migrationProvider }).migrateTo('2026-12-01-011-cluster-commands')).error).toBeUndefined();
      // What a rotation through the environment used to leave: two keys in force.
      for (const [key, account, at] of [['old-key', A, '2026-11-28T00:00:00.000Z'], ['new-key', A, '2026-11-29T00:00:00.000Z'], ['other-key', B, '2026-11-30T00:00:00.000Z']]) {
        await raw.insertInto('credentials').values({ access_key: key, secret_key: `s-${key}`, account_id: account, user_id: 'u', created_at: at }).execute();
      }
    } finally {
      await raw.destroy();
    }
    const store = new SqlStore(await openDatabase(t.config));
    open.push(store);
    expect((await store.listAccounts()).map((a) => [a.id, a.name])).toEqual([
      [A, 'bootstrap'],
      [B, `account-${B.slice(0, 12)}`],
    ]);
    expect((await store.listAccessKeys()).map((k) => [k.accessKey, k.kind, k.revokedAt])).toEqual([
      ['old-key', 'bootstrap', null],
      ['new-key', 'bootstrap', null],
      ['other-key', 'bootstrap', null],
    ]);
    const r = await store.saveBootstrapCredential({ accessKey: 'new-key', secretKey: 's-new-key', accountId: A, userId: 'u' }, '2026-12-01T00:00:00.000Z');
    expect(r).toEqual({ revoked: ['old-key', 'other-key'], revokedItself: false });
    expect(await store.findCredential('old-key')).toMatchObject({ revokedAt: '2026-12-01T00:00:00.000Z' });
    expect(await store.findCredential('new-key')).toMatchObject({ revokedAt: null, secretKey: 's-new-key' });
  });

  it('a bootstrap key gets its account; a new secret for the same key replaces the old; an operator\'s revocation holds', async () => {
    const { store } = await fresh();
    expect(await store.saveBootstrapCredential({ accessKey: 'k1', secretKey: 's1', accountId: A, userId: 'u' }, '2026-12-01T00:00:00.000Z')).toEqual({ revoked: [], revokedItself: false });
    expect(await store.findAccount(A)).toMatchObject({ name: 'bootstrap' });
    await store.saveBootstrapCredential({ accessKey: 'k1', secretKey: 's2', accountId: A, userId: 'u' }, '2026-12-01T00:00:01.000Z');
    expect(await store.findCredential('k1')).toMatchObject({ secretKey: 's2', revokedAt: null });

    // Another bootstrap account id: its account gets a name of its own, and k1 is revoked.
    expect((await store.saveBootstrapCredential({ accessKey: 'k2', secretKey: 's', accountId: B, userId: 'u' }, '2026-12-01T00:00:02.000Z')).revoked).toEqual(['k1']);
    expect(await store.findAccount(B)).toMatchObject({ name: `bootstrap-${B.slice(0, 12)}` });

    expect(await store.revokeAccessKey('k2', '2026-12-01T00:00:03.000Z')).toBe(true);
    expect(await store.revokeAccessKey('k2', '2026-12-01T00:00:04.000Z')).toBe(false);
    const again = await store.saveBootstrapCredential({ accessKey: 'k2', secretKey: 's', accountId: B, userId: 'u' }, '2026-12-01T00:00:05.000Z');
    expect(again).toEqual({ revoked: [], revokedItself: true });
    expect(await store.findCredential('k2')).toMatchObject({ revokedAt: '2026-12-01T00:00:03.000Z' });
  });

  it('account names are unique; issued keys are listed per account without secrets', async () => {
    const { store } = await fresh();
    expect(await store.createAccount({ id: A, name: 'acme', createdAt: '2026-12-01T00:00:00.000Z' })).toBe(true);
    expect(await store.createAccount({ id: B, name: 'acme', createdAt: '2026-12-01T00:00:01.000Z' })).toBe(false);
    expect(await store.createAccount({ id: B, name: 'beta', createdAt: '2026-12-01T00:00:01.000Z' })).toBe(true);
    expect(await store.findAccountByName('acme')).toEqual({ id: A, name: 'acme', createdAt: '2026-12-01T00:00:00.000Z' });
    await store.insertAccessKey({ accessKey: 'ka', secretKey: 'secret-a', accountId: A, userId: 'u' }, 'issued', 'ci', '2026-12-01T00:00:02.000Z');
    await store.insertAccessKey({ accessKey: 'kb', secretKey: 'secret-b', accountId: B, userId: 'u' }, 'issued', null, '2026-12-01T00:00:03.000Z');
    expect(await store.listAccessKeys(A)).toEqual([
      { accessKey: 'ka', accountId: A, kind: 'issued', description: 'ci', createdAt: '2026-12-01T00:00:02.000Z', revokedAt: null },
    ]);
    expect(JSON.stringify(await store.listAccessKeys())).not.toMatch(/secret-/);
    expect((await store.listAccessKeys()).map((k) => k.accessKey)).toEqual(['ka', 'kb']);
  });
});
