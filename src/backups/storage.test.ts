// The same behaviour asked of every backup storage: the local directory, and an S3 object store
// (s3rver, a stand-in started by this file: test/support/s3-server.ts).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listFiles } from '../../test/support/files.js';
import { startTestS3, type TestS3 } from '../../test/support/s3-server.js';
import { S3Bucket } from './s3-bucket.js';
import { S3BackupStorage } from './s3-storage.js';
import { LocalBackupStorage, type BackupStorage } from './storage.js';

interface Kind {
  storage: BackupStorage;
  /** The backup keys stored, sorted. */
  list(): Promise<string[]>;
  /** Changes the stored bytes behind the storage's back. */
  tamper(key: string, data: string): Promise<void>;
  /** What a crash mid-upload leaves behind; returns whether the storage's sweep can see it. */
  crashMidUpload(key: string): Promise<boolean>;
}

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.stop();
});

const kinds: Record<string, (dir: string) => Kind> = {
  local(dir) {
    const store = join(dir, 'store');
    return {
      storage: new LocalBackupStorage(store, join(dir, 'wal-archive')),
      list: () => listFiles(store),
      tamper: (key, data) => writeFile(join(store, key), data),
      async crashMidUpload(key) {
        await writeFile(join(store, `${key}.partial`), 'half');
        return true;
      },
    };
  },
  s3(dir) {
    // A prefix of its own per test: the bucket is shared by the file's tests.
    const prefix = `t${dir.slice(-6).replace(/[^A-Za-z0-9]/g, '')}/`;
    const look = s3.bucketClient(prefix);
    return {
      storage: new S3BackupStorage(new S3Bucket(s3.settings(prefix)), join(dir, 'spool')),
      list: async () => (await look.list('backups/')).map((o) => o.key.slice('backups/'.length)),
      tamper: (key, data) => look.putBytes(`backups/${key}`, data),
      async crashMidUpload(key) {
        // A multipart upload begun and never completed: its parts are no object.
        const { CreateMultipartUploadCommand, UploadPartCommand } = await import('@aws-sdk/client-s3');
        const up = await look.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}backups/${key}` }));
        await look.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: `${prefix}backups/${key}`, UploadId: up.UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
        // s3rver does not list multipart uploads (NotImplemented), so its sweep finds none.
        return false;
      },
    };
  },
};

describe.each(Object.keys(kinds))('%s backup storage', (kind) => {
  let dir: string;
  let k: Kind;
  let storage: BackupStorage;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-storage-'));
    k = kinds[kind](dir);
    storage = k.storage;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores a file with its size, and gives it back intact with its SHA-256', async () => {
    const data = Buffer.from('REDIS0011' + 'x'.repeat(10_000_000));
    await writeFile(join(dir, 'dump.rdb'), data);
    const obj = await storage.put('c1/b1.rdb', join(dir, 'dump.rdb'));
    expect(obj).toEqual({ key: 'c1/b1.rdb', sizeBytes: data.length });
    await storage.sync('c1/b1.rdb');
    expect(await k.list()).toEqual(['c1/b1.rdb']);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(await storage.get('c1/b1.rdb', join(dir, 'out.rdb'), null)).toBe(sha);
    expect((await readFile(join(dir, 'out.rdb'))).equals(data)).toBe(true);
    expect(await storage.get('c1/b1.rdb', join(dir, 'out2.rdb'), sha)).toBe(sha);
    await storage.delete('c1/b1.rdb');
    expect(await k.list()).toEqual([]);
    // Deleting again (a repeated step) is no error.
    await storage.delete('c1/b1.rdb');
  });

  it('refuses to hand out a damaged backup', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'original');
    await storage.put('c1/b2.rdb', join(dir, 'dump.rdb'));
    const sha = await storage.get('c1/b2.rdb', join(dir, 'first.rdb'), null);
    await k.tamper('c1/b2.rdb', 'tampered');
    await expect(storage.get('c1/b2.rdb', join(dir, 'out.rdb'), sha)).rejects.toThrow(/damaged/);
    expect(existsSync(join(dir, 'out.rdb'))).toBe(false);
  });

  it('never counts a partial copy as a backup, and sweeps what it can see', async () => {
    await expect(storage.put('c1/b3.rdb', join(dir, 'missing.rdb'))).rejects.toThrow();
    expect(await k.list()).toEqual([]);
    await writeFile(join(dir, 'dump.rdb'), 'x');
    await storage.put('c1/b4.rdb', join(dir, 'dump.rdb'));
    const visible = await k.crashMidUpload('c1/b5.rdb');
    expect(await storage.sweep()).toBe(visible ? 1 : 0);
    expect(await k.list()).toEqual(['c1/b4.rdb']);
  });

  it('stores a stream as it arrives, and nothing under the key when the stream fails', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(256 * 1024, i));
    const obj = await storage.putStream('c1/s1.rdb', Readable.from(chunks));
    expect(obj).toEqual({ key: 'c1/s1.rdb', sizeBytes: 40 * 256 * 1024 });
    const sha = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    expect(await storage.get('c1/s1.rdb', join(dir, 'out.rdb'), sha)).toBe(sha);
    async function* broken() {
      // More than one multipart part (8 MiB) before it fails, so the object store's upload is a multipart one.
      for (let i = 0; i < 12; i++) yield Buffer.alloc(1024 * 1024, i);
      throw new Error('the pod went away');
    }
    await expect(storage.putStream('c1/s2.rdb', Readable.from(broken()))).rejects.toThrow(/pod went away/);
    expect(await k.list()).toEqual(['c1/s1.rdb']);
  });

  it('refuses keys that would escape its directory', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'x');
    for (const key of ['../x.rdb', 'a/../../x', '/abs', 'a//b']) await expect(storage.put(key, join(dir, 'dump.rdb'))).rejects.toThrow(/invalid backup key/);
  });
});
