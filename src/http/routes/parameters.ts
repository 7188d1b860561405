// List Parameter Groups, List Parameters, List / Set / Synchronize Parameter Values.
import type { ParameterService } from '../../domain/parameter-service.js';
import { asyncResponse, parameterGroupList, parameterPage, parameterValues } from '../serializers.js';
import type { Handler } from './handler.js';

export function parameterHandlers(svc: ParameterService): Record<string, Handler> {
  return {
    cachestoreListParameterGroups: async ({ query }) => ({ status: 200, body: parameterGroupList(svc.groups(query)) }),
    cachestoreListParameters: async ({ query }) => ({ status: 200, body: parameterPage(svc.parameters(query as { dbaas_parameter_group_id: string })) }),
    cachestoreListParameterValues: async ({ principal, params }) => ({ status: 200, body: parameterValues(await svc.values(principal, params.cluster_id)) }),
    cachestoreSetParameterValues: async ({ principal, params, body }) => {
      const r = await svc.set(principal, params.cluster_id, body.parameters);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreSyncParameterValues: async ({ principal, params }) => {
      const r = await svc.sync(principal, params.cluster_id);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
