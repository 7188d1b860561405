// Nothing the service writes is readable by other users of the machine: the store and its WAL,
// engine configs (they hold the password), engine data files, backups, logs. Files an earlier
// version left with looser modes are tightened at start.
import { chmod, lstat, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fill } from '../support/dataset.js';
import { createBody, engineVersions, settle, startHarness, type Harness } from '../support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** Every file and directory under `root` whose mode gives the group or others any access. */
async function loose(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    const st = await lstat(p);
    if (st.isSymbolicLink() || st.isSocket()) return;
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
  };
  await walk(root);
  return out;
}

async function count(root: string): Promise<number> {
  let n = 0;
  const walk = async (p: string) => {
    const st = await lstat(p);
    if (st.isFile()) n++;
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  await walk(root);
  return n;
}

describe('file modes', () => {
  it('the store, engine files and backups are the service user\'s alone, and a restart tightens what was left loose', async () => {
    const [engine] = await engineVersions(h.client);
    const r = await h.client.post('/v1/clusters', createBody(engine, { name: 'modes' }));
    await settle(h.client, r.body.request_id, r.body.resource.id);
    const id = r.body.resource.id;
    const show = (await h.client.get(`/v1/clusters/${id}`)).body;
    await fill(show.instance_groups[0].instances[0].service_ip_address, 'm', 200);
    const b = await h.client.post(`/v1/clusters/${id}/backup-histories`);
    expect(await h.client.waitRequest(b.body.request_id, 60_000)).toBe('COMPLETED');

    // Something to look at: the store, engine config, data and log files, a backup.
    expect(await count(h.dataDir)).toBeGreaterThan(5);
    expect(await loose(h.dataDir)).toEqual([]);
    expect(await loose(h.config.backupDir)).toEqual([]);

    // A file from an earlier version, readable by all: tightened by the next start.
    const old = join(h.dataDir, 'left-by-an-earlier-version.json');
    await writeFile(old, '{}');
    await chmod(old, 0o644); // explicitly: the umask of this process is the service's now
    expect(await loose(h.dataDir)).toEqual([`${old} 644`]);
    await h.closeService();
    await h.restartService();
    expect(await loose(h.dataDir)).toEqual([]);
  }, 120_000);
});
