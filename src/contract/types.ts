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
