// withStatementCache (db.ts): a statement is prepared once per SQL text and reused, at most
// `max` are kept, and results stay those of the database as it is now.
import SQLite from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { directReaderOf, openDatabase, withStatementCache, type DirectReader } from './db.js';

let raw: SQLite.Database;
afterEach(() => raw?.close());

describe('withStatementCache', () => {
  it('prepares each SQL text once, and reads what was written since', () => {
    raw = new SQLite(':memory:');
    raw.exec('create table t (id integer primary key, v text)');
    const db = withStatementCache(raw);
    const select = db.prepare('select v from t where id = ?');
    expect(select.all([1])).toEqual([]);
    db.prepare('insert into t (id, v) values (?, ?)').run([1, 'a']);
    expect(db.prepare('select v from t where id = ?')).toBe(select);
    expect(select.all([1])).toEqual([{ v: 'a' }]);
  });

  it('keeps at most max statements, dropping the least recently used', () => {
    raw = new SQLite(':memory:');
    const db = withStatementCache(raw, 2);
    const one = db.prepare('select 1');
    const two = db.prepare('select 2');
    expect(db.prepare('select 1')).toBe(one); // 'select 2' is now the least recently used
    db.prepare('select 3');
    expect(db.prepare('select 1')).toBe(one);
    expect(db.prepare('select 2')).not.toBe(two);
  });

  it('a statement prepared before a schema change still runs after it', () => {
    raw = new SQLite(':memory:');
    raw.exec('create table t (id integer primary key)');
    const db = withStatementCache(raw);
    db.prepare('insert into t (id) values (?)').run([1]);
    const select = db.prepare('select * from t');
    raw.exec('alter table t add column v text');
    expect(db.prepare('select * from t')).toBe(select);
    expect(select.all([])).toEqual([{ id: 1, v: null }]);
  });
});

describe('direct reads (directReaderOf)', () => {
  it('never see what an open transaction wrote: they wait for it through Kysely', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cachestore-direct-'));
    const db = await openDatabase({ kind: 'sqlite', file: join(dir, 'store.db') });
    try {
      const read = (statements: Parameters<DirectReader['read']>[0]) => directReaderOf(db)!.read(statements);
      const q = 'select name from accounts where id = ?';
      expect(read([[q, ['a1']]])).toEqual([[]]);
      let readDuring: unknown[] | undefined | 'none' = 'none';
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('accounts').values({ id: 'a1', name: 'one', created_at: 'now' }).execute();
        readDuring = read([[q, ['a1']]]);
      });
      // Inside the transaction the direct path declined (undefined), rather than read the row.
      expect(readDuring).toBeUndefined();
      expect(read([[q, ['a1']]])).toEqual([[{ name: 'one' }]]);
      // Several statements read one snapshot, and leave no transaction open behind them.
      expect(read([[q, ['a1']], ['select count(*) as n from accounts', []]])).toEqual([[{ name: 'one' }], [{ n: 1 }]]);
      await db.insertInto('accounts').values({ id: 'a2', name: 'two', created_at: 'now' }).execute();
    } finally {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
