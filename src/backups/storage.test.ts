import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalBackupStorage } from './storage.js';

describe('local backup storage', () => {
  let dir: string;
  let storage: LocalBackupStorage;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-storage-'));
    storage = new LocalBackupStorage(join(dir, 'store'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores a file with its size and SHA-256, and gives it back intact', async () => {
    const data = Buffer.from('REDIS0011' + 'x'.repeat(100_000));
    await writeFile(join(dir, 'dump.rdb'), data);
    const obj = await storage.put('c1/b1.rdb', join(dir, 'dump.rdb'));
    expect(obj).toEqual({ key: 'c1/b1.rdb', sizeBytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect(await storage.exists('c1/b1.rdb')).toBe(true);
    expect(await storage.list('c1/')).toEqual(['c1/b1.rdb']);
    await storage.get('c1/b1.rdb', join(dir, 'out.rdb'), obj.sha256);
    expect(await readFile(join(dir, 'out.rdb'))).toEqual(data);
    await storage.delete('c1/b1.rdb');
    expect(await storage.exists('c1/b1.rdb')).toBe(false);
  });

  it('refuses to hand out a damaged backup', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'original');
    const obj = await storage.put('c1/b2.rdb', join(dir, 'dump.rdb'));
    await writeFile(join(dir, 'store', 'c1', 'b2.rdb'), 'tampered');
    await expect(storage.get('c1/b2.rdb', join(dir, 'out.rdb'), obj.sha256)).rejects.toThrow(/damaged/);
  });

  it('never counts a partial copy as a backup, and sweeps it', async () => {
    await expect(storage.put('c1/b3.rdb', join(dir, 'missing.rdb'))).rejects.toThrow();
    expect(await storage.list('')).toEqual([]);
    // What a crash mid-copy leaves: a .partial file.
    await writeFile(join(dir, 'dump.rdb'), 'x');
    await storage.put('c1/b4.rdb', join(dir, 'dump.rdb'));
    await writeFile(join(dir, 'store', 'c1', 'b5.rdb.partial'), 'half');
    expect(await storage.list('c1/')).toEqual(['c1/b4.rdb']);
    expect(await storage.sweep()).toBe(1);
  });

  it('refuses keys that would escape its directory', async () => {
    await writeFile(join(dir, 'dump.rdb'), 'x');
    for (const key of ['../x.rdb', 'a/../../x', '/abs', 'a//b']) await expect(storage.put(key, join(dir, 'dump.rdb'))).rejects.toThrow(/invalid backup key/);
  });
});
