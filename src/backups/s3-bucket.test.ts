// The sweep's abort of multipart uploads a crash left (S3Bucket.abortUploads). s3rver, the
// tests' stand-in store, does not list multipart uploads, and no real store can run here: so this
// runs against a FAKE, an in-process HTTP server answering only ListMultipartUploads (two uploads
// a page, as S3 pages them) and AbortMultipartUpload, as the S3 API documents them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { S3Bucket } from './s3-bucket.js';

interface Upload {
  key: string;
  id: string;
}

/** A FAKE multipart-upload listing of one bucket; `notImplemented`: answers as a store without it. */
async function fakeMultipartStore(uploads: Upload[], notImplemented = false): Promise<{ server: Server; endpoint: string; uploads: Upload[] }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const [, bucket, ...key] = url.pathname.split('/');
    if (notImplemented) {
      res.writeHead(501, { 'content-type': 'application/xml' }).end('<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>');
      return;
    }
    if (req.method === 'GET' && url.searchParams.has('uploads')) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const marker = url.searchParams.get('key-marker') ?? '';
      const idMarker = url.searchParams.get('upload-id-marker') ?? '';
      const all = uploads.filter((u) => u.key.startsWith(prefix)).sort((a, b) => (a.key + a.id < b.key + b.id ? -1 : 1));
      const after = marker ? all.filter((u) => u.key > marker || (u.key === marker && u.id > idMarker)) : all;
      const page = after.slice(0, 2);
      const truncated = after.length > 2;
      const last = page.at(-1);
      res.writeHead(200, { 'content-type': 'application/xml' }).end(
        `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${bucket}</Bucket><IsTruncated>${truncated}</IsTruncated>` +
          (truncated && last ? `<NextKeyMarker>${last.key}</NextKeyMarker><NextUploadIdMarker>${last.id}</NextUploadIdMarker>` : '') +
          page.map((u) => `<Upload><Key>${u.key}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
          '</ListMultipartUploadsResult>',
      );
      return;
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      const k = decodeURIComponent(key.join('/'));
      const i = uploads.findIndex((u) => u.key === k && u.id === url.searchParams.get('uploadId'));
      if (i >= 0) uploads.splice(i, 1);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(400).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads };
}

describe('aborting the multipart uploads a crash left', () => {
  let server: Server | undefined;
  let bucket: S3Bucket | undefined;
  afterEach(async () => {
    bucket?.destroy();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });
  const open = (endpoint: string, prefix: string) => new S3Bucket({ bucket: 'b', endpoint, region: 'us-east-1', prefix, forcePathStyle: true, accessKeyId: 'k', secretAccessKey: 's' });

  it('aborts every one under the prefix and folder asked, page after page, and leaves the others', async () => {
    const fake = await fakeMultipartStore([
      { key: 'svc/backups/c1/b1.rdb', id: 'u1' },
      { key: 'svc/backups/c1/b2.rdb', id: 'u2' },
      { key: 'svc/backups/c2/b3.rdb', id: 'u3' },
      { key: 'svc/logs/c2/x.incr.aof/0000000000000000-0000000009437184', id: 'u4' },
      { key: 'other/backups/c1/b1.rdb', id: 'u5' },
      { key: 'svc/not-ours.bin', id: 'u6' },
    ]);
    server = fake.server;
    bucket = open(fake.endpoint, 'svc/');
    expect(await bucket.abortUploads('backups/')).toBe(3);
    expect(await bucket.abortUploads('logs/')).toBe(1);
    expect(fake.uploads).toEqual([
      { key: 'other/backups/c1/b1.rdb', id: 'u5' },
      { key: 'svc/not-ours.bin', id: 'u6' },
    ]);
    expect(await bucket.abortUploads('backups/')).toBe(0);
  });

  it('says it cannot when the store does not list them', async () => {
    const fake = await fakeMultipartStore([{ key: 'svc/backups/c1/b1.rdb', id: 'u1' }], true);
    server = fake.server;
    bucket = open(fake.endpoint, 'svc/');
    expect(await bucket.abortUploads('backups/')).toBeNull();
  });
});
