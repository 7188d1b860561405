// Set Server Type of an instance group.
import type { ServerTypeService } from '../../domain/server-type-change.js';
import { asyncResponse } from '../serializers.js';
import type { Handler } from './handler.js';

export function serverTypeHandlers(svc: ServerTypeService): Record<string, Handler> {
  return {
    cachestoreSetServerType: async ({ principal, params, body }) => {
      const r = await svc.set(principal, params.instance_group_id, body.server_type_name);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
