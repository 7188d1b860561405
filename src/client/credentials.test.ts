// Where the CLI and SDK find endpoint and keys, on real files in a temp dir.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialError, endpointFromListen, resolveConnection } from './credentials.js';

let dir: string;
let cfg: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachestore-cred-'));
  await mkdir(join(dir, '.cachestore'));
  await writeFile(join(dir, '.cachestore', 'bootstrap-credential.json'), JSON.stringify({ access_key: 'bootAK', secret_key: 'bootSK', account_id: 'acc' }));
  cfg = join(dir, 'config.yaml');
  await writeFile(cfg, 'default:\n  endpoint: http://10.0.0.1:9000/\n  access_key: profAK\n  secret_key: profSK\nother:\n  access_key: otherAK\n  secret_key: otherSK\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveConnection', () => {
  const none = join(tmpdir(), 'cachestore-no-such-config.yaml');

  it('finds the bootstrap credential in ./.cachestore, and the default endpoint, with no configuration', () => {
    const c = resolveConnection({}, { CACHESTORE_CONFIG_FILE: none }, dir);
    expect(c).toEqual({ endpoint: 'http://127.0.0.1:8080', keys: { accessKey: 'bootAK', secretKey: 'bootSK', accountId: 'acc' }, keySource: join(dir, '.cachestore', 'bootstrap-credential.json') });
  });

  it('takes flags over the environment over a profile over the bootstrap file', () => {
    const env = { CACHESTORE_CONFIG_FILE: cfg, CACHESTORE_ACCESS_KEY: 'envAK', CACHESTORE_SECRET_KEY: 'envSK', CACHESTORE_ENDPOINT: 'http://env:1' };
    expect(resolveConnection({ accessKey: 'fAK', secretKey: 'fSK', endpoint: 'http://flag:2' }, env, dir)).toMatchObject({ endpoint: 'http://flag:2', keys: { accessKey: 'fAK' }, keySource: 'flags' });
    expect(resolveConnection({}, env, dir)).toMatchObject({ endpoint: 'http://env:1', keys: { accessKey: 'envAK' }, keySource: 'environment' });
    expect(resolveConnection({}, { CACHESTORE_CONFIG_FILE: cfg }, dir)).toMatchObject({ endpoint: 'http://10.0.0.1:9000', keys: { accessKey: 'profAK' } });
    expect(resolveConnection({ profile: 'other' }, { CACHESTORE_CONFIG_FILE: cfg }, dir)).toMatchObject({ endpoint: 'http://127.0.0.1:8080', keys: { accessKey: 'otherAK' } });
  });

  it('reaches the service where CACHESTORE_LISTEN makes it listen', () => {
    expect(resolveConnection({}, { CACHESTORE_CONFIG_FILE: none, CACHESTORE_LISTEN: '0.0.0.0:9090' }, dir).endpoint).toBe('http://127.0.0.1:9090');
    expect(endpointFromListen('[::]:8080')).toBe('http://[::1]:8080');
    expect(endpointFromListen('10.1.2.3:80')).toBe('http://10.1.2.3:80');
  });

  it('says what is missing or wrong', () => {
    expect(() => resolveConnection({ accessKey: 'x' }, { CACHESTORE_CONFIG_FILE: none }, dir)).toThrow(/the command line gives --access-key but not --secret-key/);
    expect(() => resolveConnection({ profile: 'nope' }, { CACHESTORE_CONFIG_FILE: cfg }, dir)).toThrow(/no profile 'nope' in .*config\.yaml \(it has: default, other\)/);
    expect(() => resolveConnection({}, { CACHESTORE_CONFIG_FILE: none }, tmpdir())).toThrow(CredentialError);
    expect(() => resolveConnection({ endpoint: 'localhost:8080' }, { CACHESTORE_CONFIG_FILE: none }, dir)).toThrow(/must look like http:\/\/host:port/);
  });
});
