// The append-style entry of the write-log stores (begin, append), for a log whose engine files
// are not on this machine: the same behaviour from the local archive and from the object store
// (s3rver, a stand-in: test/support/s3-server.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../../test/support/s3-server.js';
import { LogArchive } from './log-archive.js';
import { S3Bucket } from './s3-bucket.js';
import { ShippedWriteLogs } from './shipped-write-logs.js';
import type { WriteLogStore } from './storage.js';

const CLUSTER = 'c'.repeat(32);
const BACKUP = 'b'.repeat(32);

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.stop();
});

let n = 0;
const kinds: Record<string, (dir: string) => WriteLogStore> = {
  local: (dir) => new LogArchive(join(dir, 'wal-archive')),
  s3: (dir) => new ShippedWriteLogs(new S3Bucket(s3.settings(`append${n++}-${process.pid}`)), join(dir, 'spool')),
};

describe.each(Object.keys(kinds))('appending to a write log kept by the %s store', (kind) => {
  let dir: string;
  let logs: WriteLogStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'log-append-'));
    logs = kinds[kind](dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds each byte once, in order, with the state and identity its writer gave', async () => {
    const name = await logs.begin(CLUSTER, BACKUP, 4242);
    expect(name).toBe(`${CLUSTER}/${BACKUP}.incr.aof`);
    expect(await logs.identity(name)).toBe(4242);
    expect(await logs.state(name)).toMatchObject({ live: true });
    const t1 = new Date('2026-12-01T10:00:01Z');
    await logs.append(name, 0, Buffer.from('SET a 1\n'), { live: true, lastWriteAt: t1 });
    // The same append again (its answer was lost), then one overlapping it: nothing twice.
    await logs.append(name, 0, Buffer.from('SET a 1\n'), { live: true, lastWriteAt: t1 });
    await logs.append(name, 4, Buffer.from('a 1\nSET b 2\n'), { live: true, lastWriteAt: new Date('2026-12-01T10:00:02Z') });
    await expect(logs.append(name, 100, Buffer.from('SET z 9\n'), { live: true, lastWriteAt: t1 })).rejects.toThrow(/holds 16 bytes: an append at 100 would leave a gap/);
    const closedAt = new Date('2026-12-01T10:00:03Z');
    await logs.append(name, 16, Buffer.from('SET c 3\n'), { live: false, lastWriteAt: closedAt });
    expect(await logs.state(name)).toEqual({ live: false, lastWriteAt: closedAt });
    await logs.copyOut(name, join(dir, 'out.aof'));
    expect(await readFile(join(dir, 'out.aof'), 'utf8')).toBe('SET a 1\nSET b 2\nSET c 3\n');
    await logs.remove(name);
    expect(await logs.state(name)).toBeNull();
    expect(await logs.identity(name)).toBeNull();
  });

  it('refuses an append to a log that was not begun', async () => {
    await expect(logs.append(`${CLUSTER}/${'d'.repeat(32)}.incr.aof`, 0, Buffer.from('x'), { live: true, lastWriteAt: new Date() })).rejects.toThrow(/was not begun/);
  });
});
