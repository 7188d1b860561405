// vitest globalSetup: the PostgreSQL server for the store tests (test/support/test-postgres.ts),
// handed to every test worker as CACHESTORE_TEST_PG_URL, and stopped when the run ends.
import { ensureTestPostgres, type TestPostgres } from './test-postgres.js';

export default async function setup(): Promise<() => Promise<void>> {
  let server: TestPostgres | undefined;
  try {
    server = await ensureTestPostgres();
    process.env.CACHESTORE_TEST_PG_URL = server.url;
    if (server.private) process.stderr.write(`store tests: no PostgreSQL answered at ${server.probed}; started a private one at ${server.url}\n`);
  } catch (err) {
    // Tests that need no PostgreSQL still run; the store tests fail naming this reason.
    process.stderr.write(`store tests: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return async () => {
    await server?.stop();
  };
}
