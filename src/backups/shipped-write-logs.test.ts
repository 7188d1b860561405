// Write logs shipped to an object store (s3rver, a stand-in: test/support/s3-server.ts). The
// "engine" is a real file that grows and whose name goes away, as an engine's AOF increment does
// at its next rewrite; the spool is the real hard link the local driver makes.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../../test/support/s3-server.js';
import { S3Bucket } from './s3-bucket.js';
import { ShippedWriteLogs } from './shipped-write-logs.js';

const CLUSTER = 'c'.repeat(32);
const BACKUP = 'b'.repeat(32);
const NAME = `${CLUSTER}/${BACKUP}.incr.aof`;

/** A bucket whose head writes fail while `failHeads` is set: a process that dies between a segment and its head. */
class CrashingBucket extends S3Bucket {
  failHeads = false;
  override async putBytes(key: string, data: Buffer | string): Promise<void> {
    if (this.failHeads && key.endsWith('/head')) throw new Error('killed before the head was written');
    return super.putBytes(key, data);
  }
}

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.stop();
});

describe('write logs shipped to an object store', () => {
  let dir: string;
  let engineFile: string;
  let prefix: string;
  let n = 0;
  const spool = () => join(dir, 'wal-archive');
  const logs = (bucket?: S3Bucket) => new ShippedWriteLogs(bucket ?? new S3Bucket(s3.settings(prefix)), spool());
  const objects = async () => (await s3.bucketClient(prefix).list('')).map((o) => o.key);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipped-logs-'));
    prefix = `run${n++}-${process.pid}/`;
    await mkdir(join(dir, 'node', 'appendonlydir'), { recursive: true });
    engineFile = join(dir, 'node', 'appendonlydir', 'appendonly.aof.2.incr.aof');
    await writeFile(engineFile, '');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ships a live log as it grows, drops the spool once it is closed and shipped, and gives back every byte from the store', async () => {
    const a = logs();
    expect(await a.keepLive(CLUSTER, BACKUP, engineFile)).toBe(NAME);
    const ino = (await stat(engineFile)).ino;
    await appendFile(engineFile, 'A'.repeat(1000));
    expect(await a.ship()).toBe(1000);
    await appendFile(engineFile, 'B'.repeat(500));
    expect(await a.ship()).toBe(500);
    // Nothing new: no segment.
    expect(await a.ship()).toBe(0);
    expect(await objects()).toEqual([`logs/${NAME}/0000000000000000-0000000000001000`, `logs/${NAME}/0000000000001000-0000000000001500`, `logs/${NAME}/head`]);
    expect(await a.state(NAME)).toMatchObject({ live: true });
    expect(await a.identity(NAME)).toBe(ino);

    // A write the timer has not shipped yet: copyOut ships it first.
    await appendFile(engineFile, 'C'.repeat(10));
    await a.copyOut(NAME, join(dir, 'live-copy.aof'));
    expect(await readFile(join(dir, 'live-copy.aof'), 'utf8')).toBe('A'.repeat(1000) + 'B'.repeat(500) + 'C'.repeat(10));
    expect(await objects()).toContain(`logs/${NAME}/0000000000001500-0000000000001510`);

    // The engine's rewrite drops its name: the log is closed.
    const lastWrite = (await stat(engineFile)).mtime;
    await unlink(engineFile);
    expect(await a.ship()).toBe(0);
    expect(existsSync(join(spool(), NAME))).toBe(false);

    // Another process (nothing cached, no spool) answers from the store alone.
    const b = logs();
    expect(await b.state(NAME)).toEqual({ live: false, lastWriteAt: lastWrite });
    expect(await b.identity(NAME)).toBe(ino);
    await b.copyOut(NAME, join(dir, 'restored.aof'));
    expect(await readFile(join(dir, 'restored.aof'), 'utf8')).toBe('A'.repeat(1000) + 'B'.repeat(500) + 'C'.repeat(10));

    await b.remove(NAME);
    expect(await objects()).toEqual([]);
    expect(await b.state(NAME)).toBeNull();
    await expect(b.copyOut(NAME, join(dir, 'gone.aof'))).rejects.toThrow(/is not in the object store/);
  });

  it('does not duplicate or lose bytes when a process dies between a segment and its head', async () => {
    const bucket = new CrashingBucket(s3.settings(prefix));
    const a = logs(bucket);
    await a.keepLive(CLUSTER, BACKUP, engineFile);
    await appendFile(engineFile, 'x'.repeat(1000));
    await a.ship();
    await appendFile(engineFile, 'y'.repeat(700));
    bucket.failHeads = true;
    await expect(a.ship()).rejects.toThrow(/killed before the head was written/);
    // The segment went out, the head still says 1000.
    expect(await objects()).toContain(`logs/${NAME}/0000000000001000-0000000000001700`);

    // The next process ships again from the head's count: a segment overlapping the orphan.
    await appendFile(engineFile, 'z'.repeat(300));
    const b = logs();
    expect(await b.ship()).toBe(1000);
    await unlink(engineFile);
    await b.ship();
    expect(existsSync(join(spool(), NAME))).toBe(false);
    await logs().copyOut(NAME, join(dir, 'restored.aof'));
    expect(await readFile(join(dir, 'restored.aof'), 'utf8')).toBe('x'.repeat(1000) + 'y'.repeat(700) + 'z'.repeat(300));
  });

  it('joins many segments in order (fetched a few ahead), one of them larger than what is fetched ahead', async () => {
    const a = logs();
    await a.keepLive(CLUSTER, BACKUP, engineFile);
    const parts: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      // Segment 20 is 9 MiB: streamed in its turn, between buffered ones.
      const part = Buffer.alloc(i === 20 ? 9 * 1024 * 1024 : 100 + i, String.fromCharCode(65 + (i % 26)));
      parts.push(part);
      await appendFile(engineFile, part);
      await a.ship();
    }
    await unlink(engineFile);
    await a.ship();
    expect((await objects()).length).toBe(31);
    await logs().copyOut(NAME, join(dir, 'restored.aof'));
    expect((await readFile(join(dir, 'restored.aof'))).equals(Buffer.concat(parts))).toBe(true);
  });

  it('refuses a log whose segments are missing, instead of restoring fewer writes', async () => {
    const a = logs();
    await a.keepLive(CLUSTER, BACKUP, engineFile);
    await appendFile(engineFile, 'x'.repeat(100));
    await a.ship();
    await appendFile(engineFile, 'y'.repeat(100));
    await unlink(engineFile);
    await a.ship();
    await s3.bucketClient(prefix).delete(`logs/${NAME}/0000000000000000-0000000000000100`);
    await expect(logs().copyOut(NAME, join(dir, 'out.aof'))).rejects.toThrow(/is damaged: the object store holds its bytes up to 0, 200 were shipped/);
    expect(existsSync(join(dir, 'out.aof'))).toBe(false);
  });

  it('removes a whole cluster\'s logs, spooled and shipped', async () => {
    const a = logs();
    await a.keepLive(CLUSTER, BACKUP, engineFile);
    await appendFile(engineFile, 'x'.repeat(100));
    await a.ship();
    const other = join(dir, 'node', 'appendonlydir', 'appendonly.aof.3.incr.aof');
    await writeFile(other, 'y');
    await a.keepLive(CLUSTER, 'd'.repeat(32), other);
    await a.ship();
    expect((await objects()).length).toBe(4);
    await a.removeCluster(CLUSTER);
    expect(await objects()).toEqual([]);
    expect(existsSync(join(spool(), CLUSTER))).toBe(false);
    // The engine's own files are the engine's.
    expect(existsSync(engineFile)).toBe(true);
  });
});
