// List Commands; Update and Synchronize Commands answer 501 until renaming is built.
import type { CommandService } from '../../domain/command-service.js';
import { commandList } from '../serializers.js';
import type { Handler } from './handler.js';

export function commandHandlers(svc: CommandService): Record<string, Handler> {
  return {
    cachestoreListCommands: async ({ principal, params }) => ({ status: 200, body: commandList(await svc.list(principal, params.cluster_id)) }),
    cachestoreSetCommands: ({ principal, params }) => svc.notYet(principal, params.cluster_id, 'Update Commands'),
    cachestoreSyncCommands: ({ principal, params }) => svc.notYet(principal, params.cluster_id, 'Synchronize Commands'),
  };
}
