// The `cachestore` CLI end to end: the real bin as a child process against a real service (its
// bootstrap credential generated at first start and found by the CLI the way a person's shell
// finds it) and real Redis OSS and Valkey engines. One cluster is reused through the flow.
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { OPERATION_METHODS } from '../../src/client/client.js';
import { buildProgram, run } from '../../src/cli/main.js';
import { runCli, runProcess, type CliResult } from '../support/cli.js';
import { startHarness, type Harness } from '../support/harness.js';

const PASSWORD = 'Secr3t!pass';

/** The command that sends each operation (a new operation fails the coverage test until it has one). */
const CLI_FOR: Record<string, string> = {
  cachestoreListClusters: 'clusters list',
  cachestoreCreateCluster: 'clusters create',
  cachestoreShowCluster: 'clusters show',
  cachestoreDeleteCluster: 'clusters delete',
  cachestoreStopCluster: 'clusters stop',
  cachestoreStartCluster: 'clusters start',
  cachestoreRestartCluster: 'clusters restart',
  cachestoreSwitchoverCluster: 'clusters switchover',
  cachestoreSyncClusterState: 'clusters sync-state',
  cachestoreSetSecurityGroupRules: 'clusters allow',
  cachestoreSetServerType: 'clusters set-server-type',
  cachestoreSetBlockStorageSize: 'clusters set-storage-size',
  cachestoreSetMaintenance: 'clusters maintenance set',
  cachestoreUnsetMaintenance: 'clusters maintenance unset',
  cachestoreExtListClusterEvents: 'clusters events',
  cachestoreListBackupHistories: 'backups list',
  cachestoreExtListRestorableRanges: 'backups ranges',
  cachestoreExtCreateBackup: 'backups create',
  cachestoreRemoveBackupHistories: 'backups remove',
  cachestoreSetBackup: 'backups schedule',
  cachestoreUnsetBackup: 'backups unschedule',
  cachestoreCreateRestore: 'restore',
  cachestoreListParameterValues: 'parameters list',
  cachestoreSetParameterValues: 'parameters set',
  cachestoreSyncParameterValues: 'parameters sync',
  cachestoreListCommands: 'commands list',
  cachestoreSetCommands: 'commands set',
  cachestoreSyncCommands: 'commands sync',
  cachestoreShowRequest: 'requests wait',
  cachestoreExtShowRequestDetails: 'requests show',
  cachestoreListEngineVersions: 'catalogue engine-versions',
  cachestoreListEngineVersionProperties: 'catalogue engine-properties',
  cachestoreListServerTypes: 'catalogue server-types',
  cachestoreListParameterGroups: 'catalogue parameter-groups',
  cachestoreListParameters: 'catalogue parameters',
};
let h: Harness;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  // No keys given: the service generates its bootstrap credential and writes it to its data dir.
  h = await startHarness({ CACHESTORE_ACCESS_KEY: '', CACHESTORE_SECRET_KEY: '', CACHESTORE_ACCOUNT_ID: '' });
  home = await mkdtemp(join(tmpdir(), 'cachestore-cli-home-'));
  // The service's own variables: its data dir (where the credential is) and where it listens.
  env = { CACHESTORE_DATA_DIR: h.dataDir, CACHESTORE_ENDPOINT: h.baseUrl, XDG_CONFIG_HOME: home, CACHESTORE_CLUSTER_PASSWORD: PASSWORD };
});
afterAll(async () => {
  await h?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string | undefined> = {}, input?: string) => runCli(args, { env: { ...env, ...extra }, input });

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

/** A failure: exit code 1 and exactly one line on stderr, `error: …`. */
function oneLineError(r: CliResult): string {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(1);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: \S/);
  return lines[0];
}

