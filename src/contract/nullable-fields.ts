// Request fields that accept `null`, meaning "not given", beyond what the YAML marks
// `nullable: true`. The one place this list is kept.
//
// Source: the vendor's Go SDK (github.com/SamsungSDSCloud/terraform-sdk-samsungcloudplatformv2,
// library/cachestore/1.0/docs/*.md) types these fields `Nullable…`, and its Terraform provider
// sends `null` for an option the user leaves out (`backup_option: null`, `maintenance_option: null`
// on a plain `terraform apply`). The YAML has a bare `$ref` there, so a null would otherwise be
// refused with "must be of type object". The fields of MaintenanceOption are listed because the
// contract's MaintenanceResponseOption makes the same fields nullable and issue 17 names them.
//
// Every other request field the SDK types `Nullable…` is nullable in the YAML already
// (RedisInitConfigOption.database_port/sentinel_port/database_user_password,
// BackupOption.*, RedisClusterCreateRequest.replica_count/tags, InstanceRequest.public_ip_id/
// service_ip_address, Tag.value, ClusterRestoreRequest.backup_history_number/
// backup_recovery_time/block_storage_groups/tags, RedisInstanceGroupRequest.instances).
//
// A null in an optional field is removed from the body before a handler sees it (the request is
// handled exactly as if the field were absent; see NULL_MEANS_ABSENT in json-schema.ts). A null
// in a required field (database_user_password, instances) stays, and is refused as missing.
export const SDK_NULLABLE_REQUEST_FIELDS: readonly string[] = [
  'RedisInitConfigOption.backup_option',
  'RedisClusterCreateRequest.maintenance_option',
  'ClusterRestoreRequest.maintenance_option',
  'MaintenanceOption.period_hour',
  'MaintenanceOption.starting_day_of_week',
  'MaintenanceOption.starting_time',
];

type Schemas = Record<string, { properties?: Record<string, Record<string, unknown>> }>;

/** The contract's components with the fields above marked nullable (a copy; the input is not changed). */
export function withSdkNullables<T extends { schemas?: Schemas }>(components: T): T {
  const out = structuredClone(components);
  for (const entry of SDK_NULLABLE_REQUEST_FIELDS) {
    const [schema, field] = entry.split('.');
    const property = out.schemas?.[schema]?.properties?.[field];
    // A renamed schema or field in a new contract version must not silently drop the null.
    if (!property) throw new Error(`nullable-fields: the contract has no ${entry}`);
    property.nullable = true;
  }
  return out;
}
