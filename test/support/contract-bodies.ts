// Request bodies the contract accepts, one per operation that takes a body (Create Cluster aside:
// each test builds its own). Shared by the routing test, which needs a valid body to reach past
// validation, and the fuzz test, which mutates them into near-valid ones.
export const VALID_BODIES: Readonly<Record<string, Record<string, unknown>>> = {
  cachestoreSetBlockStorageSize: { size_gb: 64 },
  cachestoreRemoveBackupHistories: { backup_history_number: ['1'] },
  cachestoreSetBackup: { retention_period_day: '7', starting_time_hour: '3' },
  cachestoreSetCommands: { commands: [{ id: 'c1', name: 'FLUSHALL', new_value: 'NOFLUSH' }] },
  cachestoreSetMaintenance: { start_day_of_week: 'SUN', start_minute: '00', start_time: '02', term_hour: '2' },
  cachestoreSetParameterValues: { parameters: [{ id: 'p1', new_value: 'yes', old_value: 'no' }] },
  cachestoreCreateRestore: { name: 'restored', instance_name_prefix: 'rst', server_type_name: 'redis1v1m2' },
  cachestoreSetSecurityGroupRules: { add_ip_addresses: ['10.0.0.1'], del_ip_addresses: [] },
  cachestoreSwitchoverCluster: { switch_host_name: 'tst-02' },
  cachestoreSetServerType: { server_type_name: 'redis1v2m4' },
};
