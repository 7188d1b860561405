// `npm test` without a PostgreSQL server: the globalSetup, pointed at a port where nothing
// listens, starts a private server that the store tests can use (a database created the way
// test/support/databases.ts creates one, a store migrated on it), and its teardown stops it and
// removes its files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { SqlStore } from '../../src/store/sql-store.js';
import { createTestDatabase } from './databases.js';
import setup from './postgres-global-setup.js';
import { answers, freePort } from './test-postgres.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the test run\'s PostgreSQL when none answers at the probed address', () => {
  const saved = { url: process.env.CACHESTORE_TEST_PG_URL, probe: process.env.CACHESTORE_TEST_PG_PROBE_URL };
  let teardown: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await teardown?.();
    process.env.CACHESTORE_TEST_PG_URL = saved.url;
    if (saved.probe === undefined) delete process.env.CACHESTORE_TEST_PG_PROBE_URL;
    else process.env.CACHESTORE_TEST_PG_PROBE_URL = saved.probe;
  });

  it('starts a private server, hands its URL on, and stops and removes it at teardown', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    expect(await answers(closed, 1000)).toBe(false);
    delete process.env.CACHESTORE_TEST_PG_URL;
    process.env.CACHESTORE_TEST_PG_PROBE_URL = closed;

    teardown = await setup();
    const url = process.env.CACHESTORE_TEST_PG_URL;
    expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(url).not.toBe(closed);
    expect(await answers(url!)).toBe(true);
    // Where it keeps its files and which process it is, as the server itself says.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const dataDir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
    await client.end();
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(alive(pid)).toBe(true);
    expect(existsSync(dataDir)).toBe(true);

    // What the store tests do with it: a fresh database (ICU collation where the server has it), migrated.
    const db = await createTestDatabase('postgres');
    try {
      const store = new SqlStore(await openDatabase(db.config));
      expect(await store.listAccounts()).toEqual([]);
      await store.close();
    } finally {
      await db.cleanup();
    }

    const stop = teardown;
    teardown = undefined;
    await stop();
    expect(await answers(url!, 1000)).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});
