// Fresh metadata databases for store tests, one per test file and dialect, the way Backstage's
// TestDatabases does it: describe.each(eachSupportedId()) runs a suite on every dialect.
//
// - sqlite: a file in a new temp dir (mkdtemp), removed in cleanup.
// - postgres: a new database with a random name on the server at 127.0.0.1:5432 (trust auth, user
//   `postgres`), or on the admin URL in CACHESTORE_TEST_PG_URL; dropped WITH (FORCE) in cleanup.
//   It sorts text the en-US way (ICU) where the server can, not in the C order SQLite uses.
//   An unreachable server is an error, never a skip. The test run's globalSetup
//   (test/support/postgres-global-setup.ts) sets CACHESTORE_TEST_PG_URL to a private server
//   when nothing answers at 127.0.0.1:5432.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/store/db.js';

export type DatabaseId = DatabaseConfig['kind'];

const SUPPORTED: readonly DatabaseId[] = ['sqlite', 'postgres'];

/** Every dialect the store supports, for describe.each. */
export function eachSupportedId(): DatabaseId[] {
  return [...SUPPORTED];
}

export const DEFAULT_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function pgAdminUrl(): string {
  return process.env.CACHESTORE_TEST_PG_URL || DEFAULT_PG_ADMIN_URL;
}

export interface TestDatabase {
  id: DatabaseId;
  /** What openDatabase() takes. */
  config: DatabaseConfig;
  /**
   * Ends the server's connections to this database, as a server restart or failover would.
   * SQLite is embedded and has none: calling it there is a test's mistake, and throws.
   */
  terminateConnections(): Promise<void>;
  /** Removes the database. Close every store on it first (PostgreSQL forces them off anyway). */
  cleanup(): Promise<void>;
}

export async function createTestDatabase(id: DatabaseId): Promise<TestDatabase> {
  return id === 'sqlite' ? createSqlite() : createPostgres();
}

async function createSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'cachestore-store-'));
  return {
    id: 'sqlite',
    config: { kind: 'sqlite', file: join(dir, 'cachestore.db') },
    async terminateConnections() {
      throw new Error('SQLite is embedded: it has no server connections to end');
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = pgAdminUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  // A server that goes away mid-test must not crash the test process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new Error(
      `PostgreSQL is not reachable at ${redact(url)}: ${err instanceof Error ? err.message : String(err)}. ` +
        'The store tests run on PostgreSQL as well as SQLite: run them through vitest (its globalSetup starts a private ' +
        'server; scripts/install-deps.sh installs PostgreSQL), start one on 127.0.0.1:5432 with trust auth for user ' +
        'postgres, or set CACHESTORE_TEST_PG_URL to an admin connection URL.',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createPostgres(): Promise<TestDatabase> {
  const name = `cachestore_test_${randomBytes(8).toString('hex')}`;
  await admin(async (c) => {
    try {
      // A linguistic collation, as most production servers have (en_US.UTF-8 or ICU), so that
      // results that hold only under the C collation (SQLite's BINARY order) show up here.
      await c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    } catch {
      // PostgreSQL before 15 or without ICU: the server's default.
      await c.query(`CREATE DATABASE "${name}"`);
    }
  });
  const url = new URL(pgAdminUrl());
  url.pathname = `/${name}`;
  return {
    id: 'postgres',
    config: { kind: 'postgres', url: url.toString() },
    async terminateConnections() {
      await admin((c) =>
        c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]),
      );
    },
    async cleanup() {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
