// Set Security Group Rules (the cluster's allow-list).
import type { SecurityGroupService } from '../../domain/security-group-service.js';
import { asyncResponse } from '../serializers.js';
import type { Handler } from './handler.js';

export function securityGroupHandlers(svc: SecurityGroupService): Record<string, Handler> {
  return {
    cachestoreSetSecurityGroupRules: async ({ principal, params, body }) => {
      const r = await svc.setRules(principal, params.cluster_id, body);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
  };
}
