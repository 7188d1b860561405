// The election loop on a real store (a SQLite file; PostgreSQL's statement is the same and is
// covered in sql-store.test.ts): one leads, a clean stop hands over at once, and a leader whose
// store stops answering stops its duties before the lease can be anyone else's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/databases.js';
import type { LeadershipStore } from '../domain/ports.js';
import { openDatabase } from '../store/db.js';
import { SqlStore } from '../store/sql-store.js';
import { LeaderElection } from './leader-election.js';

const TIMINGS = { leaseMs: 1000, renewMs: 200, marginMs: 300 };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let database: TestDatabase;
let store: SqlStore;

beforeAll(async () => {
  database = await createTestDatabase('sqlite');
  store = new SqlStore(await openDatabase(database.config));
});
afterAll(async () => {
  await store?.close();
  await database?.cleanup();
});

/** An election that records when it started and stopped its duties. */
function candidate(id: string, s: LeadershipStore = store) {
  const log: Array<{ what: 'lead' | 'resign'; at: number }> = [];
  const election = new LeaderElection({
    store: s,
    id,
    logger: quiet,
    timings: TIMINGS,
    lead: async () => void log.push({ what: 'lead', at: Date.now() }),
    resign: async () => void log.push({ what: 'resign', at: Date.now() }),
  });
  return { election, log };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('leader election', () => {
  it('lets one of two lead; a clean stop hands the duties to the other at once', async () => {
    const a = candidate('a');
    const b = candidate('b');
    await a.election.start();
    await b.election.start();
    expect(a.election.isLeading()).toBe(true);
    expect(b.election.isLeading()).toBe(false);
    // Renewals keep it: after several lease lengths nothing changed.
    await new Promise((r) => setTimeout(r, 2 * TIMINGS.leaseMs));
    expect(a.log.map((e) => e.what)).toEqual(['lead']);
    expect(b.log).toEqual([]);

    const stoppedAt = Date.now();
    await a.election.stop();
    expect(a.log.map((e) => e.what)).toEqual(['lead', 'resign']);
    await until('b leads', () => b.election.isLeading());
    // Given up, not expired: within a renewal period or two, not a lease.
    expect(b.log[0].at - stoppedAt).toBeLessThan(TIMINGS.leaseMs);
    await b.election.stop();
  });

  it('a leader whose store stops answering stops its duties before another can take them', async () => {
    let stalled = false;
    // The real store, except that once stalled its answers never come (a cut-off network).
    const cutOff: LeadershipStore = {
      takeLeadership: (...a) => (stalled ? new Promise(() => undefined) : store.takeLeadership(...a)),
      renewLeadership: (...a) => (stalled ? new Promise(() => undefined) : store.renewLeadership(...a)),
      releaseLeadership: (...a) => store.releaseLeadership(...a),
    };
    const a = candidate('a', cutOff);
    const b = candidate('b');
    await a.election.start();
    await b.election.start();
    expect(a.election.isLeading()).toBe(true);
    stalled = true;
    await until('b leads', () => b.election.isLeading(), 5000);
    const resigned = a.log.find((e) => e.what === 'resign');
    expect(resigned).toBeDefined();
    expect(a.election.isLeading()).toBe(false);
    expect(resigned!.at).toBeLessThanOrEqual(b.log[0].at);
    await b.election.stop();
  });
});
