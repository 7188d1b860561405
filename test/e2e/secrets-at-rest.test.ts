// Cluster passwords, the service's engine secrets and API secret keys are sealed in the store (AES-256-GCM with a
// master key): the database file and its WAL never hold them in the clear, the key file is mode
// 600, a rotation through the environment seals everything again, plaintext from an earlier
// version is sealed at start, and a store sealed with a key the service lacks stops the start
// with the reason rather than letting it run blind.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';
import { pingWith } from '../support/dataset.js';
import { createBody, engineVersions, settle, startHarness, type Harness } from '../support/harness.js';

const PASSWORD = 'Zq9!distinctive';
let h: Harness;
let clusterId: string;
let ip: string;

beforeAll(async () => {
  h = await startHarness();
  const [engine] = await engineVersions(h.client);
  const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'sealed', init_config_option: { database_user_password: PASSWORD, database_port: 6378 } }));
  await settle(h.client, r.body.request_id, r.body.resource.id);
  clusterId = r.body.resource.id;
  ip = (await h.client.get(`/v1/clusters/${clusterId}`)).body.instance_groups[0].instances[0].service_ip_address;
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

function storeFiles(): Buffer[] {
  const base = join(h.dataDir, 'cachestore.db');
  return [base, `${base}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
}

function rawSecrets(): { password: string; service_secret: string } {
  const db = new Database(join(h.dataDir, 'cachestore.db'), { readonly: true });
  try {
    return db.prepare('SELECT password, service_secret FROM clusters WHERE id = ?').get(clusterId) as { password: string; service_secret: string };
  } finally {
    db.close();
  }
}

function pong(): Promise<string> {
  return pingWith(ip, 6378, PASSWORD);
}

async function restartCompletes(): Promise<void> {
  const r = await h.client.post(`/v1/clusters/${clusterId}/restart`);
  expect(r.status).toBe(202);
  expect(await h.client.waitRequest(r.body.request_id, 60_000)).toBe('COMPLETED');
}

describe('secrets at rest', () => {
  it('the store holds neither the password nor the engine secret in the clear; the key file is mode 600', async () => {
    expect(await pong()).toBe('PONG');
    const raw = rawSecrets();
    expect(raw.password).toMatch(/^enc:v1:[0-9a-f]{8}:/);
    expect(raw.service_secret).toMatch(/^enc:v1:[0-9a-f]{8}:/);
    for (const bytes of storeFiles()) expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    // Nor the API secret key the service checks signatures with (the harness gives it in the
    // environment): sealed too, and the signed requests of this test still pass.
    for (const bytes of storeFiles()) expect(bytes.includes(Buffer.from(h.config.bootstrap.secretKey!))).toBe(false);
    expect(statSync(join(h.dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    // The service still manages the cluster with what it sealed: a rolling restart completes.
    await restartCompletes();
    expect(await pong()).toBe('PONG');
  }, 90_000);

  it('a new master key in the environment, with the old one as previous, seals everything again', async () => {
    const oldKey = readFileSync(join(h.dataDir, 'master.key'), 'utf8').trim();
    const newKey = randomBytes(32).toString('hex');
    await h.closeService();
    h.config.masterKey = newKey;
    h.config.previousMasterKeys = [oldKey];
    await h.restartService();
    const id = SecretBox.keyId(Buffer.from(newKey, 'hex'));
    expect(rawSecrets().password.startsWith(`enc:v1:${id}:`)).toBe(true);
    expect(rawSecrets().service_secret.startsWith(`enc:v1:${id}:`)).toBe(true);
    // The old key may go now.
    await h.closeService();
    h.config.previousMasterKeys = [];
    await h.restartService();
    await restartCompletes();
    expect(await pong()).toBe('PONG');
  }, 120_000);

  it('plaintext left by an earlier version is sealed at start', async () => {
    await h.closeService();
    const db = new Database(join(h.dataDir, 'cachestore.db'));
    db.prepare('UPDATE clusters SET password = ? WHERE id = ?').run(PASSWORD, clusterId);
    db.close();
    await h.restartService();
    expect(rawSecrets().password).toMatch(/^enc:v1:/);
    for (const bytes of storeFiles()) expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    expect(await pong()).toBe('PONG');
  }, 60_000);

  it('a store sealed with a key the service does not have stops the start, naming what to give', async () => {
    await h.closeService();
    const right = h.config.masterKey;
    h.config.masterKey = randomBytes(32).toString('hex');
    await expect(h.restartService()).rejects.toThrow(/CACHESTORE_MASTER_KEY_PREVIOUS/);
    h.config.masterKey = right;
    await h.restartService();
    expect(await pong()).toBe('PONG');
  }, 60_000);
});
