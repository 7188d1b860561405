// Create Cluster from flags: the body the contract wants, and the mistakes said before sending.
import { describe, expect, it } from 'vitest';
import { buildValidators } from '../contract/validators.js';
import type { EngineVersionItem } from '../contract/types.js';
import { createBodyFromFlags, defaultPrefix, FlagError, pickEngineVersion } from './create-body.js';

const v = (software_version: string, product: string, eos = false): EngineVersionItem => ({
  id: `${product[0]}${software_version}`.padEnd(32, '0'),
  name: `${product} ${software_version}`,
  major_version: software_version.split('.')[0],
  os_type: 'Debian',
  os_version: '12',
  software_version,
  product_image_type: product,
  end_of_service: eos,
});
const versions = [v('7.0.15', 'Redis OSS Sentinel'), v('7.2.4', 'Redis OSS Sentinel'), v('8.0.1', 'Valkey Sentinel'), v('8.1.0', 'Valkey Sentinel', true)];
const validate = buildValidators().get('cachestoreCreateCluster')!.body!;
const base = { name: 'mycache', engine: 'redis' as const, password: 'Secr3t!pass', timezone: 'Asia/Seoul' };

describe('pickEngineVersion', () => {
  it('takes the newest version in service, or the one named by prefix or id', () => {
    expect(pickEngineVersion(versions, 'redis').software_version).toBe('7.2.4');
    expect(pickEngineVersion(versions, 'valkey').software_version).toBe('8.0.1');
    expect(pickEngineVersion(versions, 'redis', '7.0').software_version).toBe('7.0.15');
    expect(pickEngineVersion(versions, 'valkey', '8.1').software_version).toBe('8.1.0');
    expect(pickEngineVersion(versions, 'redis', versions[0].id)).toBe(versions[0]);
  });
  it('names what there is when the version is not offered', () => {
    expect(() => pickEngineVersion(versions, 'redis', '6')).toThrow('no redis version 6; available: 7.0.15, 7.2.4');
    expect(() => pickEngineVersion(versions.slice(0, 2), 'valkey')).toThrow(/offers no valkey engine/);
    expect(() => pickEngineVersion(versions, 'redis', versions[2].id)).toThrow(/is Valkey Sentinel 8\.0\.1, not redis/);
  });
});

describe('createBodyFromFlags', () => {
  it('makes a standalone body the contract accepts, with defaults', () => {
    const body = createBodyFromFlags(base, versions[1]);
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expect(body).toMatchObject({
      name: 'mycache',
      dbaas_engine_version_id: versions[1].id,
      instance_name_prefix: 'mycache',
      ha_enabled: false,
      replica_count: 0,
      init_config_option: { database_user_password: 'Secr3t!pass' },
      instance_groups: [{ role_type: 'MASTER', server_type_name: 'redis1v1m2', instances: [{ role_type: 'MASTER' }] }],
    });
    expect(body.init_config_option.backup_option).toBeUndefined();
  });

  it('makes an HA body with replicas, Sentinels, ports, backups and an allow-list', () => {
    const body = createBodyFromFlags({ ...base, engine: 'valkey', ha: true, replicas: 2, serverType: 'css1v2m4', port: 6400, sentinelPort: 26400, backupRetentionDays: 7, allow: ['127.77.0.9'] }, versions[2]);
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expect(body.instance_groups.map((g) => [g.role_type, g.server_type_name, g.instances!.map((i) => i.role_type)])).toEqual([
      ['MASTER_REPLICA', 'css1v2m4', ['MASTER', 'REPLICA', 'REPLICA']],
      ['SENTINEL', 'css1v2m4', ['SENTINEL']],
    ]);
    expect(body.init_config_option).toEqual({ database_user_password: 'Secr3t!pass', database_port: 6400, sentinel_port: 26400, backup_option: { retention_period_day: '7', starting_time_hour: '3' } });
    expect(body.replica_count).toBe(2);
    expect(body.allowable_ip_addresses).toEqual(['127.77.0.9']);
    expect(createBodyFromFlags({ ...base, ha: true }, versions[1]).replica_count).toBe(1);
  });

  it('refuses flags that do not go together', () => {
    expect(() => createBodyFromFlags({ ...base, replicas: 1 }, versions[1])).toThrow(FlagError);
    expect(() => createBodyFromFlags({ ...base, replicas: 1 }, versions[1])).toThrow('--replicas needs --ha');
    expect(() => createBodyFromFlags({ ...base, ha: true, replicas: 3 }, versions[1])).toThrow('--replicas takes 1 or 2, got 3');
    expect(() => createBodyFromFlags({ ...base, backupHour: 4 }, versions[1])).toThrow('--backup-hour needs --backup-retention');
    expect(() => createBodyFromFlags({ ...base, sentinelPort: 26400 }, versions[1])).toThrow('--sentinel-port needs --ha');
  });

  it('derives an instance name prefix the contract accepts from any valid name', () => {
    expect(defaultPrefix('MyVeryLongClusterName')).toBe('myverylongclu');
    for (const name of ['abc', 'ABC', 'MyVeryLongClusterNam']) {
      expect(validate(createBodyFromFlags({ ...base, name }, versions[1])), name).toBe(true);
    }
  });
});
