// The command catalogue that List Commands shows. Modifiable commands are the ones a tenant may
// want renamed or disabled (expensive or destructive ones, as ElastiCache offers); the
// service-owned ones are what the service itself runs its engines with (configuration,
// replication, persistence, failover, users): they are listed, never modifiable. PING, INFO,
// ROLE, AUTH, HELLO, CLIENT, MULTI and EXEC are not in the catalogue at all: clients, Sentinel
// and the service cannot work without them.
export interface CatalogueCommand {
  name: string;
  modifiable: boolean;
  description: string;
}

export const MODIFIABLE_COMMANDS: readonly CatalogueCommand[] = [
  { name: 'FLUSHALL', modifiable: true, description: 'Deletes every key of every database' },
  { name: 'FLUSHDB', modifiable: true, description: 'Deletes every key of the current database' },
  { name: 'KEYS', modifiable: true, description: 'Lists keys by pattern, blocking the engine while it scans' },
  { name: 'SWAPDB', modifiable: true, description: 'Swaps two databases' },
  { name: 'MONITOR', modifiable: true, description: 'Streams every command the engine runs' },
  { name: 'HGETALL', modifiable: true, description: 'Returns every field of a hash' },
  { name: 'HKEYS', modifiable: true, description: 'Returns every field name of a hash' },
  { name: 'HVALS', modifiable: true, description: 'Returns every value of a hash' },
  { name: 'SMEMBERS', modifiable: true, description: 'Returns every member of a set' },
  { name: 'SORT', modifiable: true, description: 'Sorts a list, set or sorted set (and may store the result)' },
  { name: 'SCAN', modifiable: true, description: 'Iterates over the keys' },
  { name: 'HSCAN', modifiable: true, description: 'Iterates over the fields of a hash' },
  { name: 'SSCAN', modifiable: true, description: 'Iterates over the members of a set' },
  { name: 'ZSCAN', modifiable: true, description: 'Iterates over the members of a sorted set' },
];

/**
 * Commands the tenant (the `default` user) may not run on a data node: they change what the
 * service owns (configuration, users, replication, persistence, the process itself).
 * DEBUG is also refused by the engine itself (`enable-debug-command no`, its default) before the
 * ACL is consulted, so the tenant sees "DEBUG command not allowed" rather than NOPERM.
 */
export const TENANT_REFUSED_DATA_COMMANDS = [
  'config', 'acl', 'replicaof', 'slaveof', 'shutdown', 'debug', 'module', 'save', 'bgsave', 'bgrewriteaof',
  'sync', 'psync', 'migrate', 'failover',
] as const;

/**
 * Why each command the tenant is refused belongs to the service. Keyed by that list, so a command refused there and missing here does not compile.
 */
const OWNED_BECAUSE: Record<(typeof TENANT_REFUSED_DATA_COMMANDS)[number], string> = {
  config: 'Engine configuration: changed through the parameter API only',
  acl: 'Users and permissions: the service manages them',
  replicaof: 'Replication topology: the service and Sentinel set it',
  slaveof: 'Replication topology: the service and Sentinel set it',
  shutdown: 'Stopping the engine: Stop and Restart Cluster do it',
  debug: 'Engine internals',
  module: 'Loading code into the engine',
  save: 'Persistence: the service takes snapshots and backups',
  bgsave: 'Persistence: the service takes snapshots and backups',
  bgrewriteaof: 'Persistence: backups and point-in-time recovery rewrite the append-only file',
  sync: "Replication between the cluster's nodes",
  psync: "Replication between the cluster's nodes",
  migrate: 'Moving keys to another server',
  failover: 'Failover: Sentinel and the switchover API do it',
};

/** Commands the service owns: never renamed, disabled or granted to the tenant. */
export const SERVICE_OWNED_COMMANDS: readonly CatalogueCommand[] = TENANT_REFUSED_DATA_COMMANDS.map((c) => ({
  name: c.toUpperCase(),
  modifiable: false,
  description: OWNED_BECAUSE[c],
}));

export const COMMAND_CATALOGUE: readonly CatalogueCommand[] = [...MODIFIABLE_COMMANDS, ...SERVICE_OWNED_COMMANDS];

/**
 * Catalogue commands that write and so reach the AOF and the replication stream under the
 * name they were called by. While nodes run different rename maps these must not run.
 */
export const REPLICATED_WRITES: readonly string[] = ['FLUSHALL', 'FLUSHDB', 'SWAPDB', 'SORT'];

/** The value of new_value (and applied_value) that means: the command is disabled. */
export const DISABLED = 'DISABLED';
