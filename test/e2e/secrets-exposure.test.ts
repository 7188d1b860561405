// No secret leaks where other users or log collectors read: the service's own output, the
// command lines and environments of its engines and Sentinels, and the files of the data dir.
// The secrets: a cluster password, the service's engine secret (its own user on every engine),
// the API secret keys (the bootstrap one and one issued by `cachestore admin`) and the master
// key that seals them at rest. Where they are meant to be: engine configuration files (the
// engines read their users from them, mode 600) and master.key (the key itself, mode 600).
// The service's own environment holds what the operator gave it there (CACHESTORE_SECRET_KEY,
// CACHESTORE_MASTER_KEY): that is the operator's choice, and not checked; its command line is.
// How the store seals them is test/e2e/secrets-at-rest.test.ts; here every file is read.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useChildServices } from '../support/child-service.js';
import { SignedClient } from '../support/client.js';
import { runCli } from '../support/cli.js';
import { engineProcessesUnder } from '../support/cluster-truth.js';
import { listFiles } from '../support/files.js';
import { engineVersions, haBody } from '../support/harness.js';

const PASSWORD = 'Xk7!exposurePw';
const API_SECRET = 'child-secret-value';
const MASTER_KEY = randomBytes(32).toString('hex');

/** Which of `secrets` (by name) occur in `text`. */
function found(text: string | Buffer, secrets: Record<string, string>): string[] {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  return Object.entries(secrets)
    .filter(([, v]) => bytes.includes(Buffer.from(v)))
    .map(([k]) => k);
}

/**
 * Whether any of `needles` is in the process's writable memory (heap, anonymous maps, stack).
 * Engines rewrite their process title over the area /proc/<pid>/environ shows, so that file
 * cannot tell what they were started with; their copy of the environment is in this memory.
 */
function inMemory(pid: number, needles: Record<string, string>): string[] {
  const hits = new Set<string>();
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
      if (!m) continue;
      const [from, to] = [Number.parseInt(m[1], 16), Number.parseInt(m[2], 16)];
      // Engines of this test hold a few keys: skip reservations far beyond what they touch.
      if (to - from > 256 * 1024 * 1024) continue;
      const buf = Buffer.alloc(to - from);
      try {
        readSync(fd, buf, 0, buf.length, from);
      } catch {
        continue; // an unreadable guard region
      }
      for (const k of found(buf, needles)) hits.add(k);
    }
  } finally {
    closeSync(fd);
  }
  return [...hits];
}

describe('secrets in logs, process command lines and files', () => {
  const cs = useChildServices('cachestore-exposure-');

  it('appear nowhere but in engine configuration files and the master key file', async () => {
    const env = { CACHESTORE_MASTER_KEY: MASTER_KEY, CACHESTORE_BACKUP_SCHEDULE_MS: '0', CACHESTORE_LOG_LEVEL: 'debug' };
    const svc = await cs.start(env);
    const [engine] = await engineVersions(svc.client);
    const admin = (...args: string[]) => runCli(['admin', ...args], { env: { CACHESTORE_DATA_DIR: cs.dataDir, CACHESTORE_MASTER_KEY: MASTER_KEY } });
    expect((await admin('accounts', 'create', 'exposure')).code).toBe(0);
    const issuedRun = await admin('keys', 'issue', '--account', 'exposure');
    expect(issuedRun.code, issuedRun.stderr).toBe(0);
    const issued = { access_key: /access key: (\S+)/.exec(issuedRun.stdout)![1], secret_key: /secret key: (\S+)/.exec(issuedRun.stdout)![1] };
    const tenant = new SignedClient(svc.client.baseUrl, { accessKey: issued.access_key, secretKey: issued.secret_key });

    // An HA cluster of the issued key's account, and a backup of it (replica, scratch engine).
    const create = await tenant.post('/v1/clusters', haBody(engine, 1, { name: 'exposure', init_config_option: { database_user_password: PASSWORD, database_port: 6378, sentinel_port: 26378 } }));
    expect(create.status, JSON.stringify(create.body)).toBe(202);
    expect(await tenant.waitRequest(create.body.request_id, 120_000)).toBe('COMPLETED');
    const backup = await tenant.post(`/v1/clusters/${create.body.resource.id}/backup-histories`);
    expect(backup.status, JSON.stringify(backup.body)).toBe(202);
    expect(await tenant.waitRequest(backup.body.request_id, 120_000)).toBe('COMPLETED');

    // The engine secret, as the engines get it: from a data node's configuration file.
    const files = await listFiles(cs.dataDir);
    const confs = files.filter((f) => /^engines\/[^/]+\/engine\.conf$/.test(f)).map((f) => readFileSync(join(cs.dataDir, f), 'utf8'));
    const engineSecret = confs.map((c) => /^masterauth "?([^"\n]+)"?$/m.exec(c)?.[1]).find(Boolean)!;
    expect(engineSecret.length).toBeGreaterThanOrEqual(16);
    const secrets = { 'cluster password': PASSWORD, 'engine secret': engineSecret, 'API secret key': API_SECRET, 'issued secret key': issued.secret_key, 'master key': MASTER_KEY };

    // The service's log (debug level: everything it says), and its command line.
    expect(found(svc.output(), secrets), 'service output').toEqual([]);
    expect(found(readFileSync(`/proc/${svc.child.pid}/cmdline`), secrets), 'service command line').toEqual([]);

    // Engines and Sentinels: two data nodes, three Sentinels; neither their command lines nor
    // their environments (they are started without the service's CACHESTORE_* settings).
    const procs = engineProcessesUnder(cs.dataDir);
    expect(procs).toHaveLength(5);
    for (const p of procs) {
      expect(found(readFileSync(`/proc/${p.pid}/cmdline`), secrets), `cmdline of ${p.cmdline}`).toEqual([]);
      expect(found(readFileSync(`/proc/${p.pid}/environ`), secrets), `environ of ${p.cmdline}`).toEqual([]);
      // The service's own secrets are nowhere in an engine's memory (it is started without the
      // service's CACHESTORE_* settings); the cluster password and engine secret are its users'.
      expect(inMemory(p.pid, { 'API secret key': API_SECRET, 'issued secret key': issued.secret_key, 'master key': MASTER_KEY }), `memory of ${p.cmdline}`).toEqual([]);
    }

    // Every file of the data dir: the store, engine logs and data, backups and write logs.
    const meant = (f: string) => /^engines\/[^/]+\/engine\.conf$/.test(f) || f === 'master.key';
    const leaks: string[] = [];
    for (const f of files.filter((x) => !meant(x))) {
      const hits = found(await readFile(join(cs.dataDir, f)), secrets);
      if (hits.length > 0) leaks.push(`${f}: ${hits.join(', ')}`);
    }
    expect(leaks).toEqual([]);
    // Five configuration files (two data nodes, three Sentinels); no master.key: the key came by environment.
    expect(files.filter(meant).length).toBe(5);
    // The backup is there to be read, too.
    expect(files.some((f) => f.startsWith('backups/') && f.endsWith('.rdb'))).toBe(true);
  }, 300_000);
});
