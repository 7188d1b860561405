// The scrape token of GET /metrics: CACHESTORE_METRICS_TOKEN, or a random one the service makes
// at its first start and keeps in <data dir>/metrics-token (mode 0600), for the operator to copy
// into Prometheus' `authorization.credentials_file`. Its value is never logged.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const METRICS_TOKEN_FILE = 'metrics-token';

/** The token in force and where it came from (said in the start log, never the value). */
export async function metricsToken(dataDir: string, given: string | undefined): Promise<{ token: string; source: string }> {
  if (given) return { token: given, source: 'CACHESTORE_METRICS_TOKEN' };
  const file = join(dataDir, METRICS_TOKEN_FILE);
  const stored = await readFile(file, 'utf8').then((t) => t.trim(), () => '');
  if (stored) return { token: stored, source: file };
  const token = randomBytes(32).toString('base64url');
  // 'wx': two services starting on one data dir cannot both write it (the data dir lock also holds).
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { token, source: file };
}
