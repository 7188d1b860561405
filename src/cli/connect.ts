// `clusters connect`: how a client reaches a cluster, from Show Cluster. The address is each
// instance's service_ip_address (instance_groups[].instances[]); the password is never in a
// response, so redis-cli asks for it (--askpass; REDISCLI_AUTH works too).
import type { ClusterDetailResponse } from '../contract/types.js';

export interface ConnectInfo {
  name: string;
  state: string;
  host: string;
  port: number;
  /** The redis-cli line for the data node (HA: the current primary). */
  command: string;
  sentinel?: { master_name: string; addresses: Array<{ host: string; port: number }>; command: string };
}

export class ConnectError extends Error {}

const quote = (s: string) => (/^[A-Za-z0-9._:/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function connectInfo(c: ClusterDetailResponse): ConnectInfo {
  const instances = c.instance_groups.flatMap((g) => g.instances ?? []);
  const primary = instances.find((i) => i.role_type === 'MASTER' && i.service_ip_address);
  if (!primary) throw new ConnectError(`cluster ${c.name} (${c.service_state}) has no primary with an address yet`);
  const port = c.init_config_option.database_port ?? 6378;
  const host = primary.service_ip_address!;
  const info: ConnectInfo = { name: c.name, state: c.service_state, host, port, command: `redis-cli -h ${quote(host)} -p ${port} --askpass` };
  if (c.ha_enabled) {
    const sentinelPort = c.init_config_option.sentinel_port ?? 26378;
    // A Sentinel runs beside every data node and on the SENTINEL instance.
    const addresses = [...new Set(instances.map((i) => i.service_ip_address).filter((a): a is string => Boolean(a)))].map((a) => ({ host: a, port: sentinelPort }));
    info.sentinel = {
      master_name: c.name,
      addresses,
      command: `redis-cli -h ${quote(addresses[0].host)} -p ${sentinelPort} --askpass SENTINEL GET-MASTER-ADDR-BY-NAME ${quote(c.name)}`,
    };
  }
  return info;
}

/** What a person reads: the redis-cli line first (ready to paste), then, for HA, the Sentinel way. */
export function connectText(i: ConnectInfo): string {
  const lines = [i.command];
  if (i.sentinel) {
    const list = i.sentinel.addresses.map((a) => `{ host: '${a.host}', port: ${a.port} }`).join(', ');
    lines.push(
      `# That is the primary now; clients that follow failovers ask the Sentinels for master '${i.sentinel.master_name}':`,
      `#   ${i.sentinel.command}`,
      `#   ioredis:  new Redis({ sentinels: [${list}], name: '${i.sentinel.master_name}', password, sentinelPassword: password })`,
      `#   redis-py: Sentinel([${i.sentinel.addresses.map((a) => `('${a.host}', ${a.port})`).join(', ')}], sentinel_kwargs={'password': pw}, password=pw).master_for('${i.sentinel.master_name}')`,
    );
  }
  return lines.join('\n') + '\n';
}
