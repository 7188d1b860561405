// Renders an engine's configuration file. Pure: the same node gives the same text, so a
// rewrite on resume is harmless and the builder is tested without any process.
export interface DataNodeConfig {
  instanceId: string;
  ip: string;
  port: number;
  password: string;
  dir: string;
  pidFile: string;
  logFile: string;
  maxMemoryBytes: number;
  ioThreads: number;
}

/** Quotes a value for the engine's config parser (double quotes, backslash escapes). */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The marker in the process title by which the service recognises its own processes. */
export function processMarker(instanceId: string): string {
  return `cachestore:${instanceId}`;
}

export function renderDataNodeConfig(c: DataNodeConfig): string {
  return [
    '# Written by Cache Store; changes here are overwritten on the next start.',
    `bind ${c.ip}`,
    `port ${c.port}`,
    // Replication and Sentinel must see this node's own address, not 127.0.0.1 (see DESIGN.md).
    `bind-source-addr ${c.ip}`,
    `replica-announce-ip ${c.ip}`,
    'protected-mode yes',
    'daemonize yes',
    `pidfile ${quote(c.pidFile)}`,
    `logfile ${quote(c.logFile)}`,
    `dir ${quote(c.dir)}`,
    `requirepass ${quote(c.password)}`,
    `masterauth ${quote(c.password)}`,
    `proc-title-template ${quote(`{title} {listen-addr} {server-mode} ${processMarker(c.instanceId)}`)}`,
    // Durability: an append-only file synced every second plus periodic snapshots.
    'appendonly yes',
    'appendfsync everysec',
    'save 3600 1 300 100 60 10000',
    `maxmemory ${c.maxMemoryBytes}`,
    'maxmemory-policy volatile-lru',
    `io-threads ${c.ioThreads}`,
    'tcp-keepalive 60',
    'loglevel notice',
    '',
  ].join('\n');
}
