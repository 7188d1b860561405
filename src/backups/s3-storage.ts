// Backups in an S3-compatible object store (CACHESTORE_BACKUP_STORAGE=s3). The same promises as
// the local directory (storage.ts): an object is visible under its key only once its upload
// completed (S3 itself guarantees that: a PUT or a multipart completion is atomic), every read
// checks the SHA-256 recorded when the backup was verified, and write logs follow the backups
// (shipped-write-logs.ts).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { S3Bucket, explainS3Error, type S3Settings } from './s3-bucket.js';
import { ShippedWriteLogs } from './shipped-write-logs.js';
import { copyChecked, type BackupStorage, type StoredObject } from './storage.js';

function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '' || p === '.')) {
    throw new Error(`invalid backup key '${key}'`);
  }
  return key;
}

export class S3BackupStorage implements BackupStorage {
  readonly logs: ShippedWriteLogs;

  /** `spoolDir` must be on the engines' filesystem: live logs are kept there by hard link until shipped. */
  constructor(
    readonly bucket: S3Bucket,
    spoolDir: string,
  ) {
    this.logs = new ShippedWriteLogs(bucket, spoolDir);
  }

  /** The backups' objects, beside the `logs/` of the write logs. */
  private key(key: string): string {
    return `backups/${checkKey(key)}`;
  }

  async put(key: string, fromFile: string): Promise<StoredObject> {
    const k = this.key(key);
    const { size } = await stat(fromFile);
    await this.bucket.upload(k, createReadStream(fromFile, { highWaterMark: 1024 * 1024 }), size);
    return { key, sizeBytes: size };
  }

  async putStream(key: string, source: Readable): Promise<StoredObject> {
    const k = this.key(key);
    let size = 0;
    const counted = source.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          done(null, chunk);
        },
      }),
    );
    // pipe() does not pass errors on: the upload must see the source fail, not a short end.
    source.once('error', (err) => counted.destroy(err));
    await this.bucket.upload(k, counted);
    return { key, sizeBytes: size };
  }

  /** An acknowledged PUT (or multipart completion) is already durable in the store: nothing to do. */
  async sync(key: string): Promise<void> {
    checkKey(key);
  }

  async get(key: string, toFile: string, sha256: string | null): Promise<string> {
    const body = await this.bucket.read(this.key(key));
    if (!body) throw new Error(`backup ${key} is not in the object store (${this.bucket.describe()})`);
    return copyChecked(key, body, toFile, sha256);
  }

  async delete(key: string): Promise<void> {
    await this.bucket.delete(this.key(key));
  }

  /**
   * Aborts the multipart uploads a crash left under this service's `backups/` and `logs/` (never
   * anything else a shared bucket holds). A store that does not list them (NotImplemented) keeps
   * their parts until its own lifecycle rule (AbortIncompleteMultipartUpload) removes them; they
   * are never visible as objects, so no partial backup is ever listed.
   */
  async sweep(): Promise<number> {
    let n = 0;
    for (const under of ['backups/', 'logs/']) n += (await this.bucket.abortUploads(under)) ?? 0;
    return n;
  }
}

/**
 * The storage for CACHESTORE_BACKUP_STORAGE=s3, after one HeadBucket: a wrong endpoint, bucket or
 * credential ends the start here, with what to set, not at the first backup.
 */
export async function openS3Storage(settings: S3Settings, spoolDir: string): Promise<S3BackupStorage> {
  const bucket = new S3Bucket(settings);
  try {
    await bucket.check();
  } catch (err) {
    bucket.destroy();
    throw new Error(`the bucket ${bucket.describe()} cannot be used: ${explainS3Error(err)}`);
  }
  return new S3BackupStorage(bucket, spoolDir);
}
