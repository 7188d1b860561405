// Set / Unset Maintenance: the cluster's weekly maintenance window.
import type { MaintenanceService } from '../../domain/maintenance-service.js';
import { asyncResponse } from '../serializers.js';
import type { Handler } from './handler.js';

export function maintenanceHandlers(svc: MaintenanceService): Record<string, Handler> {
  return {
    cachestoreSetMaintenance: async ({ principal, params, body }) => {
      const r = await svc.set(principal, params.cluster_id, body);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreUnsetMaintenance: async ({ principal, params }) => {
      const r = await svc.unset(principal, params.cluster_id);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
