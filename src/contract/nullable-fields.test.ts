// The body validators accept `null` wherever the vendor's SDK may send it, and hand the handler a
// body without those fields (null means "not given"); nulls elsewhere are still refused.
import { describe, expect, it } from 'vitest';
import { SDK_NULLABLE_REQUEST_FIELDS, withSdkNullables } from './nullable-fields.js';
import { buildValidators, describeErrors } from './validators.js';

const validators = buildValidators();
const bodyOf = (operationId: string) => validators.get(operationId)!.body!;

function createBody(): any {
  return {
    name: 'nulls',
    dbaas_engine_version_id: 'e'.repeat(32),
    instance_name_prefix: 'nul',
    subnet_id: 'local-subnet',
    timezone: 'UTC',
    init_config_option: { database_user_password: 'Secr3t!pass' },
    instance_groups: [
      { role_type: 'MASTER', server_type_name: 'redis1v1m2', block_storage_groups: [{ role_type: 'DATA', size_gb: 56 }], instances: [{ role_type: 'MASTER' }] },
    ],
  };
}

/** Every optional field the SDK types Nullable…, set to null (Create Cluster). */
function createBodyWithNulls(): any {
  const b = createBody();
  Object.assign(b, { replica_count: null, tags: null, maintenance_option: null });
  Object.assign(b.init_config_option, { backup_option: null, database_port: null, sentinel_port: null });
  b.instance_groups[0].instances[0] = { role_type: 'MASTER', public_ip_id: null, service_ip_address: null };
  return b;
}

describe('null means "not given" in request bodies', () => {
  it('Create Cluster: every nullable optional field null is valid and removed from the body', () => {
    const validate = bodyOf('cachestoreCreateCluster');
    const b = createBodyWithNulls();
    expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
    expect(b).toEqual(createBody());
  });

  it('Create Cluster: nulls inside nested options and tags are removed, values kept', () => {
    const validate = bodyOf('cachestoreCreateCluster');
    const b = createBody();
    b.init_config_option.backup_option = { retention_period_day: null, starting_time_hour: null };
    b.maintenance_option = { period_hour: null, starting_day_of_week: null, starting_time: null };
    b.tags = [{ key: 'env', value: null }, { key: 'team', value: 'db' }];
    expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
    expect(b.init_config_option.backup_option).toEqual({});
    expect(b.maintenance_option).toEqual({});
    expect(b.tags).toEqual([{ key: 'env' }, { key: 'team', value: 'db' }]);
  });

  it('Create Restore Cluster: every nullable optional field null is valid and removed', () => {
    const validate = bodyOf('cachestoreCreateRestore');
    const b: any = {
      name: 'copy',
      instance_name_prefix: 'cpy',
      server_type_name: 'redis1v1m2',
      backup_history_number: null,
      backup_recovery_time: null,
      block_storage_groups: null,
      maintenance_option: null,
      tags: null,
    };
    expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
    expect(b).toEqual({ name: 'copy', instance_name_prefix: 'cpy', server_type_name: 'redis1v1m2' });
  });

  it('a null required field stays (the handler refuses it as missing)', () => {
    const validate = bodyOf('cachestoreCreateCluster');
    const b = createBody();
    b.init_config_option.database_user_password = null;
    expect(validate(b)).toBe(true);
    expect(b.init_config_option).toEqual({ database_user_password: null });
  });

  it.each([
    ['allowable_ip_addresses', (b: any) => (b.allowable_ip_addresses = null), 'body.allowable_ip_addresses'],
    ['init_config_option', (b: any) => (b.init_config_option = null), 'body.init_config_option'],
    ['ha_enabled', (b: any) => (b.ha_enabled = null), 'body.ha_enabled'],
    ['a tag item', (b: any) => (b.tags = [null]), 'body.tags.0'],
    ['a block storage size', (b: any) => (b.instance_groups[0].block_storage_groups[0].size_gb = null), 'body.instance_groups.0.block_storage_groups.0.size_gb'],
    ['maintenance_option a string', (b: any) => (b.maintenance_option = 'SUN'), 'body.maintenance_option'],
  ])('null (or a wrong type) where the SDK never sends null is still refused: %s', (_t, edit, loc) => {
    const validate = bodyOf('cachestoreCreateCluster');
    const b = createBody();
    edit(b);
    expect(validate(b)).toBe(false);
    expect(describeErrors('body', validate.errors).map((e) => e.loc.join('.'))).toContain(loc);
  });

  it('a non-null value of a listed field is still checked against its schema', () => {
    const validate = bodyOf('cachestoreCreateCluster');
    const b = createBody();
    b.maintenance_option = { period_hour: '25', starting_day_of_week: 'FUNDAY', starting_time: '0230' };
    expect(validate(b)).toBe(false);
    const locs = describeErrors('body', validate.errors).map((e) => e.loc.join('.'));
    expect(locs).toContain('body.maintenance_option.period_hour');
    expect(locs).toContain('body.maintenance_option.starting_day_of_week');
  });

  it('every listed field exists in the contract; a missing one stops the start', () => {
    expect(SDK_NULLABLE_REQUEST_FIELDS.length).toBeGreaterThan(0);
    expect(() => withSdkNullables({ schemas: { MaintenanceOption: { properties: {} } } })).toThrow(/no RedisInitConfigOption.backup_option/);
  });
});
