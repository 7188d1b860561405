// Show Cluster answers for the unit tests of what is derived from them (connection lines).
import type { ClusterDetailResponse } from '../../src/contract/types.js';

export const instance = (name: string, role: string, ip: string | null) => ({ name, role_type: role, service_ip_address: ip, service_state: 'RUNNING' });

/** A standalone RUNNING cluster 'mycache' on 127.77.0.2:6378; override what a test needs. */
export const cluster = (over: Partial<ClusterDetailResponse>): ClusterDetailResponse =>
  ({
    name: 'mycache',
    service_state: 'RUNNING',
    ha_enabled: false,
    init_config_option: { database_port: 6378, sentinel_port: null },
    instance_groups: [{ id: 'g', role_type: 'MASTER', server_type_name: 'redis1v1m2', block_storage_groups: [], instances: [instance('myc-1', 'MASTER', '127.77.0.2')] }],
    ...over,
  }) as ClusterDetailResponse;
