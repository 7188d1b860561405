// `cachestore clusters …`: create, list, show, connect, stop/start/restart, switchover, sync,
// delete, events, server type, storage size, allow-list and maintenance window.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parse } from 'yaml';
import type { ClusterDetailResponse, ClusterSummary, CreateClusterBody } from '../../contract/types.js';
import { connectInfo, connectText } from '../connect.js';
import { CliError, Ctx, list, mutation, type Io } from '../context.js';
import { createBodyFromFlags, pickEngineVersion, type EngineName } from '../create-body.js';
import { renderFields, renderJson, renderTable } from '../output.js';
import { canPrompt, confirm, promptPassword } from '../prompt.js';

export const PASSWORD_ENV = 'CACHESTORE_CLUSTER_PASSWORD';

const int = (what: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`${what} takes a whole number, got '${v}'`);
  return Number(v);
};

/** The cluster password: --password-file, --password-env, $CACHESTORE_CLUSTER_PASSWORD, or a prompt. */
export async function clusterPassword(o: { passwordFile?: string; passwordEnv?: string }, io: Io): Promise<string> {
  if (o.passwordFile) {
    try {
      return readFileSync(o.passwordFile === '-' ? 0 : o.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(`cannot read the password file ${o.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (o.passwordEnv) {
    const v = io.env[o.passwordEnv];
    if (!v) throw new CliError(`--password-env ${o.passwordEnv}: that environment variable is empty or not set`);
    return v;
  }
  if (io.env[PASSWORD_ENV]) return io.env[PASSWORD_ENV]!;
  if (canPrompt()) return promptPassword('Cluster password (8-30 characters: a letter, a digit and a special character; no \' " $)');
  throw new CliError(`the cluster needs a password: give --password-file FILE, --password-env VAR, or set ${PASSWORD_ENV} (or run on a terminal to be asked)`);
}

function readBodyFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text); // YAML, and so JSON too
  } catch (err) {
    throw new CliError(`${file} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`${file} must hold one Create Cluster body (an object)`);
  return doc as Record<string, unknown>;
}

function summaryColumns() {
  return [
    { header: 'NAME', value: (c: ClusterSummary) => c.name },
    { header: 'STATE', value: (c: ClusterSummary) => c.service_state },
    { header: 'HA', value: (c: ClusterSummary) => (c.ha_enabled ? 'yes' : 'no') },
    { header: 'INSTANCES', value: (c: ClusterSummary) => c.instance_count },
    { header: 'CREATED', value: (c: ClusterSummary) => c.created_at },
    { header: 'ID', value: (c: ClusterSummary) => c.id },
  ];
}

export function clusterText(c: ClusterDetailResponse): string {
  const cfg = c.init_config_option;
  const replicas = c.instance_groups.flatMap((g) => g.instances ?? []).filter((i) => i.role_type === 'REPLICA').length;
  const backup = cfg.backup_option?.retention_period_day
    ? `daily at ${cfg.backup_option.starting_time_hour}:00 ${c.timezone}, kept ${cfg.backup_option.retention_period_day} days`
    : 'on demand only';
  const head = renderFields([
    ['name', c.name],
    ['id', c.id],
    ['state', c.service_state],
    ['engine', c.dbaas_engine_version_name],
    ['topology', c.ha_enabled ? `HA: primary, ${replicas} replica(s), Sentinels on port ${cfg.sentinel_port}` : 'standalone'],
    ['port', cfg.database_port],
    ['allow-list', c.allowable_ip_addresses?.length ? c.allowable_ip_addresses : 'any address of the subnet'],
    ['backups', backup],
    ['subnet', c.subnet_id],
    ['timezone', c.timezone],
    ['created', c.created_at],
  ]);
  const rows = c.instance_groups.flatMap((g) => (g.instances ?? []).map((i) => ({ g, i })));
  const table = renderTable(rows, [
    { header: 'INSTANCE', value: (r) => r.i.name },
    { header: 'ROLE', value: (r) => r.i.role_type },
    { header: 'STATE', value: (r) => r.i.service_state },
    { header: 'ADDRESS', value: (r) => r.i.service_ip_address },
    { header: 'SERVER TYPE', value: (r) => r.g.server_type_name },
    { header: 'GROUP', value: (r) => `${r.g.role_type} ${r.g.id}` },
  ]);
  return `${head}\n${table}`;
}

export function clustersCommand(io: Io): Command {
  const clusters = new Command('clusters').alias('cluster').summary('create, inspect, connect to, operate and delete clusters').description('Clusters: create, list, show, connect, stop/start/restart, switchover, sync, delete, and their settings.\nA cluster is named by its name or its id.');

  clusters
    .command('list')
    .alias('ls')
    .description('List the clusters of the account (terminated ones only with --state TERMINATED).')
    .option('--name <text>', 'only names containing this (case-insensitive)')
    .option('--state <state>', 'only clusters in this state, e.g. RUNNING')
    .option('--sort <field:dir>', 'name, service_state or created_at, then :asc or :desc', 'created_at:desc')
    .option('--page <n>', 'page number, from 0', int('--page'), 0)
    .option('--size <n>', 'clusters per page (at most 1000)', int('--size'), 100)
    .addHelpText('after', '\nExamples:\n  $ cachestore clusters list\n  $ cachestore clusters list --state RUNNING --output json')
    .action(async (o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const page = await ctx.client.listClusters({ name: o.name, service_state: o.state, sort: o.sort, page: o.page, size: o.size });
      const rows = page.contents ?? [];
      ctx.print(page, rows, summaryColumns(), 'no clusters');
      if (!ctx.json && page.count > rows.length + o.page * o.size) ctx.note(`(${rows.length} of ${page.count}; --page ${o.page + 1} shows more)`);
    });

  clusters
    .command('show')
    .argument('<cluster>', 'name or id')
    .description('Show a cluster: state, engine, settings and its instances with their addresses.')
    .addHelpText('after', '\nExamples:\n  $ cachestore clusters show mycache\n  $ cachestore clusters show mycache -o json')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const c = await ctx.client.showCluster(await ctx.clusterId(ref));
      ctx.out(ctx.json ? renderJson(c) : clusterText(c));
    });

  clusters
    .command('connect')
    .argument('<cluster>', 'name or id')
    .description('Print a ready redis-cli line for the cluster (HA: the primary now, and how to follow it through Sentinel).\nredis-cli asks for the cluster password (--askpass); with REDISCLI_AUTH set it takes it from there.')
    .addHelpText('after', '\nExamples:\n  $ cachestore clusters connect mycache\n  redis-cli -h 127.77.0.2 -p 6378 --askpass\n  $ echo "$CACHESTORE_CLUSTER_PASSWORD" | $(cachestore clusters connect mycache) PING')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const c = await ctx.client.showCluster(await ctx.clusterId(ref));
      const info = connectInfo(c);
      if (ctx.json) return ctx.out(renderJson(info));
      if (c.service_state !== 'RUNNING') ctx.note(`# cluster ${c.name} is ${c.service_state}: it answers once it is RUNNING`);
      ctx.out(connectText(info));
    });

  mutation(
    clusters
      .command('create')
      .argument('[name]', 'the cluster name: 3-20 letters (with --from-file: overrides the file\'s name)')
      .description('Create a cluster and wait until it runs. From flags, or from a Create Cluster body in JSON or YAML (--from-file).\nThe password comes from --password-file, --password-env, $' + PASSWORD_ENV + ', or a prompt; it is never shown again.')
      .addOption(new Option('--engine <engine>', 'redis (Redis OSS) or valkey').choices(['redis', 'valkey']).default('redis'))
      .option('--engine-version <version>', 'engine version, e.g. 7.0 or 7.0.15, or its id (default: the newest in service)')
      .option('--server-type <type>', 'e.g. redis1v2m4 (Redis, 2 vCPU, 4 GB) or css1v2m4 (Valkey); default the smallest')
      .option('--ha', 'a primary with replicas and Sentinels (automatic failover)')
      .option('--replicas <n>', 'replicas with --ha: 1 (default) or 2', int('--replicas'))
      .option('--password-file <file>', "read the cluster password from FILE ('-': stdin)")
      .option('--password-env <var>', 'read the cluster password from this environment variable')
      .option('--port <port>', 'database port (default 6378)', int('--port'))
      .option('--sentinel-port <port>', 'Sentinel port with --ha (default 26378)', int('--sentinel-port'))
      .option('--backup-retention <days>', 'turn daily backups on, kept this many days (7-35)', int('--backup-retention'))
      .option('--backup-hour <hour>', 'hour of the daily backup in the cluster time zone (0-23, default 3)', int('--backup-hour'))
      .option('--allow <addresses>', 'allow only these client addresses or CIDRs (comma-separated, repeatable)', list)
      .option('--prefix <prefix>', 'instance name prefix (default: from the name)')
      .option('--subnet <id>', 'subnet id', 'local-subnet')
      .option('--timezone <tz>', 'IANA time zone of the daily backup hour (default: this machine\'s)')
      .option('--data-size <gb>', 'DATA block storage in GB (56-5120, a multiple of 8)', int('--data-size'))
      .option('-f, --from-file <file>', "a Create Cluster body (JSON or YAML; '-': stdin); flags above are then ignored")
      .addHelpText(
        'after',
        [
          '',
          'Examples:',
          '  $ cachestore clusters create mycache                       # Redis, standalone, asks for the password',
          '  $ cachestore clusters create mycache --engine valkey --ha --replicas 2 --server-type css1v2m4',
          '  $ CACHESTORE_CLUSTER_PASSWORD=\'Secr3t!pass\' cachestore clusters create mycache --backup-retention 7 --allow 127.77.0.9',
          '  $ cachestore clusters create --from-file cluster.yaml --password-file pw.txt',
        ].join('\n'),
      ),
  ).action(async (name: string | undefined, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    let body: CreateClusterBody;
    if (o.fromFile) {
      const doc = readBodyFile(o.fromFile) as unknown as CreateClusterBody;
      if (name) doc.name = name;
      doc.init_config_option = { ...(doc.init_config_option ?? {}) } as CreateClusterBody['init_config_option'];
      if (!doc.init_config_option.database_user_password) doc.init_config_option.database_user_password = await clusterPassword(o, io);
      body = doc;
    } else {
      if (!name) throw new CliError('name the cluster: cachestore clusters create NAME (or give --from-file)');
      const versions = (await ctx.client.listEngineVersions({ eos_included: true })).contents;
      const version = pickEngineVersion(versions, o.engine as EngineName, o.engineVersion);
      body = createBodyFromFlags(
        {
          name,
          engine: o.engine,
          version: o.engineVersion,
          serverType: o.serverType,
          ha: o.ha,
          replicas: o.replicas,
          password: await clusterPassword(o, io),
          port: o.port,
          sentinelPort: o.sentinelPort,
          backupRetentionDays: o.backupRetention,
          backupHour: o.backupHour,
          allow: o.allow,
          prefix: o.prefix,
          subnet: o.subnet,
          timezone: o.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
          dataSizeGb: o.dataSize,
        },
        version,
      );
    }
    await ctx.mutate(`create ${body.name}`, () => ctx.client.createCluster(body), async (r) => {
      const c = await ctx.client.showCluster(r.resource.id);
      return `cluster ${c.name} is ${c.service_state} (id ${c.id}); connect with:\n${connectText(connectInfo(c))}`;
    });
  });

  const simple = (name: string, description: string, call: (ctx: Ctx, id: string) => Promise<import('../../contract/types.js').AsyncResponse>, example: string, alias?: string) => {
    const c = mutation(clusters.command(name).argument('<cluster>', 'name or id').description(description).addHelpText('after', `\nExample:\n  $ ${example}`));
    if (alias) c.alias(alias);
    c.action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const { id, name: shown } = await ctx.cluster(ref);
      await ctx.mutate(`${name} ${shown}`, () => call(ctx, id), async () => {
        const c = await ctx.client.showCluster(id);
        return `cluster ${c.name} is ${c.service_state}`;
      });
    });
  };
  simple('stop', 'Stop the cluster (its data is kept; it no longer answers).', (ctx, id) => ctx.client.stopCluster(id), 'cachestore clusters stop mycache');
  simple('start', 'Start a stopped cluster.', (ctx, id) => ctx.client.startCluster(id), 'cachestore clusters start mycache');
  simple('restart', 'Restart every process of the cluster (HA: one by one, the primary last after a switchover).', (ctx, id) => ctx.client.restartCluster(id), 'cachestore clusters restart mycache');
  simple('sync-state', 'Look at the processes again and record what runs (Synchronize Cluster State).', (ctx, id) => ctx.client.syncClusterState(id), 'cachestore clusters sync-state mycache', 'sync');

  mutation(
    clusters
      .command('delete')
      .alias('terminate')
      .argument('<cluster>', 'name or id')
      .option('-y, --yes', 'do not ask (needed when not on a terminal)')
      .description('Terminate the cluster: its processes and data files go.')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters delete mycache --yes'),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    if (!o.yes) {
      if (!canPrompt()) throw new CliError(`deleting ${name} needs --yes when not on a terminal`);
      if (!(await confirm(`Delete cluster ${name} (${id}) and its data?`))) throw new CliError('not deleted');
    }
    await ctx.mutate(`delete ${name}`, () => ctx.client.deleteCluster(id), () => `cluster ${name} is TERMINATED`);
  });

  mutation(
    clusters
      .command('switchover')
      .argument('<cluster>', 'name or id')
      .option('--to <instance>', 'the replica to promote (default: the first RUNNING replica)')
      .description('Make a replica the primary (HA clusters), with a short write pause and no acknowledged write lost.')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters switchover mycache --to myc-2'),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    let to: string | undefined = o.to;
    if (!to) {
      const c = await ctx.client.showCluster(id);
      to = c.instance_groups.flatMap((g) => g.instances ?? []).find((i) => i.role_type === 'REPLICA' && i.service_state === 'RUNNING')?.name;
      if (!to) throw new CliError(`cluster ${name} has no RUNNING replica to switch over to`);
    }
    await ctx.mutate(`switchover ${name} to ${to}`, () => ctx.client.switchoverCluster(id, to!), () => `${to} is the primary of ${name}`);
  });

  clusters
    .command('events')
    .argument('<cluster>', 'name or id')
    .description("The cluster's history: operations, resumes, and what the service found and repaired.")
    .addHelpText('after', '\nExample:\n  $ cachestore clusters events mycache')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const e = await ctx.client.listClusterEvents(await ctx.clusterId(ref));
      ctx.print(e, e.contents, [
        { header: 'AT', value: (x) => x.at },
        { header: 'REQUEST', value: (x) => x.request_id },
        { header: 'MESSAGE', value: (x) => x.message },
      ], 'no events');
    });

  mutation(
    clusters
      .command('set-server-type')
      .argument('<cluster>', 'name or id')
      .argument('<server-type>', 'e.g. redis1v2m4')
      .option('--group <role>', 'the instance group: MASTER, MASTER_REPLICA or SENTINEL (default: the data group)')
      .description('Change the server type (CPU, memory) of the data nodes; online when only memory changes.')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters set-server-type mycache redis1v2m4'),
  ).action(async (ref: string, type: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const c = await ctx.client.showCluster(await ctx.clusterId(ref));
    const group = c.instance_groups.find((g) => (o.group ? g.role_type === o.group.toUpperCase() : g.role_type !== 'SENTINEL'));
    if (!group) throw new CliError(`cluster ${c.name} has no ${o.group} group; its groups: ${c.instance_groups.map((g) => g.role_type).join(', ')}`);
    await ctx.mutate(`set-server-type ${c.name} ${type}`, () => ctx.client.setServerType(group.id, type));
  });

  mutation(
    clusters
      .command('set-storage-size')
      .argument('<cluster>', 'name or id')
      .argument('<gb>', 'new size in GB (a multiple of 8)', int('<gb>'))
      .option('--role <role>', 'the block storage group: DATA (default) or OS', 'DATA')
      .description('Resize a block storage group of the data nodes (Set Block Storage Size).')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters set-storage-size mycache 64'),
  ).action(async (ref: string, gb: number, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const c = await ctx.client.showCluster(await ctx.clusterId(ref));
    const bsg = c.instance_groups.filter((g) => g.role_type !== 'SENTINEL').flatMap((g) => g.block_storage_groups).find((b) => b.role_type === String(o.role).toUpperCase());
    if (!bsg) throw new CliError(`cluster ${c.name} has no ${o.role} block storage group`);
    await ctx.mutate(`set-storage-size ${c.name}`, () => ctx.client.setBlockStorageSize(bsg.id, gb));
  });

  mutation(
    clusters
      .command('allow')
      .argument('<cluster>', 'name or id')
      .option('--add <addresses>', 'addresses or CIDRs to allow (comma-separated, repeatable)', list, [])
      .option('--remove <addresses>', 'addresses or CIDRs to take off the list', list, [])
      .description('Change the allow-list: which client addresses may connect (Set Security Group Rules). An empty list allows the whole subnet.')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters allow mycache --add 127.77.0.9,127.77.1.0/24 --remove 127.77.0.8'),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    if (o.add.length === 0 && o.remove.length === 0) throw new CliError('give --add and/or --remove');
    await ctx.mutate(`allow-list of ${name}`, () => ctx.client.setSecurityGroupRules(id, { add_ip_addresses: o.add, del_ip_addresses: o.remove }), async () => {
      const c = await ctx.client.showCluster(id);
      return `allow-list of ${name}: ${c.allowable_ip_addresses?.length ? c.allowable_ip_addresses.join(', ') : 'any address of the subnet'}`;
    });
  });

  const maintenance = clusters.command('maintenance').description('The weekly maintenance window (Set / Unset Maintenance).');
  mutation(
    maintenance
      .command('set')
      .argument('<cluster>', 'name or id')
      .requiredOption('--day <day>', 'MON … SUN')
      .requiredOption('--start <HH:MM>', 'start time')
      .requiredOption('--hours <hours>', 'length: 0.5, 1 … 24')
      .description('Set the maintenance window.')
      .addHelpText('after', '\nExample:\n  $ cachestore clusters maintenance set mycache --day SUN --start 03:00 --hours 2'),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const m = /^(\d{1,2}):(\d{2})$/.exec(o.start);
    if (!m) throw new CliError(`--start takes HH:MM, got '${o.start}'`);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`maintenance of ${name}`, () =>
      ctx.client.setMaintenance(id, { start_day_of_week: String(o.day).toUpperCase(), start_time: m[1].padStart(2, '0'), start_minute: m[2], term_hour: o.hours }),
    );
  });
  mutation(maintenance.command('unset').argument('<cluster>', 'name or id').description('Remove the maintenance window.').addHelpText('after', '\nExample:\n  $ cachestore clusters maintenance unset mycache')).action(async (ref: string, _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`maintenance of ${name}`, () => ctx.client.unsetMaintenance(id));
  });

  return clusters;
}
