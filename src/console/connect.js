// The connection lines the cluster page offers to copy, from Show Cluster: the same lines as
// `cachestore clusters connect` prints (src/cli/connect.ts; a unit test compares them). The
// password is never in a response, so redis-cli asks for it (--askpass).

const quote = (s) => (/^[A-Za-z0-9._:/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** [{ label, line }]: the primary's redis-cli line, then for HA the Sentinel one; [] before any address. */
export function connectionLines(d) {
  const instances = d.instance_groups.flatMap((g) => g.instances ?? []);
  const primary = instances.find((i) => i.role_type === 'MASTER' && i.service_ip_address);
  if (!primary) return [];
  const port = d.init_config_option.database_port ?? 6378;
  const lines = [{ label: 'Connection (primary)', line: `redis-cli -h ${quote(primary.service_ip_address)} -p ${port} --askpass` }];
  if (d.ha_enabled) {
    const sentinelPort = d.init_config_option.sentinel_port ?? 26378;
    // A Sentinel runs beside every data node and on the SENTINEL instance: the first address.
    const first = instances.find((i) => i.service_ip_address).service_ip_address;
    lines.push({ label: 'Sentinel', line: `redis-cli -h ${quote(first)} -p ${sentinelPort} --askpass SENTINEL GET-MASTER-ADDR-BY-NAME ${quote(d.name)}` });
  }
  return lines;
}
