// Where a client finds its endpoint and keys, first match wins:
//   keys:     flags > CACHESTORE_ACCESS_KEY/CACHESTORE_SECRET_KEY > a profile > the bootstrap
//             credential the service wrote at its first start (<data dir>/bootstrap-credential.json,
//             data dir from --data-dir, CACHESTORE_DATA_DIR or ./.cachestore, as the service takes it)
//   endpoint: flag > CACHESTORE_ENDPOINT > the profile > CACHESTORE_LISTEN (the service's own
//             setting) > http://127.0.0.1:8080
// The environment names are the service's own, so a shell set up to run the service reaches it.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Keys } from './signing.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';
export const BOOTSTRAP_FILE = 'bootstrap-credential.json';

export interface ConnectionFlags {
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
  accountId?: string;
  profile?: string;
  dataDir?: string;
}

export interface Connection {
  endpoint: string;
  keys: Keys;
  /** Where the keys came from, for messages ("flags", "environment", "profile 'x' in …", a file). */
  keySource: string;
}

export class CredentialError extends Error {}

export interface Profile {
  endpoint?: string;
  access_key?: string;
  secret_key?: string;
  account_id?: string;
}

/** The profile file: CACHESTORE_CONFIG_FILE, else $XDG_CONFIG_HOME/cachestore/config.yaml (~/.config/…). */
export function profileFile(env: NodeJS.ProcessEnv): string {
  if (env.CACHESTORE_CONFIG_FILE) return resolve(env.CACHESTORE_CONFIG_FILE);
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'cachestore', 'config.yaml');
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EACCES') throw new CredentialError(`cannot read ${file}: permission denied (it is the service user's, mode 600); run as that user, or give --access-key and --secret-key`);
    throw err;
  }
}

/** Profiles by name (YAML or JSON: `default: {endpoint, access_key, secret_key, account_id}`). */
export function readProfiles(file: string): Record<string, Profile> | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CredentialError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new CredentialError(`${file} must map profile names to {endpoint, access_key, secret_key, account_id}`);
  return doc as Record<string, Profile>;
}

function pair(source: string, accessKey: string | undefined, secretKey: string | undefined, accountId: string | undefined, names: [string, string]): Keys | undefined {
  if (!accessKey && !secretKey) return undefined;
  if (!accessKey || !secretKey) throw new CredentialError(`${source} gives ${accessKey ? names[0] : names[1]} but not ${accessKey ? names[1] : names[0]}; give both`);
  return { accessKey, secretKey, accountId: accountId || undefined };
}

/** The service's listen address as a URL a client can use (0.0.0.0 and :: mean this machine). */
export function endpointFromListen(listen: string): string | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen.trim());
  if (!m) return undefined;
  let host = m[1];
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '[::]' || host === '::') host = '[::1]';
  return `http://${host}:${m[2]}`;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Connection {
  const file = profileFile(env);
  const profileName = flags.profile ?? env.CACHESTORE_PROFILE;
  const profiles = readProfiles(file);
  let profile: Profile | undefined;
  if (profileName) {
    profile = profiles?.[profileName];
    if (!profile) {
      const known = Object.keys(profiles ?? {});
      throw new CredentialError(`no profile '${profileName}' in ${file}${known.length ? ` (it has: ${known.join(', ')})` : profiles ? '' : ' (the file does not exist)'}`);
    }
  } else {
    profile = profiles?.default;
  }
  const profileLabel = `profile '${profileName ?? 'default'}' in ${file}`;

  let endpoint = flags.endpoint || env.CACHESTORE_ENDPOINT || profile?.endpoint || (env.CACHESTORE_LISTEN ? endpointFromListen(env.CACHESTORE_LISTEN) : undefined) || DEFAULT_ENDPOINT;
  endpoint = endpoint.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(endpoint)) throw new CredentialError(`the endpoint must look like http://host:port, got '${endpoint}'`);

  const sources: Array<[string, () => Keys | undefined]> = [
    ['flags', () => pair('the command line', flags.accessKey, flags.secretKey, flags.accountId, ['--access-key', '--secret-key'])],
    ['environment', () => pair('the environment', env.CACHESTORE_ACCESS_KEY, env.CACHESTORE_SECRET_KEY, env.CACHESTORE_ACCOUNT_ID, ['CACHESTORE_ACCESS_KEY', 'CACHESTORE_SECRET_KEY'])],
    [profileLabel, () => (profile ? pair(profileLabel, profile.access_key, profile.secret_key, profile.account_id, ['access_key', 'secret_key']) : undefined)],
  ];
  for (const [source, get] of sources) {
    const keys = get();
    if (keys) return { endpoint, keys, keySource: source };
  }
  const dataDir = resolve(cwd, flags.dataDir || env.CACHESTORE_DATA_DIR || '.cachestore');
  const bootstrap = join(dataDir, BOOTSTRAP_FILE);
  const text = readText(bootstrap);
  if (text !== undefined) {
    let stored: { access_key?: string; secret_key?: string; account_id?: string };
    try {
      stored = JSON.parse(text);
    } catch {
      throw new CredentialError(`${bootstrap} is not valid JSON`);
    }
    const keys = pair(bootstrap, stored.access_key, stored.secret_key, stored.account_id, ['access_key', 'secret_key']);
    if (keys) return { endpoint, keys, keySource: bootstrap };
  }
  throw new CredentialError(
    `no credential found: give --access-key and --secret-key, set CACHESTORE_ACCESS_KEY and CACHESTORE_SECRET_KEY, add a profile to ${file}, ` +
      `or run where the service keeps its data (${bootstrap} does not exist; --data-dir or CACHESTORE_DATA_DIR point elsewhere)`,
  );
}
