import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import { accessOf, applyAllowListChange, canonicalEntry, planAllowListChange } from './allow-list.js';
import type { ClusterDetail, Instance } from './model.js';

function refusal(fn: () => unknown): { message: string; locs: string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return { message: e.message, locs: (e.fields ?? []).map((f) => f.loc.join('.')) };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('allow-list entries', () => {
  it('compares single addresses and CIDRs by the network they name', () => {
    expect(canonicalEntry('10.0.0.1')).toBe('10.0.0.1/32');
    expect(canonicalEntry('10.0.0.5/24')).toBe('10.0.0.0/24');
    expect(canonicalEntry('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalEntry('192.168.1.255/31')).toBe('192.168.1.254/31');
    expect(canonicalEntry('10.0.0.0/33')).toBe(null);
    expect(canonicalEntry('example.com')).toBe(null);
  });

  it('adds and removes, keeping the order of what stays', () => {
    expect(planAllowListChange(['10.0.0.0/8', '192.168.1.1'], { add: ['172.16.0.0/12'], del: ['192.168.1.1/32'] })).toEqual(['10.0.0.0/8', '172.16.0.0/12']);
  });

  it('gives the same list when a change is applied twice (a resumed request)', () => {
    const once = applyAllowListChange(['10.0.0.1'], { add: ['10.0.0.2'], del: ['10.0.0.1'] });
    expect(applyAllowListChange(once, { add: ['10.0.0.2'], del: ['10.0.0.1'] })).toEqual(['10.0.0.2']);
  });

  it('refuses, naming each entry, what is not an address, added twice, or removed while absent', () => {
    const r = refusal(() => planAllowListChange(['10.0.0.1'], { add: ['not-an-ip', '10.0.0.1/32', '10.9.0.0/16'], del: ['10.2.2.2', '10.9.0.1/16'] }));
    expect(r.locs).toEqual(['body.add_ip_addresses.0', 'body.add_ip_addresses.1', 'body.del_ip_addresses.0', 'body.del_ip_addresses.1']);
    expect(r.message).toContain("'not-an-ip' is not an IP address or a CIDR block");
    expect(r.message).toContain("'10.0.0.1/32' is already allowed (as '10.0.0.1')");
    expect(r.message).toContain("'10.2.2.2' is not in the allow-list (10.0.0.1)");
    expect(r.message).toContain("'10.9.0.1/16' is the same entry as add_ip_addresses.2");
  });

  it('refuses an empty change', () => {
    expect(refusal(() => planAllowListChange([], { add: [], del: [] })).locs).toEqual(['body']);
  });
});

function detail(list: string[], state: Instance['serviceState'] = 'RUNNING'): ClusterDetail {
  const inst = (id: string, role: Instance['roleType'], ip: string, port: number, s: Instance['serviceState'] = 'RUNNING'): Instance =>
    ({ id, clusterId: 'c1', groupId: 'g', name: id, roleType: role, serviceIpAddress: ip, port, serviceState: s });
  return {
    cluster: { id: 'c1', serviceState: state, allowableIpAddresses: list, haEnabled: true, sentinelPort: 26379 } as ClusterDetail['cluster'],
    groups: [],
    instances: [
      inst('a', 'MASTER', '127.77.0.2', 6378),
      inst('b', 'REPLICA', '127.77.0.3', 6378),
      inst('s', 'SENTINEL', '127.77.0.4', 26379),
      inst('gone', 'REPLICA', '127.77.0.9', 6378, 'TERMINATED'),
    ],
  };
}

describe('what is enforced for a cluster', () => {
  it('an empty list guards nothing: every address may connect', () => {
    expect(accessOf(detail([]))).toBe(null);
  });

  it('guards every data and Sentinel port, letting through the list, the cluster itself and the service', () => {
    expect(accessOf(detail(['10.0.0.5/24', '2001:db8::/32']))).toEqual({
      clusterId: 'c1',
      allowed: ['10.0.0.0/24', '127.77.0.2/32', '127.77.0.3/32', '127.77.0.4/32', '127.0.0.1/32'],
      endpoints: [
        { ip: '127.77.0.2', port: 6378 }, { ip: '127.77.0.2', port: 26379 },
        { ip: '127.77.0.3', port: 6378 }, { ip: '127.77.0.3', port: 26379 },
        { ip: '127.77.0.4', port: 26379 },
      ],
    });
  });

  it('a terminated or failed cluster has no rules', () => {
    expect(accessOf(detail(['10.0.0.1'], 'TERMINATED'))).toBe(null);
    expect(accessOf(detail(['10.0.0.1'], 'FAILED'))).toBe(null);
  });
});
