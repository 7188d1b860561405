// TypeScript shapes of the contract's request and response bodies that the code builds or
// reads. Field names are the contract's (snake_case); Ajv checks them against the YAML.
export interface InstanceRequestBody {
  role_type: string;
  service_ip_address?: string | null;
  public_ip_id?: string | null;
}

export interface BlockStorageGroupRequestBody {
  role_type: string;
  size_gb: number;
  volume_type?: string;
}

export interface InstanceGroupRequestBody {
  role_type: string;
  server_type_name: string;
  block_storage_groups: BlockStorageGroupRequestBody[];
  instances: InstanceRequestBody[] | null;
}

export interface CreateClusterBody {
  name: string;
  dbaas_engine_version_id: string;
  instance_name_prefix: string;
  subnet_id: string;
  timezone: string;
  ha_enabled?: boolean;
  replica_count?: number | null;
  nat_enabled?: boolean;
  allowable_ip_addresses?: string[];
  tags?: Array<{ key?: string; value?: string | null }> | null;
  init_config_option: {
    database_user_password: string | null;
    database_port?: number | null;
    sentinel_port?: number | null;
    backup_option?: { retention_period_day?: string | null; starting_time_hour?: string | null };
  };
  maintenance_option?: { period_hour?: string; starting_day_of_week?: string; starting_time?: string };
  instance_groups: InstanceGroupRequestBody[];
}

export interface ListClustersQuery {
  size?: number | null;
  page?: number | null;
  sort?: string | null;
  name?: string | null;
  service_state?: string | null;
}

// Response bodies and the remaining request bodies, as the contract's YAML defines them (for the
// client module in src/client; the server builds its responses in src/http/serializers.ts).
export interface AsyncResponse {
  request_id: string;
  resource: { id: string };
}

export interface RequestStateResponse {
  request_id: string;
  state: string;
}

export interface ClusterSummary {
  account_id: string;
  created_at: string;
  created_by: string;
  ha_enabled?: boolean;
  id: string;
  instance_count?: number;
  modified_at: string;
  modified_by: string;
  name: string;
  role_type: string;
  service_state: string;
}

export interface ClusterPageResponse {
  contents: ClusterSummary[] | null;
  count: number;
  page: number;
  size: number;
  sort?: string[] | null;
}

export interface InstanceResponse {
  floating_ip_id?: string | null;
  name: string;
  public_ip_address?: string | null;
  public_ip_id?: string | null;
  role_type: string;
  /** Where a client connects to this instance (Show Cluster: instance_groups[].instances[]). */
  service_ip_address?: string | null;
  service_state: string;
}

export interface InstanceGroupResponse {
  block_storage_groups: Array<{ id: string; name: string; role_type: string; size_gb: number; volume_type: string }>;
  id: string;
  instances: InstanceResponse[] | null;
  role_type: string;
  server_type_name: string;
}

export interface ClusterDetailResponse extends ClusterSummary {
  allowable_ip_addresses?: string[];
  dbaas_engine: string;
  dbaas_engine_version_name: string;
  init_config_option: {
    backup_option?: { retention_period_day?: string | null; starting_time_hour?: string | null };
    database_port?: number | null;
    sentinel_port?: number | null;
  };
  instance_groups: InstanceGroupResponse[];
  maintenance_option?: { period_hour?: string | null; starting_day_of_week?: string; starting_time?: string | null; use_maintenance_option?: boolean };
  nat_enabled?: boolean;
  product_image_type: string;
  product_type: string;
  software_version: string;
  subnet_id: string;
  timezone: string;
}

export interface BackupHistoryItem {
  backup_end_at: string;
  backup_history_number: string;
  backup_size_gb: number;
  backup_start_at: string;
  backup_state: string;
  backup_state_detail?: string | null;
  software_version: string;
}

export interface BackupHistoryListResponse {
  contents: BackupHistoryItem[];
  total_count: number;
}

