// `cachestore backups …` (list, ranges, create, remove, schedule, unschedule) and `cachestore restore`.
import { Command } from 'commander';
import type { BackupHistoryItem, RestorableRangesResponse } from '../../contract/types.js';
import { connectInfo, connectText } from '../connect.js';
import { CliError, Ctx, list, mutation, type Io } from '../context.js';

export function backupsCommand(io: Io): Command {
  const backups = new Command('backups').alias('backup').summary('take, list, remove and schedule backups').description('Backups of a cluster: on demand (each one verified by loading it), daily on a schedule, and their removal.\nTo restore one, see: cachestore restore --help');

  backups
    .command('list')
    .alias('ls')
    .argument('<cluster>', 'name or id')
    .description('List the backups of a cluster, newest first.')
    .addHelpText('after', '\nExample:\n  $ cachestore backups list mycache')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listBackupHistories(await ctx.clusterId(ref));
      ctx.print(r, r.contents, [
        { header: 'NUMBER', value: (b: BackupHistoryItem) => b.backup_history_number },
        { header: 'STATE', value: (b) => b.backup_state },
        { header: 'STARTED', value: (b) => b.backup_start_at },
        { header: 'ENDED', value: (b) => b.backup_end_at },
        { header: 'SIZE GB', value: (b) => (b.backup_size_gb ?? 0).toFixed(3) },
        { header: 'VERSION', value: (b) => b.software_version },
        { header: 'DETAIL', value: (b) => b.backup_state_detail },
      ], 'no backups');
    });

  backups
    .command('ranges')
    .argument('<cluster>', 'name or id')
    .description('List the times a point-in-time restore accepts now (cachestore restore --time): one range per completed backup, oldest first.')
    .addHelpText('after', '\nExample:\n  $ cachestore backups ranges mycache')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listRestorableRanges(await ctx.clusterId(ref));
      ctx.print(r, r.contents, [
        { header: 'BACKUP', value: (b: RestorableRangesResponse['contents'][number]) => b.backup_history_number },
        { header: 'FROM', value: (b) => b.from },
        { header: 'TO', value: (b) => b.to },
      ], 'no restorable range (no completed backup)');
    });

  mutation(
    backups
      .command('create')
      .argument('<cluster>', 'name or id')
      .description('Take a backup now (on a replica when there is one) and wait until it is stored and verified.')
      .addHelpText('after', '\nExample:\n  $ cachestore backups create mycache'),
  ).action(async (ref: string, _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`backup of ${name}`, () => ctx.client.createBackup(id), (r) => `backup ${r.resource.id} of ${name} is COMPLETED`);
  });

  mutation(
    backups
      .command('remove')
      .alias('rm')
      .argument('<cluster>', 'name or id')
      .argument('<numbers...>', 'backup numbers (cachestore backups list shows them)')
      .description('Remove backups of a cluster.')
      .addHelpText('after', '\nExample:\n  $ cachestore backups remove mycache 3f2c…'),
  ).action(async (ref: string, numbers: string[], _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`remove backups of ${name}`, () => ctx.client.removeBackupHistories(id, numbers));
  });

  mutation(
    backups
      .command('schedule')
      .argument('<cluster>', 'name or id')
      .requiredOption('--retention <days>', 'keep daily backups this many days (7-35)')
      .option('--hour <hour>', 'hour of the daily backup in the cluster time zone (0-23)', '3')
      .description('Turn daily backups on, or change their hour or retention (Set Backup).')
      .addHelpText('after', '\nExample:\n  $ cachestore backups schedule mycache --retention 7 --hour 3'),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`backup schedule of ${name}`, () => ctx.client.setBackup(id, { retention_period_day: String(o.retention), starting_time_hour: String(o.hour) }), () => `${name}: daily backups at ${o.hour}:00, kept ${o.retention} days`);
  });

  mutation(
    backups
      .command('unschedule')
      .argument('<cluster>', 'name or id')
      .description('Turn daily backups off (Unset Backup); existing backups stay until removed.')
      .addHelpText('after', '\nExample:\n  $ cachestore backups unschedule mycache'),
  ).action(async (ref: string, _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`backup schedule of ${name}`, () => ctx.client.unsetBackup(id), () => `${name}: daily backups are off`);
  });

  return backups;
}

export function restoreCommand(io: Io): Command {
  return mutation(
    new Command('restore')
      .summary('restore a backup, or the data as of a second, into a new cluster')
      .argument('<source>', 'the cluster whose backups to use (name or id)')
      .requiredOption('--name <name>', 'the new cluster (3-20 letters)')
      .option('--backup <number>', 'restore this backup (cachestore backups list)')
      .option('--time <iso-time>', "restore the data as it stood at this second, e.g. 2026-12-01T08:00:00Z (covered by a backup and its write log); 'now' for the latest second")
      .option('--server-type <type>', 'server type of the new cluster (default: the source\'s)')
      .option('--prefix <prefix>', 'instance name prefix (default: from the name)')
      .option('--allow <addresses>', 'allow-list of the new cluster (comma-separated)', list)
      .description("Create a new cluster from the source's backups: one backup (--backup) or the data at a second (--time).\nThe new cluster has the source's engine, topology, port and password.")
      .addHelpText(
        'after',
        [
          '',
          'Examples:',
          '  $ cachestore restore mycache --name mycopy --backup 5d0f…',
          '  $ cachestore restore mycache --name mycopy --time 2026-12-01T08:00:00Z',
        ].join('\n'),
      ),
  ).action(async (ref: string, o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    if ((o.backup === undefined) === (o.time === undefined)) throw new CliError('give exactly one of --backup NUMBER or --time ISO-TIME');
    let time: string | undefined;
    if (o.time !== undefined) {
      const t = o.time === 'now' ? new Date(Math.floor(Date.now() / 1000) * 1000) : new Date(o.time);
      if (Number.isNaN(t.getTime())) throw new CliError(`--time takes an ISO 8601 time such as 2026-12-01T08:00:00Z, got '${o.time}'`);
      time = t.toISOString();
    }
    const { id, name } = await ctx.cluster(ref);
    let type: string | undefined = o.serverType;
    if (!type) {
      const src = await ctx.client.showCluster(id);
      type = src.instance_groups.find((g) => g.role_type !== 'SENTINEL')?.server_type_name;
    }
    await ctx.mutate(
      `restore ${name} into ${o.name}`,
      () =>
        ctx.client.createRestore(id, {
          name: o.name,
          instance_name_prefix: o.prefix ?? String(o.name).toLowerCase().slice(0, 13),
          server_type_name: type!,
          ...(o.backup !== undefined ? { backup_history_number: o.backup } : { backup_recovery_time: time }),
          ...(o.allow ? { allowable_ip_addresses: o.allow } : {}),
        }),
      async (r) => {
        const c = await ctx.client.showCluster(r.resource.id);
        return `cluster ${c.name} is ${c.service_state} (id ${c.id}), restored from ${name}; connect with:\n${connectText(connectInfo(c))}`;
      },
    );
  });
}
