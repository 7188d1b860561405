// List, Update and Synchronize Commands.
import type { CommandService } from '../../domain/command-service.js';
import { asyncResponse, commandList } from '../serializers.js';
import type { Handler } from './handler.js';

export function commandHandlers(svc: CommandService): Record<string, Handler> {
  return {
    cachestoreListCommands: async ({ principal, params }) => ({ status: 200, body: commandList(await svc.list(principal, params.cluster_id)) }),
    cachestoreSetCommands: async ({ principal, params, body }) => {
      const r = await svc.update(principal, params.cluster_id, body.commands);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreSyncCommands: async ({ principal, params }) => {
      const r = await svc.sync(principal, params.cluster_id);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
