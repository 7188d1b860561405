// Backups in an S3-compatible object store, with the whole service: s3rver (a STAND-IN for
// MinIO, Ceph RGW or AWS S3: test/support/s3-server.ts) holds the backups and the shipped write
// logs, and a point-in-time restore reads them back, also once the service's own spool of the
// (closed) log is gone.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startService } from '../../src/service.js';
import { fill, readAll, writeWithinOneSecond } from '../support/dataset.js';
import { listFiles } from '../support/files.js';
import { createBody, engineVersions, startHarness, type Harness } from '../support/harness.js';
import { startTestS3, type TestS3 } from '../support/s3-server.js';

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('backups in an object store (s3rver stand-in)', () => {
  let s3: TestS3;
  let h: Harness;
  beforeAll(async () => {
    s3 = await startTestS3();
    h = await startHarness({ ...s3.env('svc'), CACHESTORE_LOG_SHIP_MS: '200' });
  });
  afterAll(async () => {
    try {
      await h?.stop();
    } finally {
      await s3?.stop();
    }
  });

  it('stores backups and write logs in the bucket, and restores to a second from them after the local spool is gone', async () => {
    const api = h.client;
    const engine = (await engineVersions(api))[0];
    const type = engine.product_image_type.startsWith('Redis') ? 'redis1v1m2' : 'css1v1m2';
    const created = await api.post('/v1/clusters', createBody(engine, { name: 'objstore' }));
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(await api.waitRequest(created.body.request_id)).toBe('COMPLETED');
    const id = created.body.resource.id as string;
    const ipOf = async (cid: string) => (await api.get(`/v1/clusters/${cid}`)).body.instance_groups.flatMap((g: any) => g.instances).find((i: any) => i.role_type === 'MASTER').service_ip_address as string;
    const ip = await ipOf(id);
    const backupNow = async () => {
      const r = await api.post(`/v1/clusters/${id}/backup-histories`);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(await api.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
    };
    const restore = async (name: string, at: number) => {
      const r = await api.post(`/v1/clusters/${id}/restore`, { name, instance_name_prefix: name.slice(0, 3), server_type_name: type, backup_recovery_time: new Date(at).toISOString() });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const state = await api.waitRequest(r.body.request_id, 60_000);
      if (state !== 'COMPLETED') throw new Error(`restore ended ${state}: ${(await api.get(`/v1/requests/${r.body.request_id}/details`)).body.error}`);
      return readAll(await ipOf(r.body.resource.id));
    };

    await fill(ip, 'base', 300);
    await backupNow();
    const [first] = await h.service.store.backupsOf(id);
    const bucket = s3.bucketClient('svc');
    const stored = (await bucket.list('')).map((o) => o.key);
    expect(stored).toContain(`backups/${first.storageKey}`);
    expect(stored).toContain(`logs/${first.logFile}/head`);
    // Nothing of it in the local backup directory.
    expect(await listFiles(h.config.backupDir)).toEqual([]);

    const { second: s1, data: atS1 } = await writeWithinOneSecond(ip, 'kept', 100);
    await fill(ip, 'late', 100);
    // The second backup's rewrite closes the first one's log; the leader's timer ships what is
    // left of it and drops the spool: from then on only the bucket holds that log.
    await backupNow();
    const spooled = join(h.dataDir, 'wal-archive', first.logFile!);
    await until('the closed log to leave the spool', () => !existsSync(spooled));
    expect((await bucket.list(`logs/${first.logFile}/`)).filter((o) => /\/\d{16}-\d{16}$/.test(o.key)).length).toBeGreaterThan(0);

    const got1 = await restore('pitrobj', s1 * 1000 + 999);
    expect([...got1.keys()].filter((k) => k.startsWith('late:'))).toEqual([]);
    expect(got1).toEqual(atS1);

    // After the second backup: its log is still live, spooled here, shipped before the restore reads it.
    const { second: s3t, data: atS3 } = await writeWithinOneSecond(ip, 'after', 50);
    await fill(ip, 'last', 50);
    const got3 = await restore('pitlive', s3t * 1000);
    expect([...got3.keys()].filter((k) => k.startsWith('last:'))).toEqual([]);
    expect(got3).toEqual(atS3);
  });

  it('refuses to start with a bucket that does not exist, a wrong key or an endpoint nobody answers at, saying what to set and never the secret', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cachestore-s3-start-'));
    try {
      const base = { CACHESTORE_DATA_DIR: dataDir, CACHESTORE_LOG_LEVEL: 'silent', ...s3.env() };
      const noBucket = startService(loadConfig({ ...base, CACHESTORE_S3_BUCKET: 'no-such-bucket' }), { announce: () => undefined });
      await expect(noBucket).rejects.toThrow(ConfigError);
      await expect(noBucket).rejects.toThrow(/^CACHESTORE_BACKUP_STORAGE=s3: the bucket s3:\/\/no-such-bucket\/ at http:\/\/127\.0\.0\.1:\d+ cannot be used: .*the bucket does not exist/);
      const wrongKey = startService(loadConfig({ ...base, CACHESTORE_S3_ACCESS_KEY_ID: 'NOBODY', CACHESTORE_S3_SECRET_ACCESS_KEY: 'very-secret-value' }), { announce: () => undefined });
      const err = await wrongKey.catch((e: Error) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/check CACHESTORE_S3_ACCESS_KEY_ID \/ CACHESTORE_S3_SECRET_ACCESS_KEY/);
      expect((err as Error).message).not.toContain('very-secret-value');
      // An endpoint where nothing listens: a port the kernel gave out and took back.
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
      const { port } = probe.address() as AddressInfo;
      await new Promise((r) => probe.close(r));
      const nobody = startService(loadConfig({ ...base, CACHESTORE_S3_ENDPOINT: `http://127.0.0.1:${port}` }), { announce: () => undefined });
      await expect(nobody).rejects.toThrow(/cannot be used: .*the store did not answer: check CACHESTORE_S3_ENDPOINT/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
