// `clusters connect`: the address comes from instance_groups[].instances[].service_ip_address.
import { describe, expect, it } from 'vitest';
import { cluster, instance } from '../../test/support/cluster-details.js';
import { connectInfo, connectText, ConnectError } from './connect.js';

describe('connectInfo', () => {
  it('gives a redis-cli line for a standalone cluster', () => {
    const i = connectInfo(cluster({}));
    expect(i).toEqual({ name: 'mycache', state: 'RUNNING', host: '127.77.0.2', port: 6378, command: 'redis-cli -h 127.77.0.2 -p 6378 --askpass' });
    expect(connectText(i)).toBe('redis-cli -h 127.77.0.2 -p 6378 --askpass\n');
  });

  it('points an HA cluster at its primary now and names every Sentinel and the master name', () => {
    const i = connectInfo(
      cluster({
        ha_enabled: true,
        init_config_option: { database_port: 6400, sentinel_port: 26400 },
        instance_groups: [
          { id: 'a', role_type: 'MASTER_REPLICA', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-1', 'REPLICA', '127.77.0.2'), instance('myc-2', 'MASTER', '127.77.0.3')] },
          { id: 'b', role_type: 'SENTINEL', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-3', 'SENTINEL', '127.77.0.4')] },
        ],
      }),
    );
    expect(i.command).toBe('redis-cli -h 127.77.0.3 -p 6400 --askpass');
    expect(i.sentinel).toEqual({
      master_name: 'mycache',
      addresses: [
        { host: '127.77.0.2', port: 26400 },
        { host: '127.77.0.3', port: 26400 },
        { host: '127.77.0.4', port: 26400 },
      ],
      command: 'redis-cli -h 127.77.0.2 -p 26400 --askpass SENTINEL GET-MASTER-ADDR-BY-NAME mycache',
    });
    const text = connectText(i).split('\n');
    expect(text[0]).toBe(i.command);
    expect(text.slice(1).filter(Boolean).every((l) => l.startsWith('#'))).toBe(true);
    expect(text.join('\n')).toContain("name: 'mycache', password, sentinelPassword: password");
  });

  it('says so when there is no primary with an address', () => {
    expect(() => connectInfo(cluster({ service_state: 'CREATING', instance_groups: [{ id: 'g', role_type: 'MASTER', server_type_name: 't', block_storage_groups: [], instances: [instance('myc-1', 'MASTER', null)] }] }))).toThrow(ConnectError);
  });
});