/** A port nothing listens on (just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs the line `clusters connect` printed, with `args`, typing the password as redis-cli asks. */
async function viaConnectLine(line: string, args: string): Promise<string> {
  const r = await runProcess('sh', ['-c', `${line} ${args}`], { input: `${PASSWORD}\n` });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('--help', () => {
  function walk(c: Command, path: string[] = []): string[][] {
    return [path, ...c.commands.filter((s) => s.name() !== 'help').flatMap((s) => walk(s, [...path, s.name()]))];
  }
  const sink = () => {
    let text = '';
    return { stream: { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream, text: () => text };
  };
  const paths = walk(buildProgram({ stdout: process.stdout, stderr: process.stderr, env: {} }));

  it('covers every group a person looks for, and more than the groups', () => {
    const top = paths.filter((p) => p.length === 1).map((p) => p[0]);
    expect(top).toEqual(expect.arrayContaining(['clusters', 'backups', 'restore', 'parameters', 'commands', 'requests', 'catalogue']));
    expect(paths.length).toBeGreaterThan(35);
  });

  it.each(paths.map((p) => [p.join(' ') || '(root)', p] as const))('cachestore %s --help: usage, exit 0, and examples on every command', async (_, p) => {
    const out = sink();
    const err = sink();
    const code = await run([...p, '--help'], { stdout: out.stream, stderr: err.stream, env: {} });
    expect(code).toBe(0);
    expect(out.text()).toMatch(new RegExp(`^Usage: cachestore${p.map((s) => ` ${s}\\S*`).join('')}`));
    const leaf = buildProgram({ stdout: out.stream, stderr: err.stream, env: {} });
    let c: Command = leaf;
    for (const s of p) c = c.commands.find((x) => x.name() === s)!;
    if (c.commands.length === 0) expect(out.text(), p.join(' ')).toMatch(/Examples?:\n {2}\$ cachestore /);
    expect(err.text()).toBe('');
  });

  it('has a command for every operation of the contract and the extensions', () => {
    const program = buildProgram({ stdout: process.stdout, stderr: process.stderr, env: {} });
    const exists = (path: string) => path.split(' ').reduce<Command | undefined>((c, name) => c?.commands.find((x) => x.name() === name), program) !== undefined;
    expect(Object.keys(CLI_FOR).sort()).toEqual(Object.keys(OPERATION_METHODS).sort());
    for (const [op, path] of Object.entries(CLI_FOR)) expect(exists(path), `${op}: cachestore ${path}`).toBe(true);
  });

  it('runs from the checkout through the bin (npx cachestore)', async () => {
    const r = ok(await runProcess('npx', ['--no-install', 'cachestore', '--version']));
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const usage = await cli(['clusters', 'create', 'x', '--no-such-flag']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});

describe('a cluster through the CLI', () => {
  let ip: string;
  let connectLine: string;
  let backupNumber: string;

  it('creates a cluster from flags and waits, showing progress, until it runs', async () => {
    const r = ok(await cli(['clusters', 'create', 'clitest', '--engine', 'redis', '--server-type', 'redis1v1m2']));
    expect(r.stdout).toMatch(/^cluster clitest is RUNNING \(id [0-9a-f]{32}\)/);
    // Not a terminal: plain progress lines on stderr, the request's last one COMPLETED.
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^create clitest: COMPLETED, done: \S+ \(\d+\.\d s\)$/);
    const shown = (await h.client.get('/v1/clusters?name=clitest')).body.contents;
    expect(shown.map((c: { service_state: string }) => c.service_state)).toEqual(['RUNNING']);
  }, 120_000);

  it('lists and shows it, as a table and as JSON', async () => {
    const table = ok(await cli(['clusters', 'list']));
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+HA\s+INSTANCES\s+CREATED\s+ID$/);
    expect(table.stdout).toMatch(/\nclitest\s+RUNNING\s+no\s+1\s/);
    const json = JSON.parse(ok(await cli(['clusters', 'list', '-o', 'json'])).stdout);
    expect(json.contents.map((c: { name: string }) => c.name)).toEqual(['clitest']);
    const detail = JSON.parse(ok(await cli(['clusters', 'show', 'clitest', '--output', 'json'])).stdout);
    ip = detail.instance_groups[0].instances[0].service_ip_address;
    expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    const text = ok(await cli(['clusters', 'show', 'clitest'])).stdout;
    expect(text).toMatch(/^name\s+clitest$/m);
    expect(text).toMatch(new RegExp(`^clitest-\\S+\\s+MASTER\\s+RUNNING\\s+${ip.replace(/\./g, '\\.')}\\s+redis1v1m2`, 'm'));
  }, 60_000);

  it('prints a redis-cli line that answers PONG', async () => {
    const r = ok(await cli(['clusters', 'connect', 'clitest']));
    expect(r.stdout).toBe(`redis-cli -h ${ip} -p 6378 --askpass\n`);
    connectLine = r.stdout.trim();
    expect(await viaConnectLine(connectLine, 'PING')).toBe('PONG');
    expect(await viaConnectLine(connectLine, 'SET greeting hello')).toBe('OK');
  }, 60_000);

  it('stops and starts it; the data stays', async () => {
    expect(ok(await cli(['clusters', 'stop', 'clitest'])).stdout).toBe('cluster clitest is STOPPED\n');
    const down = await runProcess('sh', ['-c', `${connectLine} PING`], { input: `${PASSWORD}\n` });
    expect(down.stdout + down.stderr).toMatch(/Connection refused|Could not connect/);
    expect(ok(await cli(['clusters', 'start', 'clitest'])).stdout).toBe('cluster clitest is RUNNING\n');
    expect(await viaConnectLine(connectLine, 'GET greeting')).toBe('hello');
  }, 120_000);

  it('with --no-wait prints only the request id, which requests wait follows', async () => {
    const r = ok(await cli(['clusters', 'restart', 'clitest', '--no-wait']));
    expect(r.stdout).toMatch(/^req-[0-9a-f-]{36}\n$/);
    const id = r.stdout.trim();
    expect(ok(await cli(['requests', 'wait', id])).stdout).toBe(`${id}: COMPLETED\n`);
    const shown = JSON.parse(ok(await cli(['requests', 'show', id, '-o', 'json'])).stdout);
    expect(shown).toMatchObject({ request_id: id, state: 'COMPLETED', operation: 'restart' });
  }, 120_000);

  it('changes a parameter and a command name by name, and lists what the engines run', async () => {
    ok(await cli(['parameters', 'set', 'clitest', 'maxmemory-policy=allkeys-lru']));
    const params = JSON.parse(ok(await cli(['parameters', 'list', 'clitest', '--modifiable', '-o', 'json'])).stdout);
    expect(params.contents.find((p: { name: string }) => p.name === 'maxmemory-policy').applied_value).toBe('allkeys-lru');
    expect(params.contents.every((p: { is_modifiable: boolean }) => p.is_modifiable)).toBe(true);
    expect(await viaConnectLine(connectLine, 'CONFIG GET maxmemory-policy')).toMatch(/NOPERM/); // the tenant reads it through the API only
    ok(await cli(['commands', 'set', 'clitest', 'FLUSHALL=DISABLED']));
    expect(ok(await cli(['commands', 'list', 'clitest'])).stdout).toMatch(/^FLUSHALL\s+DISABLED\s+yes/m);
    expect(await viaConnectLine(connectLine, 'FLUSHALL')).toMatch(/unknown command/i);
    const types = ok(await cli(['catalogue', 'server-types', '--engine', 'redis'])).stdout;
    expect(types).toMatch(/^redis1v2m4\s+2\s+4\s+Redis OSS Sentinel/m);
    expect(types).not.toMatch(/css1v/);
  }, 120_000);

  it('backs it up and restores the backup into a second cluster', async () => {
    const b = ok(await cli(['backups', 'create', 'clitest']));
    backupNumber = /^backup (\S+) of clitest is COMPLETED$/m.exec(b.stdout)?.[1] ?? '';
    expect(backupNumber).not.toBe('');
    const list = JSON.parse(ok(await cli(['backups', 'list', 'clitest', '-o', 'json'])).stdout);
    expect(list.contents.map((x: { backup_history_number: string; backup_state: string }) => [x.backup_history_number, x.backup_state])).toEqual([[backupNumber, 'COMPLETED']]);
    // The backup's restorable range, as a table: its number, then two times.
    expect(ok(await cli(['backups', 'ranges', 'clitest'])).stdout).toMatch(new RegExp(`^${backupNumber}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+\\d{4}-\\d\\d-\\d\\dT\\S+$`, 'm'));
    const r = ok(await cli(['restore', 'clitest', '--name', 'clicopy', '--backup', backupNumber]));
    expect(r.stdout).toMatch(/^cluster clicopy is RUNNING \(id [0-9a-f]{32}\), restored from clitest/);
    const copyLine = r.stdout.split('\n').find((l) => l.startsWith('redis-cli '))!;
    expect(copyLine).not.toBe(connectLine);
    expect(await viaConnectLine(copyLine, 'GET greeting')).toBe('hello');
  }, 180_000);

  it('refuses in one line with exit code 1: a name taken, an unknown cluster, a deletion not confirmed', async () => {
    expect(oneLineError(await cli(['clusters', 'create', 'clitest']))).toMatch(/a cluster named 'clitest' already exists in this account/);
    expect(oneLineError(await cli(['clusters', 'show', 'nosuchcluster']))).toMatch(/^error: no cluster named 'nosuchcluster' in this account/);
    // An id goes to the API as it is: its 404 detail.
    expect(oneLineError(await cli(['clusters', 'stop', '0123456789abcdef0123456789abcdef']))).toMatch(/0123456789abcdef0123456789abcdef/);
    expect(oneLineError(await cli(['clusters', 'delete', 'clicopy']))).toMatch(/needs --yes when not on a terminal/);
    expect(oneLineError(await cli(['restore', 'clitest', '--name', 'later', '--time', new Date(Date.now() + 3600_000).toISOString()]))).toMatch(/is in the future/);
  }, 60_000);

  it('deletes the copy; it is gone from the list and by name', async () => {
    expect(ok(await cli(['clusters', 'delete', 'clicopy', '--yes'])).stdout).toBe('cluster clicopy is TERMINATED\n');
    const names = JSON.parse(ok(await cli(['clusters', 'list', '-o', 'json'])).stdout).contents.map((c: { name: string }) => c.name);
    expect(names).toEqual(['clitest']);
    expect(oneLineError(await cli(['clusters', 'show', 'clicopy']))).toMatch(/no cluster named 'clicopy'/);
  }, 120_000);
});

describe('an HA cluster', () => {
  it('connects to the primary, tells how to follow it through Sentinel, and follows a switchover', async () => {
    ok(await cli(['clusters', 'create', 'cliha', '--ha', '--replicas', '1', '--port', '6380', '--sentinel-port', '26380']));
    const first = ok(await cli(['clusters', 'connect', 'cliha'])).stdout.split('\n');
    expect(first[0]).toMatch(/^redis-cli -h (\S+) -p 6380 --askpass$/);
    expect(await viaConnectLine(first[0], 'ROLE')).toMatch(/^master/);
    const sentinelLine = first.find((l) => l.includes('SENTINEL GET-MASTER-ADDR-BY-NAME'))!.replace(/^#\s*/, '');
    expect(sentinelLine).toMatch(/^redis-cli -h \S+ -p 26380 --askpass SENTINEL GET-MASTER-ADDR-BY-NAME cliha$/);
    const primaryIp = /-h (\S+)/.exec(first[0])![1];
    // The Sentinel command, as printed, names the same primary.
    expect((await runProcess('sh', ['-c', sentinelLine], { input: `${PASSWORD}\n` })).stdout.split('\n').slice(0, 2)).toEqual([primaryIp, '6380']);
    expect(first.join('\n')).toMatch(/ioredis: {2}new Redis\(\{ sentinels: \[(\{ host: '127\.[\d.]+', port: 26380 \}, ){2}\{ host: '127\.[\d.]+', port: 26380 \}\], name: 'cliha'/);

    ok(await cli(['clusters', 'switchover', 'cliha']));
    const after = ok(await cli(['clusters', 'connect', 'cliha'])).stdout.split('\n')[0];
    expect(after).not.toBe(first[0]);
    expect(await viaConnectLine(after, 'ROLE')).toMatch(/^master/);
    ok(await cli(['clusters', 'delete', 'cliha', '--yes']));
  }, 240_000);
});

describe('a Valkey cluster from a YAML body', () => {
  it('creates it with the password from a file, connects, and deletes it', async () => {
    const versions = (await h.client.get('/v1/engine-versions')).body.contents as Array<{ id: string; product_image_type: string }>;
    const valkey = versions.find((v) => v.product_image_type === 'Valkey Sentinel')!;
    expect(valkey).toBeDefined();
    const file = join(home, 'cluster.yaml');
    await writeFile(
      file,
      [
        'name: fromyaml',
        `dbaas_engine_version_id: ${valkey.id}`,
        'instance_name_prefix: yml',
        'subnet_id: local-subnet',
        'timezone: Asia/Seoul',
        'init_config_option: { database_port: 6390 }',
        'instance_groups:',
        '  - role_type: MASTER',
        '    server_type_name: css1v1m2',
        '    block_storage_groups: [{ role_type: DATA, size_gb: 56 }]',
        '    instances: [{ role_type: MASTER }]',
        '',
      ].join('\n'),
    );
    const pwFile = join(home, 'pw.txt');
    await writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    const created = ok(await cli(['clusters', 'create', '--from-file', file, '--password-file', pwFile, '-o', 'json'], { CACHESTORE_CLUSTER_PASSWORD: undefined }));
    expect(JSON.parse(created.stdout)).toMatchObject({ state: 'COMPLETED', request_id: expect.stringMatching(/^req-/) });
    const info = JSON.parse(ok(await cli(['clusters', 'connect', 'fromyaml', '-o', 'json'])).stdout);
    expect(info).toMatchObject({ name: 'fromyaml', port: 6390, command: `redis-cli -h ${info.host} -p 6390 --askpass` });
    expect(await viaConnectLine(info.command, 'PING')).toBe('PONG');
    expect(await viaConnectLine(info.command, 'INFO server')).toMatch(/valkey_version:/);
    ok(await cli(['clusters', 'delete', 'fromyaml', '--yes']));
  }, 180_000);
});

describe('on a terminal', () => {
  it('asks for the password (twice) and shows a spinner while it waits; delete asks to confirm', async () => {
    // script(1) gives the CLI a pseudo-terminal; what is typed comes on its stdin.
    const cmd = (args: string) => `${process.execPath} bin/cachestore.js ${args}`;
    const typed = await runProcess('script', ['-qec', cmd('clusters create ontty --engine valkey'), '/dev/null'], {
      env: { ...env, CACHESTORE_CLUSTER_PASSWORD: undefined, TERM: 'xterm' },
      input: `${PASSWORD}\n${PASSWORD}\n`,
    });
    expect(typed.code, typed.stdout).toBe(0);
    expect(typed.stdout).toMatch(/Cluster password \(8-30 characters[^\n]*: /);
    expect(typed.stdout).toContain('Again, to be sure: ');
    // The spinner: a frame redrawn in place (carriage return, clear line).
    expect(typed.stdout).toMatch(/\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] create ontty: /);
    expect(typed.stdout).toMatch(/cluster ontty is RUNNING/);
    const line = ok(await cli(['clusters', 'connect', 'ontty'])).stdout.trim();
    expect(await viaConnectLine(line, 'PING')).toBe('PONG');

    const no = await runProcess('script', ['-qec', cmd('clusters delete ontty'), '/dev/null'], { env, input: 'n\n' });
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(/Delete cluster ontty \([0-9a-f]{32}\) and its data\? \[y\/N\] /);
    expect(no.stdout).toMatch(/error: not deleted/);
    const yes = await runProcess('script', ['-qec', cmd('clusters delete ontty'), '/dev/null'], { env, input: 'y\n' });
    expect(yes.code, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/cluster ontty is TERMINATED/);
  }, 180_000);

  it('refuses two different passwords, sending nothing', async () => {
    const r = await runProcess('script', ['-qec', `${process.execPath} bin/cachestore.js clusters create differ`, '/dev/null'], {
      env: { ...env, CACHESTORE_CLUSTER_PASSWORD: undefined },
      input: `${PASSWORD}\nOther!pass1\n`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error: the two passwords differ; nothing was sent/);
    expect((await h.client.get('/v1/clusters?name=differ')).body.count).toBe(0);
  }, 60_000);
});

describe('credentials and endpoint', () => {
  it('finds the bootstrap credential in ./.cachestore without any configuration', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cachestore-cli-cwd-'));
    try {
      await symlink(h.dataDir, join(dir, '.cachestore'));
      const r = await runCli(['clusters', 'list', '-o', 'json'], { cwd: dir, env: { CACHESTORE_ENDPOINT: h.baseUrl, XDG_CONFIG_HOME: home } });
      expect(JSON.parse(ok(r).stdout).contents.map((c: { name: string }) => c.name)).toContain('clitest');
      // Without it, the CLI says where it looked.
      const none = await runCli(['clusters', 'list'], { cwd: home, env: { CACHESTORE_ENDPOINT: h.baseUrl, XDG_CONFIG_HOME: home } });
      expect(oneLineError(none)).toMatch(/no credential found: .*\.cachestore\/bootstrap-credential\.json does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('takes keys from a profile, and answers a bad key in one line with exit code 1', async () => {
    const file = join(home, 'profiles.yaml');
    const closed = await closedPort();
    const { accessKey, secretKey } = h.service.credential;
    await writeFile(file, `default:\n  endpoint: http://127.0.0.1:${closed}\nlocal:\n  endpoint: ${h.baseUrl}\n  access_key: ${accessKey}\n  secret_key: ${secretKey}\n`, { mode: 0o600 });
    const viaProfile = await runCli(['--profile', 'local', 'clusters', 'list', '-o', 'json'], { env: { CACHESTORE_CONFIG_FILE: file } });
    expect(JSON.parse(ok(viaProfile).stdout).contents.map((c: { name: string }) => c.name)).toContain('clitest');
    const bad = await cli(['clusters', 'list'], { CACHESTORE_ACCESS_KEY: accessKey, CACHESTORE_SECRET_KEY: 'not-the-secret' });
    expect(oneLineError(bad)).toMatch(/^error: The signature does not match/);
    // The default profile's endpoint, where nothing listens: said so, in one line.
    const down = await runCli(['clusters', 'list'], { env: { CACHESTORE_CONFIG_FILE: file, CACHESTORE_DATA_DIR: h.dataDir } });
    expect(oneLineError(down)).toContain(`cannot reach the Cache Store API at http://127.0.0.1:${closed} (ECONNREFUSED)`);
  }, 60_000);
});
