// Create, List, Show, Stop, Start, Restart, Terminate, Switchover and Synchronize Cluster; Show Request.
import type { ClusterService } from '../../domain/cluster-service.js';
import { asyncResponse, clusterDetail, clusterPage, requestDetail, requestState } from '../serializers.js';
import type { Handler } from './handler.js';

export function clusterHandlers(svc: ClusterService): Record<string, Handler> {
  const mutation =
    (op: 'stop' | 'start' | 'restart' | 'terminate' | 'sync'): Handler =>
    async ({ principal, params }) => {
      const r = await svc.mutate(principal, params.cluster_id, op);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    };
  return {
    cachestoreCreateCluster: async ({ principal, body }) => {
      const r = await svc.create(principal, body);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreListClusters: async ({ principal, query }) => ({ status: 200, body: clusterPage(await svc.list(principal, query)) }),
    cachestoreShowCluster: async ({ principal, params }) => ({ status: 200, body: clusterDetail(await svc.show(principal, params.cluster_id)) }),
    cachestoreStopCluster: mutation('stop'),
    cachestoreStartCluster: mutation('start'),
    cachestoreRestartCluster: mutation('restart'),
    cachestoreDeleteCluster: mutation('terminate'),
    cachestoreSyncClusterState: mutation('sync'),
    cachestoreSwitchoverCluster: async ({ principal, params, body }) => {
      const r = await svc.switchover(principal, params.cluster_id, body.switch_host_name);
      return { status: 202, body: asyncResponse(r.requestId, r.clusterId) };
    },
    cachestoreShowRequest: async ({ principal, params }) => ({ status: 200, body: requestState(await svc.request(principal, params.request_id)) }),
    // Extensions
    cachestoreExtShowRequestDetails: async ({ principal, params }) => ({ status: 200, body: requestDetail(await svc.request(principal, params.request_id)) }),
    cachestoreExtListClusterEvents: async ({ principal, params }) => {
      const events = await svc.events(principal, params.cluster_id);
      return { status: 200, body: { contents: events.map((e) => ({ at: e.at, request_id: e.requestId, message: e.message })), total_count: events.length } };
    },
  };
}
