// List Commands: the command catalogue with the name each command answers to on the cluster's
// engines now. Renaming and disabling (Update / Synchronize Commands) are not built yet (README).
import { COMMAND_CATALOGUE, type CatalogueCommand } from '../engines/commands-catalog.js';
import { createHash } from 'node:crypto';
import { notFound } from './cluster-service.js';
import { NotImplementedError } from './errors.js';
import type { Cluster } from './model.js';
import type { EngineConfigReader, Store } from './ports.js';
import type { Principal } from './principal.js';

export interface CommandView {
  id: string;
  command: CatalogueCommand;
  /** The name the engines answer to: the command's own while it is neither renamed nor disabled; null when no engine answers. */
  applied: string | null;
}

export function commandId(name: string): string {
  return createHash('sha256').update(`cachestore-command:${name}`).digest('hex').slice(0, 32);
}

export class CommandService {
  constructor(private readonly deps: { store: Store; engines: EngineConfigReader }) {}

  async list(p: Principal, id: string): Promise<{ cluster: Cluster; commands: CommandView[] }> {
    const cluster = await this.deps.store.findCluster(p.accountId, id);
    if (!cluster) throw notFound(id);
    const known = await this.deps.engines.knownCommands(id, COMMAND_CATALOGUE.map((c) => c.name));
    return {
      cluster,
      commands: COMMAND_CATALOGUE.map((command) => ({
        id: commandId(command.name),
        command,
        // Nothing renames commands yet, so a command the engine lacks is one it never had.
        applied: known === null ? null : known[command.name] ? command.name : 'DISABLED',
      })),
    };
  }

  async notYet(p: Principal, id: string, what: string): Promise<never> {
    const cluster = await this.deps.store.findCluster(p.accountId, id);
    if (!cluster) throw notFound(id);
    throw new NotImplementedError(
      `${what} is not implemented yet: renaming or disabling a command needs every node's append-only file rewritten in a ` +
        'coordinated rolling restart, which is not built. List Commands shows the catalogue; every command runs under its own name.',
    );
  }
}
