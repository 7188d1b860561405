// The bootstrap credential: from the environment, or generated on the first start, printed
// once, and kept in the data dir readable by the owner only.
// Changing it (CACHESTORE_ACCESS_KEY / CACHESTORE_SECRET_KEY) revokes the previous one at the
// next start (AccountStore.saveBootstrapCredential).
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newAccountId, newAccessKey, userIdFor } from './domain/accounts.js';
import type { Credential } from './domain/model.js';

export { userIdFor };

export const CREDENTIAL_FILE = 'bootstrap-credential.json';

export async function bootstrapCredential(
  dataDir: string,
  given: { accessKey?: string; secretKey?: string; accountId?: string },
  announce: (text: string) => void,
): Promise<Credential> {
  const file = join(dataDir, CREDENTIAL_FILE);
  let stored: { access_key?: string; secret_key?: string; account_id?: string } = {};
  try {
    stored = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    // first start
  }
  const fresh = newAccessKey();
  const accessKey = given.accessKey ?? stored.access_key ?? fresh.accessKey;
  const secretKey = given.secretKey ?? stored.secret_key ?? fresh.secretKey;
  const accountId = given.accountId ?? stored.account_id ?? newAccountId();
  const generated = !given.accessKey || !given.secretKey || !given.accountId;
  const changed = stored.access_key !== accessKey || stored.secret_key !== secretKey || stored.account_id !== accountId;
  if (generated && changed) {
    await writeFile(file, JSON.stringify({ access_key: accessKey, secret_key: secretKey, account_id: accountId }, null, 2) + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    announce(
      [
        'Cache Store generated its bootstrap credential (shown this once; kept in ' + file + ', mode 600):',
        `  access key: ${accessKey}`,
        `  secret key: ${given.secretKey ? '(the one in CACHESTORE_SECRET_KEY)' : secretKey}`,
        `  account id: ${accountId}`,
      ].join('\n'),
    );
  }
  return { accessKey, secretKey, accountId, userId: userIdFor(accessKey) };
}
