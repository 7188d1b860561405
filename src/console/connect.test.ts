// The console's connection lines are the CLI's (`cachestore clusters connect`), character for character.
import { describe, expect, it } from 'vitest';
import { connectInfo } from '../cli/connect.js';
import type { ClusterDetailResponse } from '../contract/types.js';
import { cluster, instance } from '../../test/support/cluster-details.js';
import { connectionLines } from './connect.js';

const ha = cluster({
  ha_enabled: true,
  init_config_option: { database_port: 6400, sentinel_port: 26400 },
  instance_groups: [
    { id: 'a', role_type: 'MASTER_REPLICA', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-1', 'REPLICA', '127.77.0.2'), instance('myc-2', 'MASTER', '127.77.0.3')] },
    { id: 'b', role_type: 'SENTINEL', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-3', 'SENTINEL', '127.77.0.4')] },
  ],
} as Partial<ClusterDetailResponse>);

describe('connectionLines', () => {
  it('gives the CLI redis-cli line for a standalone cluster', () => {
    const c = cluster({});
    expect(connectionLines(c)).toEqual([{ label: 'Connection (primary)', line: connectInfo(c).command }]);
    expect(connectionLines(c)[0].line).toBe('redis-cli -h 127.77.0.2 -p 6378 --askpass');
  });

  it('gives the CLI primary and Sentinel lines for an HA cluster, the primary being where it is now', () => {
    const info = connectInfo(ha);
    expect(connectionLines(ha)).toEqual([
      { label: 'Connection (primary)', line: info.command },
      { label: 'Sentinel', line: info.sentinel!.command },
    ]);
    expect(connectionLines(ha)[0].line).toBe('redis-cli -h 127.77.0.3 -p 6400 --askpass');
    expect(connectionLines(ha)[1].line).toBe('redis-cli -h 127.77.0.2 -p 26400 --askpass SENTINEL GET-MASTER-ADDR-BY-NAME mycache');
  });

  it('offers nothing before the primary has an address', () => {
    const c = cluster({ instance_groups: [{ id: 'g', role_type: 'MASTER', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-1', 'MASTER', null)] }] } as Partial<ClusterDetailResponse>);
    expect(connectionLines(c)).toEqual([]);
  });
});
