// A typed client for the Cache Store 1.0 API and this service's extensions: one method per
// operation, signed as the vendor's SDK signs. Methods resolve with the response body and throw
// ApiError (the contract's error, one line) or ConnectionError.
import type {
  AsyncResponse,
  BackupHistoryListResponse,
  BackupSettingBody,
  ClusterDetailResponse,
  ClusterEventsResponse,
  ClusterPageResponse,
  RestorableRangesResponse,
  CommandListResponse,
  CreateClusterBody,
  EngineListResponse,
  EnginePropertyListResponse,
  ListClustersQuery,
  MaintenanceBody,
  ModifyCommandBody,
  ParameterGroupListResponse,
  ParameterPageResponse,
  ParameterValuesResponse,
  RequestDetailResponse,
  RequestStateResponse,
  RestoreClusterBody,
  SecurityGroupRulesBody,
  ServerTypeListResponse,
  SetParametersBody,
} from '../contract/types.js';
import { ApiError, apiErrorFrom, ConnectionError } from './errors.js';
import { signedHeaders, type Keys } from './signing.js';
import { waitForRequest, type WaitOptions, type WaitResult } from './waiters.js';

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  endpoint: string;
  keys: Keys;
  /** Per-call HTTP timeout (default 30 s). */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | null | undefined>;

/** Which client method serves each operation (the contract's operationId, and the extensions'). */
export const OPERATION_METHODS = {
  cachestoreListClusters: 'listClusters',
  cachestoreCreateCluster: 'createCluster',
  cachestoreShowCluster: 'showCluster',
  cachestoreDeleteCluster: 'deleteCluster',
  cachestoreStopCluster: 'stopCluster',
  cachestoreStartCluster: 'startCluster',
  cachestoreRestartCluster: 'restartCluster',
  cachestoreSwitchoverCluster: 'switchoverCluster',
  cachestoreSyncClusterState: 'syncClusterState',
  cachestoreListBackupHistories: 'listBackupHistories',
  cachestoreRemoveBackupHistories: 'removeBackupHistories',
  cachestoreSetBackup: 'setBackup',
  cachestoreUnsetBackup: 'unsetBackup',
  cachestoreCreateRestore: 'createRestore',
  cachestoreListCommands: 'listCommands',
  cachestoreSetCommands: 'setCommands',
  cachestoreSyncCommands: 'syncCommands',
  cachestoreSetMaintenance: 'setMaintenance',
  cachestoreUnsetMaintenance: 'unsetMaintenance',
  cachestoreListParameterValues: 'listParameterValues',
  cachestoreSetParameterValues: 'setParameterValues',
  cachestoreSyncParameterValues: 'syncParameterValues',
  cachestoreSetSecurityGroupRules: 'setSecurityGroupRules',
  cachestoreListEngineVersions: 'listEngineVersions',
  cachestoreListEngineVersionProperties: 'listEngineVersionProperties',
  cachestoreListServerTypes: 'listServerTypes',
  cachestoreListParameterGroups: 'listParameterGroups',
  cachestoreListParameters: 'listParameters',
  cachestoreSetServerType: 'setServerType',
  cachestoreSetBlockStorageSize: 'setBlockStorageSize',
  cachestoreShowRequest: 'showRequest',
  // Extensions (x-cachestore-extension)
  cachestoreExtShowRequestDetails: 'showRequestDetails',
  cachestoreExtCreateBackup: 'createBackup',
  cachestoreExtListClusterEvents: 'listClusterEvents',
  cachestoreExtListRestorableRanges: 'listRestorableRanges',
} as const satisfies Record<string, keyof CacheStoreClient>;

const seg = encodeURIComponent;

export class CacheStoreClient {
  readonly endpoint: string;
  readonly keys: Keys;
  private readonly timeoutMs: number;

