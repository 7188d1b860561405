// `cachestore catalogue …`: what the service offers — engine versions and their properties,
// server types, parameter groups and their parameters.
import { Command, Option } from 'commander';
import type { EngineVersionItem, ParameterCatalogueItem, ParameterGroupItem, ServerTypeItem } from '../../contract/types.js';
import { Ctx, type Io } from '../context.js';
import { PRODUCT_IMAGE, type EngineName } from '../create-body.js';

const engineOption = () => new Option('--engine <engine>', 'only redis or valkey').choices(['redis', 'valkey']);

export function catalogueCommand(io: Io): Command {
  const catalogue = new Command('catalogue').alias('catalog').summary('engine versions, server types, parameter groups and parameters').description('What the service offers: engine versions (what it finds installed), server types, parameter groups and their parameters.');

  catalogue
    .command('engine-versions')
    .alias('engines')
    .addOption(engineOption())
    .option('--include-eos', 'also versions past their end of service')
    .description('List engine versions (the id is what a Create Cluster body names).')
    .addHelpText('after', '\nExample:\n  $ cachestore catalogue engine-versions --engine valkey')
    .action(async (o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listEngineVersions({ product_image_type: o.engine ? PRODUCT_IMAGE[o.engine as EngineName] : undefined, eos_included: o.includeEos ? true : undefined });
      ctx.print(r, r.contents, [
        { header: 'NAME', value: (v: EngineVersionItem) => v.name },
        { header: 'VERSION', value: (v) => v.software_version },
        { header: 'PRODUCT', value: (v) => v.product_image_type },
        { header: 'EOS', value: (v) => (v.end_of_service ? 'yes' : 'no') },
        { header: 'ID', value: (v) => v.id },
      ], 'no engine versions');
    });

  catalogue
    .command('engine-properties')
    .argument('<engine-version-id>', 'from engine-versions')
    .description('List the properties of an engine version.')
    .addHelpText('after', '\nExample:\n  $ cachestore catalogue engine-properties "$(cachestore catalogue engine-versions --engine redis -o json | jq -r .contents[0].id)"')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listEngineVersionProperties(id);
      ctx.print(r, r.contents, [
        { header: 'NAME', value: (p: { name: string; value: string }) => p.name },
        { header: 'VALUE', value: (p) => p.value },
      ], 'no properties');
    });

  catalogue
    .command('server-types')
    .alias('types')
    .addOption(engineOption())
    .description('List server types (CPU and memory of each node).')
    .addHelpText('after', '\nExample:\n  $ cachestore catalogue server-types --engine redis')
    .action(async (o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listServerTypes({ product_image_type: o.engine ? PRODUCT_IMAGE[o.engine as EngineName] : undefined });
      ctx.print(r, r.contents, [
        { header: 'NAME', value: (t: ServerTypeItem) => t.name },
        { header: 'VCPU', value: (t) => t.cpu_core },
        { header: 'MEMORY GB', value: (t) => t.memory_gb },
        { header: 'PRODUCT', value: (t) => t.product_image_type },
        { header: 'DESCRIPTION', value: (t) => t.description },
      ], 'no server types');
    });

  catalogue
    .command('parameter-groups')
    .addOption(engineOption())
    .option('--major-version <v>', 'only this major version')
    .description('List parameter groups (one per engine and major version).')
    .addHelpText('after', '\nExample:\n  $ cachestore catalogue parameter-groups')
    .action(async (o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listParameterGroups({ product_image_type: o.engine ? PRODUCT_IMAGE[o.engine as EngineName] : undefined, major_version: o.majorVersion });
      ctx.print(r, r.contents, [
        { header: 'NAME', value: (g: ParameterGroupItem) => g.name },
        { header: 'MAJOR', value: (g) => g.major_version },
        { header: 'PRODUCT', value: (g) => g.product_image_type },
        { header: 'ID', value: (g) => g.id },
      ], 'no parameter groups');
    });

  catalogue
    .command('parameters')
    .argument('<parameter-group-id>', 'from parameter-groups')
    .option('--page <n>', 'page, from 0', '0')
    .option('--size <n>', 'parameters per page', '1000')
    .description('List the parameters of a parameter group with their defaults.')
    .addHelpText('after', '\nExample:\n  $ cachestore catalogue parameters <parameter-group-id>')
    .action(async (id: string, o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const r = await ctx.client.listParameters({ dbaas_parameter_group_id: id, page: Number(o.page), size: Number(o.size) });
      ctx.print(r, r.contents, [
        { header: 'NAME', value: (p: ParameterCatalogueItem) => p.name },
        { header: 'DEFAULT', value: (p) => p.default_value },
        { header: 'DESCRIPTION', value: (p) => p.description },
      ], 'no parameters');
    });
  return catalogue;
}
