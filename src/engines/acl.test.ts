import { describe, expect, it } from 'vitest';
import { SERVICE_USER, TENANT_REFUSED_DATA_COMMANDS, tenantRules, usersOf } from './acl.js';

describe('ACL rules', () => {
  it('refuses the tenant every command the service owns on a data node, and nothing else', () => {
    expect(tenantRules('data')).toEqual([
      '~*', '&*', '+@all', '-config', '-acl', '-replicaof', '-slaveof', '-shutdown', '-debug', '-module', '-save', '-bgsave',
      '-bgrewriteaof', '-sync', '-psync', '-migrate', '-failover',
    ]);
    expect(TENANT_REFUSED_DATA_COMMANDS).toHaveLength(14);
  });

  it('lets the tenant discover the primary on a Sentinel but not reconfigure it', () => {
    const rules = tenantRules('sentinel');
    for (const r of ['-sentinel|set', '-sentinel|config', '-sentinel|reset', '-sentinel|remove', '-sentinel|monitor', '-sentinel|failover', '-acl', '-shutdown']) {
      expect(rules).toContain(r);
    }
    for (const open of ['get-master-addr-by-name', 'masters', 'master', 'replicas', 'sentinels']) expect(rules).not.toContain(`-sentinel|${open}`);
    // Sentinel has no CONFIG command: naming it would make the Sentinel refuse to start.
    expect(rules).not.toContain('-config');
  });

  it('sets both users from scratch, the service first, with the secret for the service and the password for the tenant', () => {
    const [svc, tenant] = usersOf('data', { password: 'tenant pw', serviceSecret: 'abc' });
    expect(svc).toEqual([SERVICE_USER, 'reset', 'on', '>abc', '~*', '&*', '+@all']);
    expect(tenant.slice(0, 4)).toEqual(['default', 'reset', 'on', '>tenant pw']);
  });
});