  constructor(o: ClientOptions) {
    this.endpoint = o.endpoint.replace(/\/+$/, '');
    this.keys = o.keys;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** Any call, signed; 2xx resolves with the parsed body, anything else throws ApiError. */
  async request<T>(method: string, path: string, o: { query?: Query; body?: unknown } = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== null && v !== '') qs.append(k, String(v));
    const q = qs.toString();
    // The signed URL must be the URL as sent: built once, used for both.
    const url = `${this.endpoint}${path}${q ? `?${q}` : ''}`;
    const headers = signedHeaders(this.keys, method, url);
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new ConnectionError(this.endpoint, err);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: reported as text
    }
    if (res.status < 200 || res.status > 299) throw apiErrorFrom(res.status, body);
    return body as T;
  }

  // Clusters
  listClusters(q: ListClustersQuery = {}) {
    return this.request<ClusterPageResponse>('GET', '/v1/clusters', { query: { ...q } });
  }
  createCluster(body: CreateClusterBody) {
    return this.request<AsyncResponse>('POST', '/v1/clusters', { body });
  }
  showCluster(clusterId: string) {
    return this.request<ClusterDetailResponse>('GET', `/v1/clusters/${seg(clusterId)}`);
  }
  deleteCluster(clusterId: string) {
    return this.request<AsyncResponse>('DELETE', `/v1/clusters/${seg(clusterId)}`);
  }
  stopCluster(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/stop`);
  }
  startCluster(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/start`);
  }
  restartCluster(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/restart`);
  }
  /** `switchHostName`: the replica's instance name, as Show Cluster shows it. */
  switchoverCluster(clusterId: string, switchHostName: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/switchover`, { body: { switch_host_name: switchHostName } });
  }
  syncClusterState(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/sync-state`);
  }
  setSecurityGroupRules(clusterId: string, body: SecurityGroupRulesBody) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/security-group-rules`, { body });
  }
  setServerType(instanceGroupId: string, serverTypeName: string) {
    return this.request<AsyncResponse>('POST', `/v1/instance-groups/${seg(instanceGroupId)}/resize`, { body: { server_type_name: serverTypeName } });
  }
  setBlockStorageSize(blockStorageGroupId: string, sizeGb: number) {
    return this.request<AsyncResponse>('POST', `/v1/block-storage-groups/${seg(blockStorageGroupId)}/resize`, { body: { size_gb: sizeGb } });
  }
  setMaintenance(clusterId: string, body: MaintenanceBody) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/maintenance`, { body });
  }
  unsetMaintenance(clusterId: string) {
    return this.request<AsyncResponse>('DELETE', `/v1/clusters/${seg(clusterId)}/maintenance`);
  }
  /** Extension: the cluster's history of operations and what the reconciler found. */
  listClusterEvents(clusterId: string) {
    return this.request<ClusterEventsResponse>('GET', `/v1/clusters/${seg(clusterId)}/events`);
  }

  // Backups and restore
  /** Extension: the times Create Restore Cluster accepts as backup_recovery_time now. */
  listRestorableRanges(clusterId: string) {
    return this.request<RestorableRangesResponse>('GET', `/v1/clusters/${seg(clusterId)}/restorable-ranges`);
  }
  listBackupHistories(clusterId: string, q: { limit?: number; page?: number } = {}) {
    return this.request<BackupHistoryListResponse>('GET', `/v1/clusters/${seg(clusterId)}/backup-histories`, { query: q });
  }
  /** Extension: a backup now; the response's resource id is the backup_history_number. */
  createBackup(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/backup-histories`);
  }
  removeBackupHistories(clusterId: string, backupHistoryNumbers: string[]) {
    return this.request<AsyncResponse>('PUT', `/v1/clusters/${seg(clusterId)}/backup-histories`, { body: { backup_history_number: backupHistoryNumbers } });
  }
  setBackup(clusterId: string, body: BackupSettingBody) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/backups`, { body });
  }
  unsetBackup(clusterId: string) {
    return this.request<AsyncResponse>('DELETE', `/v1/clusters/${seg(clusterId)}/backups`);
  }
  /** The response's resource id is the new cluster. */
  createRestore(sourceClusterId: string, body: RestoreClusterBody) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(sourceClusterId)}/restore`, { body });
  }

  // Parameters and commands of a cluster
  listParameterValues(clusterId: string) {
    return this.request<ParameterValuesResponse>('GET', `/v1/clusters/${seg(clusterId)}/parameters`);
  }
  setParameterValues(clusterId: string, body: SetParametersBody) {
    return this.request<AsyncResponse>('PUT', `/v1/clusters/${seg(clusterId)}/parameters`, { body });
  }
  syncParameterValues(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/parameters/sync`);
  }
  listCommands(clusterId: string) {
    return this.request<CommandListResponse>('GET', `/v1/clusters/${seg(clusterId)}/commands`);
  }
  setCommands(clusterId: string, body: ModifyCommandBody) {
    return this.request<AsyncResponse>('PUT', `/v1/clusters/${seg(clusterId)}/commands`, { body });
  }
  syncCommands(clusterId: string) {
    return this.request<AsyncResponse>('POST', `/v1/clusters/${seg(clusterId)}/commands/sync`);
  }

  // Catalogue
  listEngineVersions(q: { id?: string; product_image_type?: string; eos_included?: boolean } = {}) {
    return this.request<EngineListResponse>('GET', '/v1/engine-versions', { query: q });
  }
  listEngineVersionProperties(engineVersionId: string) {
    return this.request<EnginePropertyListResponse>('GET', `/v1/engine-versions/${seg(engineVersionId)}/properties`);
  }
  listServerTypes(q: { name?: string; product_image_type?: string } = {}) {
    return this.request<ServerTypeListResponse>('GET', '/v1/server-types', { query: q });
  }
  listParameterGroups(q: { major_version?: string; product_image_type?: string; sort?: string } = {}) {
    return this.request<ParameterGroupListResponse>('GET', '/v1/parameter-groups', { query: q });
  }
  listParameters(q: { dbaas_parameter_group_id: string; size?: number; page?: number; sort?: string }) {
    return this.request<ParameterPageResponse>('GET', '/v1/parameters', { query: q });
  }

  // Requests
  showRequest(requestId: string) {
    return this.request<RequestStateResponse>('GET', `/v1/requests/${seg(requestId)}`);
  }
  /** Extension: operation, last finished step and why a request failed. */
  showRequestDetails(requestId: string) {
    return this.request<RequestDetailResponse>('GET', `/v1/requests/${seg(requestId)}/details`);
  }
  /** Polls the request until it is COMPLETED (resolves) or FAILED (throws RequestFailedError). */
  waitForRequest(requestId: string, o: WaitOptions = {}): Promise<WaitResult> {
    return waitForRequest(this, requestId, o);
  }
}

export { ApiError };
