import { describe, expect, it } from 'vitest';
import { upgradeAction } from './engine-upgrade.js';

describe('bringing a running process under the service user', () => {
  it('creates the service user through the cluster password only where the service user does not authenticate', () => {
    expect(upgradeAction({ service: false, legacy: true, tenantRestricted: null })).toBe('create-service-user');
    expect(upgradeAction({ service: false, legacy: false, tenantRestricted: null })).toBe('unreachable');
  });

  it('moves the process to it and restricts the tenant while the tenant may still reconfigure', () => {
    expect(upgradeAction({ service: true, legacy: false, tenantRestricted: false })).toBe('take-ownership');
  });

  it('leaves a process that is already the service\'s alone', () => {
    expect(upgradeAction({ service: true, legacy: false, tenantRestricted: true })).toBe('none');
    expect(upgradeAction({ service: true, legacy: true, tenantRestricted: true })).toBe('none');
  });
});
