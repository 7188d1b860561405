// Where the master key that seals secrets in the store comes from: CACHESTORE_MASTER_KEY, or a
// key file of mode 600 in the data dir, made at the first start. Several service replicas on one
// PostgreSQL store must share it (give it in the environment). Rotation: put the new key in
// CACHESTORE_MASTER_KEY and the old one in CACHESTORE_MASTER_KEY_PREVIOUS; the next start seals
// everything again with the new key, after which the old one may go.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMasterKey, SecretBox } from './secret-box.js';

export const MASTER_KEY_FILE = 'master.key';

/** `create: false` (the admin commands): a missing key file is an error, never a new key. */
export async function loadSecretBox(
  dataDir: string,
  env: { masterKey?: string; previousMasterKeys: string[] },
  opts: { create?: boolean } = {},
): Promise<{ box: SecretBox; source: string }> {
  const previous = env.previousMasterKeys.map((k, i) => parseMasterKey(k, `CACHESTORE_MASTER_KEY_PREVIOUS (entry ${i + 1})`));
  if (env.masterKey) return { box: new SecretBox(parseMasterKey(env.masterKey, 'CACHESTORE_MASTER_KEY'), previous), source: 'CACHESTORE_MASTER_KEY' };
  const file = join(dataDir, MASTER_KEY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (opts.create === false) throw new Error(`no master key: neither CACHESTORE_MASTER_KEY nor ${file} (the service makes it at its first start)`);
    text = randomBytes(32).toString('hex');
    // 'wx': two starts racing never end with two different keys.
    await writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      text = await readFile(file, 'utf8');
    });
  }
  return { box: new SecretBox(parseMasterKey(text, file), previous), source: file };
}
