// The few calls of the S3 API that backup storage makes, on one bucket under one key prefix.
// Any S3-compatible store will do (AWS S3, MinIO, Ceph RGW...): the endpoint, region and
// path-style addressing are configuration. Imported only when CACHESTORE_BACKUP_STORAGE=s3
// (backups/index.ts): the SDK costs start-up CPU that the local storage should not pay.
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { S3Config } from '../config.js';

/** The store's settings, as configuration reads them (CACHESTORE_S3_*). */
export type S3Settings = S3Config;

/** A multipart part: 8 MiB, two in flight, so an upload holds about 16 MiB whatever its size. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE = 2;

export interface ListedObject {
  /** Without the prefix. */
  key: string;
  size: number;
}

export class S3Bucket {
  readonly client: S3Client;

  constructor(readonly settings: S3Settings) {
    const config: S3ClientConfig = {
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      // SDK versions since early 2025 add a CRC32 checksum to every upload (a trailing header of
      // an aws-chunked body) and check one on every download. Many S3-compatible stores (older
      // MinIO and Ceph RGW, the test's stand-in) refuse the former or send none: only where an
      // operation requires one. The backups' own SHA-256 (storage.ts) still catches damage.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A store that stops answering must fail the call (and the timer's next ship retries), not
      // hang it: the SDK's default waits for ever. Idle, not total: a big upload keeps sending.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    if (settings.accessKeyId && settings.secretAccessKey) {
      config.credentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey };
    }
    this.client = new S3Client(config);
  }

  /** Where the objects are, for messages: never the credentials. */
  describe(): string {
    return `s3://${this.settings.bucket}/${this.settings.prefix}${this.settings.endpoint ? ` at ${this.settings.endpoint}` : ''}`;
  }

  private full(key: string): string {
    return this.settings.prefix + key;
  }

  /** One call that needs the bucket, the endpoint and the credentials all right. */
  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
  }

  /**
   * Uploads what `body` yields under `key`, in parts as it arrives (never whole in memory). An
   * S3 object appears only once its PUT or its multipart completion succeeds: a failed upload
   * leaves nothing under the key (its parts are aborted, or swept later).
   */
  async upload(key: string, body: Readable, contentLength?: number): Promise<void> {
    if (contentLength !== undefined && contentLength <= PART_SIZE) {
      // One PUT for small bodies of known length (write-log segments, mostly).
      await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key), Body: body, ContentLength: contentLength }));
      return;
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: this.full(key), Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE,
    });
    // A source that fails mid-way must fail the upload, whatever lib-storage makes of it.
    const failed = new Promise<never>((_, reject) => body.once('error', reject));
    try {
      await Promise.race([upload.done(), failed]);
    } catch (err) {
      await upload.abort().catch(() => undefined);
      throw err;
    }
  }

  async putBytes(key: string, data: Buffer | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key), Body: data }));
  }

  /** The object's bytes from `start` on, as a stream; null when there is no such object. */
  async read(key: string, start = 0): Promise<Readable | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key), Range: start > 0 ? `bytes=${start}-` : undefined }));
      return r.Body as Readable;
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async readBytes(key: string): Promise<Buffer | null> {
    const body = await this.read(key);
    if (!body) return null;
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Deleting what is not there succeeds, as S3 itself answers. */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.full(key) }));
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }

  /** Every object whose key starts with `under`, in key order. */
  async list(under: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.full(under), ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(this.settings.prefix.length), size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Aborts the multipart uploads under `under` (keys below the prefix): what a process killed
   * mid-upload leaves, parts that are stored, and billed, but belong to no object. Null when the
   * store does not list them (it answers NotImplemented): then only its own lifecycle rule can
   * remove them.
   */
  async abortUploads(under: string): Promise<number | null> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      let r;
      try {
        r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: this.full(under), KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      } catch (err) {
        if (notImplemented(err)) return null;
        throw err;
      }
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      if (!r.IsTruncated) return aborted;
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function notFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

function notImplemented(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || statusOf(err) === 501 || statusOf(err) === 405;
}

/** An SDK error in words a person can act on (the status says which setting is wrong). */
export function explainS3Error(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string };
  const status = statusOf(err);
  const what = [e.name && !['Error', 'Unknown', 'UnknownError'].includes(e.name) ? e.name : e.code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  const hint =
    status === 403 || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch'
      ? 'check CACHESTORE_S3_ACCESS_KEY_ID / CACHESTORE_S3_SECRET_ACCESS_KEY'
      : status === 404 || e.name === 'NoSuchBucket'
        ? 'the bucket does not exist: create it, or check CACHESTORE_S3_BUCKET'
        : status === 301 || e.name === 'PermanentRedirect'
          ? 'the bucket is in another region: check CACHESTORE_S3_REGION'
          : status === undefined
            ? 'the store did not answer: check CACHESTORE_S3_ENDPOINT'
            : undefined;
  const msg = e.message && e.message !== 'UnknownError' && e.message !== e.name ? e.message : '';
  return [what, msg, hint].filter(Boolean).join(': ');
}
