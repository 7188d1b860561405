import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listFiles } from '../../test/support/files.js';
import { LocalBackupStorage } from './storage.js';

describe('local backup storage', () => {
  let dir: string;
  let storage: LocalBackupStorage;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-storage-'));
    storage = new LocalBackupStorage(join(dir, 'store'), join(dir, 'wal-archive'));
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
    expect(await listFiles(join(dir, 'store'))).toEqual(['c1/b1.rdb']);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(await storage.get('c1/b1.rdb', join(dir, 'out.rdb'), null)).toBe(sha);
    expect((await readFile(join(dir, 'out.rdb'))).equals(data)).toBe(true);
    expect(await storage.get('c1/b1.rdb', join(dir, 'out2.rdb'), sha)).toBe(sha);
    await storage.delete('c1/b1.rdb');
    expect(await listFiles(join(dir, 'store'))).toEqual([]);
  });

  it('refuses to hand out a damaged backup', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'original');
    await storage.put('c1/b2.rdb', join(dir, 'dump.rdb'));
    const sha = await storage.get('c1/b2.rdb', join(dir, 'first.rdb'), null);
    await writeFile(join(dir, 'store', 'c1', 'b2.rdb'), 'tampered');
    await expect(storage.get('c1/b2.rdb', join(dir, 'out.rdb'), sha)).rejects.toThrow(/damaged/);
    expect(existsSync(join(dir, 'out.rdb'))).toBe(false);
  });

  it('never counts a partial copy as a backup, and sweeps it', async () => {
    await expect(storage.put('c1/b3.rdb', join(dir, 'missing.rdb'))).rejects.toThrow();
    expect(await listFiles(join(dir, 'store'))).toEqual([]);
    // What a crash mid-copy leaves: a .partial file.
    await writeFile(join(dir, 'dump.rdb'), 'x');
    await storage.put('c1/b4.rdb', join(dir, 'dump.rdb'));
    await writeFile(join(dir, 'store', 'c1', 'b5.rdb.partial'), 'half');
    expect(await storage.sweep()).toBe(1);
    expect(await listFiles(join(dir, 'store'))).toEqual(['c1/b4.rdb']);
  });

  it('stores a stream as it arrives, and nothing under the key when the stream fails', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(256 * 1024, i));
    const obj = await storage.putStream('c1/s1.rdb', Readable.from(chunks));
    expect(obj).toEqual({ key: 'c1/s1.rdb', sizeBytes: 40 * 256 * 1024 });
    const sha = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    expect(await storage.get('c1/s1.rdb', join(dir, 'out.rdb'), sha)).toBe(sha);
    async function* broken() {
      yield Buffer.from('half a snapshot');
      throw new Error('the pod went away');
    }
    await expect(storage.putStream('c1/s2.rdb', Readable.from(broken()))).rejects.toThrow(/pod went away/);
    expect(await listFiles(join(dir, 'store'))).toEqual(['c1/s1.rdb']);
  });

  it('refuses keys that would escape its directory', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'x');
    for (const key of ['../x.rdb', 'a/../../x', '/abs', 'a//b']) await expect(storage.put(key, join(dir, 'dump.rdb'))).rejects.toThrow(/invalid backup key/);
  });
});
