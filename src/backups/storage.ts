// Where backups are kept. The service writes and reads backup files only through this
// interface, so an object store can be added beside the local directory without touching the
// workflows. Every put computes size and SHA-256 while it copies, and a file becomes visible
// under its key only once complete (written to a temporary name, then renamed): a crash mid-copy
// never leaves a partial file that counts as a backup.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredObject {
  key: string;
  sizeBytes: number;
  sha256: string;
}

export interface BackupStorage {
  /** Copies a local file in under `key`. */
  put(key: string, fromFile: string): Promise<StoredObject>;
  /** Copies the object out to a local file, checking its SHA-256. */
  get(key: string, toFile: string, sha256: string): Promise<void>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix (complete objects only). */
  list(prefix: string): Promise<string[]>;
  /** Removes temporary files a crash left behind. */
  sweep(): Promise<number>;
}

const TEMP_SUFFIX = '.partial';

function hashing(hash: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      count.n += chunk.length;
      done(null, chunk);
    },
  });
}

export class LocalBackupStorage implements BackupStorage {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '')) {
      throw new Error(`invalid backup key '${key}'`);
    }
    return join(this.root, key);
  }

  async put(key: string, fromFile: string): Promise<StoredObject> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}${TEMP_SUFFIX}`;
    const hash = createHash('sha256');
    const count = { n: 0 };
    try {
      await pipeline(createReadStream(fromFile), hashing(hash, count), createWriteStream(temp, { mode: 0o600 }));
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { key, sizeBytes: count.n, sha256: hash.digest('hex') };
  }

  async get(key: string, toFile: string, sha256: string): Promise<void> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.path(key)), hashing(hash, { n: 0 }), createWriteStream(toFile, { mode: 0o600 }));
    const got = hash.digest('hex');
    if (got !== sha256) {
      await rm(toFile, { force: true });
      throw new Error(`backup ${key} is damaged: its checksum is ${got}, ${sha256} was recorded`);
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch {
      return false;
    }
  }

  private async walk(dir: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await this.walk(p)));
      else out.push(p);
    }
    return out;
  }

  async list(prefix: string): Promise<string[]> {
    const files = await this.walk(this.root);
    return files
      .map((f) => relative(this.root, f).split(sep).join('/'))
      .filter((k) => k.startsWith(prefix) && !k.endsWith(TEMP_SUFFIX))
      .sort();
  }

  async sweep(): Promise<number> {
    const partial = (await this.walk(this.root)).filter((f) => f.endsWith(TEMP_SUFFIX));
    await Promise.all(partial.map((f) => rm(f, { force: true })));
    return partial.length;
  }
}
