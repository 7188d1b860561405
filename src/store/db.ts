// Opens the metadata database: SQLite (embedded default, one file in the data dir) or
// PostgreSQL (production, several service replicas), with the same Kysely queries, and brings
// its schema up to date.
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };


export async function openDatabase(config: DatabaseConfig): Promise<Kysely<Database>> {
  let db: Kysely<Database>;
  if (config.kind === 'sqlite') {
    const sqlite = new SQLite(config.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    // Deleted and overwritten content is zeroed, so a secret sealed again (or a row removed)
    // does not linger in free pages of the file.
    sqlite.pragma('secure_delete = ON');
    const cached = withStatementCache(sqlite);
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
    directReaders.set(db, directReader(sqlite, cached));
  } else {
    // Loaded only for a PostgreSQL store: the embedded default starts without it (~80 ms).
    const { default: pg } = await import('pg');
    // int8 (bigint) columns hold millisecond times, well inside Number's exact range.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pg.Pool({ connectionString: config.url, max: 10 });
    // An idle connection that the server ends (restart, failover, admin) is reported here, after
    // the pool has dropped it; the next query opens a new one. Unlistened, Node would treat the
    // event as an uncaught exception and the whole service would exit.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return db;
}

type Statements = ReadonlyArray<readonly [sqlText: string, values: readonly unknown[]]>;

/**
 * A SQLite store's reads without Kysely's asynchronous round (its connection lock, promises and
 * result copy: about a third of a Show Cluster's store time, `npm run bench:api`); undefined for
 * PostgreSQL. better-sqlite3 runs a statement synchronously, so a read cannot interleave with
 * another statement; only while a transaction is open (Kysely holds the one connection across
 * awaits) would it see uncommitted rows, so then each method answers undefined and the caller
 * goes through Kysely, which waits for the transaction to end.
 */
export interface DirectReader {
  /**
   * The rows of each statement, in order, read in one read transaction: one snapshot, and one
   * acquisition of SQLite's WAL read lock (taken per statement it cost ~8 µs each, a fifth of
   * Show Cluster's store time).
   */
  read(statements: Statements): unknown[][] | undefined;
  /** As read(), with the store's version (see version()) that the rows are of. */
  readVersioned(statements: Statements): { rows: unknown[][]; version: string } | undefined;
  /**
   * The store's version now: it changes with every commit of any connection to the file, this
   * one's (a count of its writing statements) and every other's (`PRAGMA data_version`, e.g.
   * `cachestore admin` or a test writing to the file). One statement, one read lock: what a
   * cache of rows checks before it answers.
   */
  version(): string | undefined;
}

const directReaders = new WeakMap<Kysely<Database>, DirectReader>();

export function directReaderOf(db: Kysely<Database>): DirectReader | undefined {
  return directReaders.get(db);
}

function directReader(sqlite: SQLite.Database, cached: CountingStatementCache): DirectReader {
  const begin = sqlite.prepare('BEGIN');
  const commit = sqlite.prepare('COMMIT');
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  const all = (sqlText: string, values: readonly unknown[]) => cached.prepare(sqlText).all(values as unknown[]) as unknown[];
  const inOneRead = <T>(f: () => T): T => {
    begin.run();
    try {
      return f();
    } finally {
      commit.run();
    }
  };
  // Another connection's commit shows in data_version; this one's own writes do not.
  const versionNow = () => `${String(dataVersion.get())}:${cached.writes()}`;
  return {
    read(statements) {
      if (sqlite.inTransaction) return undefined;
      if (statements.length === 1) return [all(...statements[0])];
      return inOneRead(() => statements.map(([sqlText, values]) => all(sqlText, values)));
    },
    readVersioned(statements) {
      if (sqlite.inTransaction) return undefined;
      return inOneRead(() => ({ version: versionNow(), rows: statements.map(([sqlText, values]) => all(sqlText, values)) }));
    },
    version() {
      return sqlite.inTransaction ? undefined : versionNow();
    },
  };
}

/** A statement cache that also counts the writing statements it handed out. */
export interface CountingStatementCache extends SqliteDatabase {
  /** How many statements that may write (not read-only) were prepared: this connection's writes. */
  writes(): number;
}

/**
 * The SQLite handle with its prepared statements kept by SQL text (the least recently used go
 * past `max`). Kysely's SQLite driver prepares every query anew: that was 13% of the service's
 * CPU under Show Cluster load (`npm run bench:api -- --profile`), for statements whose text
 * repeats. A statement is reusable because every execution is synchronous and runs to the end
 * (all/run; no streaming query holds one open), and SQLite re-prepares it by itself when a
 * migration changes the schema.
 */
export function withStatementCache(db: SQLite.Database, max = 500): CountingStatementCache {
  const cache = new Map<string, SQLite.Statement>();
  let writes = 0;
  return {
    close: () => db.close(),
    writes: () => writes,
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt) {
        // Most recently used last.
        cache.delete(text);
      } else {
        stmt = db.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, stmt);
      // Kysely prepares and runs a statement in one synchronous turn, so counting here counts
      // the write before any other read can run (a version read in between would miss it).
      if (!stmt.readonly) writes++;
      return stmt;
    },
  };
}
