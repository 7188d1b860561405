// `cachestore parameters …` and `cachestore commands …`: a cluster's engine parameters and the
// names its commands answer to (renamed or disabled).
import { Command } from 'commander';
import type { CommandItem, ParameterValue } from '../../contract/types.js';
import { CliError, Ctx, mutation, type Io } from '../context.js';

/** NAME=VALUE arguments; the value may contain '='. */
export function assignments(args: string[], what: string): Array<[string, string]> {
  return args.map((a) => {
    const i = a.indexOf('=');
    if (i <= 0) throw new CliError(`${what} are given as NAME=VALUE, got '${a}'`);
    return [a.slice(0, i), a.slice(i + 1)];
  });
}

export function parametersCommand(io: Io): Command {
  const parameters = new Command('parameters').alias('params').summary("a cluster's engine parameters").description("A cluster's engine parameters (CONFIG values), as the engines run them. The parameters of the catalogue: cachestore catalogue parameters.");

  parameters
    .command('list')
    .alias('ls')
    .argument('<cluster>', 'name or id')
    .option('--modifiable', 'only the ones that can be changed')
    .description('List the parameter values of a cluster.')
    .addHelpText('after', '\nExample:\n  $ cachestore parameters list mycache --modifiable')
    .action(async (ref: string, o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listParameterValues(await ctx.clusterId(ref));
      const rows = o.modifiable ? r.contents.filter((p) => p.is_modifiable) : r.contents;
      ctx.print(o.modifiable ? { ...r, contents: rows, count: rows.length } : r, rows, [
        { header: 'NAME', value: (p: ParameterValue) => p.name },
        { header: 'VALUE', value: (p) => p.applied_value },
        { header: 'DEFAULT', value: (p) => p.default_value },
        { header: 'MODIFIABLE', value: (p) => (p.is_modifiable ? 'yes' : 'no') },
        { header: 'APPLY', value: (p) => p.apply_type },
        { header: 'ALLOWED', value: (p) => p.allows_value },
      ], 'no parameters');
    });

  mutation(
    parameters
      .command('set')
      .argument('<cluster>', 'name or id')
      .argument('<name=value...>', 'parameters to change')
      .description('Change parameter values on every node (online where the engine allows, else a rolling restart).')
      .addHelpText('after', '\nExample:\n  $ cachestore parameters set mycache maxmemory-policy=allkeys-lru timeout=300'),
  ).action(async (ref: string, args: string[], _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    const wanted = assignments(args, 'parameters');
    const current = (await ctx.client.listParameterValues(id)).contents;
    const items = wanted.map(([n, v]) => {
      const p = current.find((x) => x.name === n);
      if (!p) throw new CliError(`${n} is not a parameter of ${name}; 'cachestore parameters list ${name}' shows them`);
      return { id: p.id, old_value: p.applied_value, new_value: v };
    });
    await ctx.mutate(`set parameters of ${name}`, () => ctx.client.setParameterValues(id, { parameters: items }));
  });

  mutation(
    parameters.command('sync').argument('<cluster>', 'name or id').description('Read the values the engines run and record them (Synchronize Parameter Values).').addHelpText('after', '\nExample:\n  $ cachestore parameters sync mycache'),
  ).action(async (ref: string, _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`sync parameters of ${name}`, () => ctx.client.syncParameterValues(id));
  });
  return parameters;
}

export function commandsCommand(io: Io): Command {
  const commands = new Command('commands').summary('rename or disable engine commands of a cluster').description('The names engine commands answer to on a cluster: rename one, disable it (DISABLED), or give it its own name back.');

  commands
    .command('list')
    .alias('ls')
    .argument('<cluster>', 'name or id')
    .description('List the commands of a cluster and the name each answers to.')
    .addHelpText('after', '\nExample:\n  $ cachestore commands list mycache')
    .action(async (ref: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listCommands(await ctx.clusterId(ref));
      ctx.print(r, r.contents, [
        { header: 'COMMAND', value: (c: CommandItem) => c.name },
        { header: 'ANSWERS TO', value: (c) => c.applied_value },
        { header: 'MODIFIABLE', value: (c) => (c.modifiable ? 'yes' : 'no') },
        { header: 'DESCRIPTION', value: (c) => c.description },
      ], 'no commands');
    });

  mutation(
    commands
      .command('set')
      .argument('<cluster>', 'name or id')
      .argument('<command=name...>', 'COMMAND=NEWNAME, COMMAND=DISABLED, or COMMAND=COMMAND to undo')
      .description('Rename or disable commands on every node.')
      .addHelpText('after', '\nExample:\n  $ cachestore commands set mycache FLUSHALL=DISABLED KEYS=MYKEYS'),
  ).action(async (ref: string, args: string[], _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    const current = (await ctx.client.listCommands(id)).contents;
    const items = assignments(args, 'commands').map(([n, v]) => {
      const c = current.find((x) => x.name.toUpperCase() === n.toUpperCase());
      if (!c) throw new CliError(`${n} is not a command of the catalogue; 'cachestore commands list ${name}' shows them`);
      return { id: c.id, name: c.name, new_value: v };
    });
    await ctx.mutate(`set commands of ${name}`, () => ctx.client.setCommands(id, { commands: items }));
  });

  mutation(
    commands.command('sync').argument('<cluster>', 'name or id').description('Ask the engines which name each command answers to, and roll the recorded names out again where they differ.').addHelpText('after', '\nExample:\n  $ cachestore commands sync mycache'),
  ).action(async (ref: string, _o, cmd: Command) => {
    const ctx = Ctx.of(cmd, io);
    const { id, name } = await ctx.cluster(ref);
    await ctx.mutate(`sync commands of ${name}`, () => ctx.client.syncCommands(id));
  });
  return commands;
}
