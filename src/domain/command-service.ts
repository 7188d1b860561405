// List, Update and Synchronize Commands. The catalogue (src/engines/commands-catalog.ts) says
// which commands the tenant may rename or disable; every new name is checked here, against the
// catalogue and the commands the engine knows, before a request is recorded.
import { createHash } from 'node:crypto';
import { COMMAND_CATALOGUE, DISABLED, type CatalogueCommand } from './command-catalog.js';
import { notFound, type ClusterService, type Submitted } from './cluster-service.js';
import { InvalidStateError, ValidationError, type FieldProblem } from './errors.js';
import { assertCanStart, busyError } from './lifecycle.js';
import type { Cluster } from './model.js';
import type { EngineConfigReader, Store } from './ports.js';
import type { Principal } from './principal.js';

export interface CommandView {
  id: string;
  command: CatalogueCommand;
  /** The name the engines answer to: its own, the new one, or DISABLED; null when no engine answers. */
  applied: string | null;
}

export interface CommandRequestItem {
  id: string;
  name: string;
  new_value: string;
}

export function commandId(name: string): string {
  return createHash('sha256').update(`cachestore-command:${name}`).digest('hex').slice(0, 32);
}

/** A new name the engines read safely from a configuration file. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

export class CommandService {
  constructor(private readonly deps: { store: Store; engines: EngineConfigReader; clusters: ClusterService }) {}

  private async cluster(p: Principal, id: string): Promise<Cluster> {
    const c = await this.deps.store.findCluster(p.accountId, id);
    if (!c) throw notFound(id);
    return c;
  }

  async list(p: Principal, id: string): Promise<{ cluster: Cluster; commands: CommandView[] }> {
    const cluster = await this.cluster(p, id);
    const renamed = Object.values(cluster.commands).filter((v) => v !== '');
    const known = await this.deps.engines.knownCommands(id, [...COMMAND_CATALOGUE.map((c) => c.name), ...renamed]);
    return {
      cluster,
      commands: COMMAND_CATALOGUE.map((command) => {
        const to = cluster.commands[command.name];
        let applied: string | null = null;
        if (known) applied = known[command.name] ? command.name : to && known[to] ? to : DISABLED;
        return { id: commandId(command.name), command, applied };
      }),
    };
  }

  /**
   * Update Commands: `new_value` is the new name, DISABLED to disable the command, or the
   * command's own name to give it back. 400 naming each problem; nothing is recorded then.
   */
  async update(p: Principal, id: string, items: CommandRequestItem[]): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    const active = await this.deps.store.activeRequest(id);
    if (active) throw busyError(cluster, active.id);
    assertCanStart(cluster, 'set-commands');
    if (items.length === 0) throw ValidationError.field(['body', 'commands'], 'name at least one command to change (List Commands shows them)');
    const byId = new Map(COMMAND_CATALOGUE.map((c) => [commandId(c.name), c]));
    const problems: FieldProblem[] = [];
    const problem = (i: number, field: string, msg: string) => problems.push({ loc: ['body', 'commands', String(i), field], msg, type_: 'value_error' });
    const map = { ...cluster.commands };
    const seen = new Set<string>();
    const asked: Array<{ i: number; to: string }> = [];
    items.forEach((item, i) => {
      // The id List Commands shows; the command's name is accepted as the id too.
      const command = byId.get(item.id) ?? COMMAND_CATALOGUE.find((c) => c.name === item.id.toUpperCase());
      if (!command) return problem(i, 'id', `'${item.id}' is not a command of the catalogue; List Commands shows the ids`);
      if (item.name.toUpperCase() !== command.name) return problem(i, 'name', `is '${item.name}' but id ${item.id} is ${command.name}`);
      if (seen.has(command.name)) return problem(i, 'id', `${command.name} is named twice; name each command once`);
      seen.add(command.name);
      if (!command.modifiable) return problem(i, 'id', `${command.name} is owned by the service and cannot be renamed or disabled`);
      const value = item.new_value.trim();
      if (value.toUpperCase() === DISABLED) map[command.name] = '';
      else if (value.toUpperCase() === command.name) delete map[command.name];
      else if (!NAME.test(value)) return problem(i, 'new_value', `${command.name}: '${item.new_value}' is not a command name (a letter, then letters, digits, '-' or '_'), nor ${DISABLED}`);
      else if (COMMAND_CATALOGUE.some((c) => c.name === value.toUpperCase())) return problem(i, 'new_value', `${command.name}: '${value}' is the name of another command`);
      else {
        map[command.name] = value.toUpperCase();
        asked.push({ i, to: value.toUpperCase() });
      }
    });
    // Two commands may not end with the same name.
    const owners = new Map<string, string>();
    for (const [c, to] of Object.entries(map)) {
      if (to === '') continue;
      const other = owners.get(to);
      if (other) {
        const at = [...asked].reverse().find((a) => a.to === to);
        problem(at?.i ?? 0, 'new_value', `${to} would name both ${other} and ${c}`);
      }
      owners.set(to, c);
    }
    if (problems.length > 0) throw new ValidationError(summary(problems), problems);
    // A new name may not be a command the engine has (it would not start); a name this
    // cluster already gave the same command is fine.
    const known = await this.deps.engines.knownCommands(id, asked.map((a) => a.to));
    if (!known) throw new InvalidStateError(`The engines of cluster '${cluster.name}' do not answer now; Synchronize Cluster State shows why. Nothing was changed.`);
    for (const a of asked) {
      const mine = Object.entries(cluster.commands).some(([, to]) => to === a.to);
      if (known[a.to] && !mine) problem(a.i, 'new_value', `'${a.to}' is a command of the engine already`);
    }
    if (problems.length > 0) throw new ValidationError(summary(problems), problems);
    // A rename restarts every data node: it waits for the maintenance window.
    return this.deps.clusters.beginInWindow(p, cluster, 'set-commands', { map }, true);
  }

  async sync(p: Principal, id: string): Promise<Submitted> {
    const cluster = await this.cluster(p, id);
    return this.deps.clusters.begin(p, cluster, 'sync-commands', null);
  }
}

function summary(problems: FieldProblem[]): string {
  return problems.map((p) => `${p.loc.join('.')}: ${p.msg}`).join('; ');
}