export interface RestoreClusterBody {
  name: string;
  instance_name_prefix: string;
  server_type_name: string;
  backup_history_number?: string | null;
  backup_recovery_time?: string | null;
  allowable_ip_addresses?: string[];
  block_storage_groups?: BlockStorageGroupRequestBody[] | null;
  maintenance_option?: { period_hour?: string; starting_day_of_week?: string; starting_time?: string };
  tags?: Array<{ key?: string; value?: string | null }> | null;
}

export interface BackupSettingBody {
  retention_period_day: string;
  starting_time_hour: string;
}

export interface CommandItem {
  applied_value?: string | null;
  description?: string | null;
  id: string;
  modifiable: boolean;
  name: string;
}

export interface CommandListResponse {
  contents: CommandItem[];
  last_updated_at: string;
  total_count: number;
}

export interface ModifyCommandBody {
  commands: Array<{ id: string; name: string; new_value: string }>;
}

export interface ParameterValue {
  allows_value: string;
  applied_value: string;
  apply_type: string;
  data_type: string;
  default_value: string;
  description: string | null;
  id: string;
  is_modifiable: boolean;
  name: string;
  software_type: string | null;
}

export interface ParameterValuesResponse {
  contents: ParameterValue[];
  count: number;
  modified_at: string;
}

export interface SetParametersBody {
  parameters: Array<{ id: string; old_value: string; new_value: string }>;
}

export interface MaintenanceBody {
  start_day_of_week: string;
  start_minute: string;
  start_time: string;
  term_hour: string;
}

export interface SecurityGroupRulesBody {
  add_ip_addresses?: string[];
  del_ip_addresses?: string[];
}

export interface EngineVersionItem {
  end_of_service?: boolean;
  id: string;
  major_version: string;
  name: string;
  os_type: string;
  os_version: string;
  product_image_type?: string | null;
  software_version: string;
}

export interface EngineListResponse {
  contents: EngineVersionItem[];
}

export interface EnginePropertyListResponse {
  contents: Array<{ name: string; value: string }>;
}

export interface ServerTypeItem {
  cpu_core: number;
  description: string;
  memory_gb: number;
  name: string;
  product_image_type: string;
  product_type: string;
  purpose: string;
  type: string;
}

export interface ServerTypeListResponse {
  contents: ServerTypeItem[];
}

export interface ParameterGroupItem {
  id: string;
  major_version: string;
  name: string;
  product_image_type: string;
  product_type: string;
}

export interface ParameterGroupListResponse {
  contents: ParameterGroupItem[];
  sort?: string[] | null;
}

export interface ParameterCatalogueItem {
  dbaas_parameter_group_id: string;
  default_value: string;
  description: string;
  id: string;
  name: string;
  software_type: string | null;
}

export interface ParameterPageResponse {
  contents: ParameterCatalogueItem[];
  count: number;
  page: number;
  size: number;
  sort?: string[] | null;
}

/** Extension: GET /v1/requests/{request_id}/details. */
export interface RequestDetailResponse {
  request_id: string;
  cluster_id: string;
  operation: string;
  state: string;
  last_step?: string | null;
  error?: string | null;
  created_at?: string;
  updated_at?: string;
  finished_at?: string | null;
}

/** Extension: GET /v1/clusters/{cluster_id}/events. */
export interface ClusterEventsResponse {
  contents: Array<{ at: string; request_id?: string | null; message: string }>;
  total_count: number;
}

/** Extension: the times a point-in-time restore accepts now, one range per completed backup. */
export interface RestorableRangesResponse {
  contents: Array<{ backup_history_number: string; from: string; to: string }>;
  total_count: number;
}

/** The contract's error body (docs/CONTRACT.md). */
export interface ErrorResponse {
  errors: Array<{
    code: string;
    title: string;
    status: number;
    detail: string | Array<{ loc?: string[] | null; msg?: string | null; type_?: string | null }>;
    request_id: string;
    global_request_id?: string;
  }>;
}
