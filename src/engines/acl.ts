// Who may do what on an engine or Sentinel. The service talks to every process as an ACL user of
// its own (SERVICE_USER, with a random secret per cluster); the tenant's password authenticates
// the `default` user, which runs data commands but none of the service's own commands
// (domain/command-catalog.ts lists them, and the commands catalogue shows them as not modifiable).
//
// Where the rules live: `user` lines in each process's config file, not an aclfile. With an
// aclfile `requirepass` is ignored and the default user has no password at all, and it is one
// more file to keep in step; `user` lines are rewritten by CONFIG REWRITE (which Sentinel runs on
// data nodes in every failover) and by Sentinel's own config flush, so they survive both.
// ACL rules are not replicated: every node gets its own.

import { TENANT_REFUSED_DATA_COMMANDS } from '../domain/command-catalog.js';

export { TENANT_REFUSED_DATA_COMMANDS };

/** The ACL user the service authenticates as on every data node and Sentinel. */
export const SERVICE_USER = 'cachestore-service';

/**
 * SENTINEL subcommands (and commands) the tenant may not run on a Sentinel. Discovery stays open
 * (get-master-addr-by-name, masters, master, replicas, sentinels, ckquorum, PING, INFO, ROLE,
 * SUBSCRIBE). is-master-down-by-addr is the Sentinels' vote among themselves (they authenticate
 * as the service); Sentinel has no plain CONFIG command (its own is SENTINEL CONFIG).
 */
export const TENANT_REFUSED_SENTINEL_SUBCOMMANDS = [
  'set', 'config', 'reset', 'remove', 'monitor', 'failover', 'flushconfig', 'simulate-failure', 'debug', 'is-master-down-by-addr',
] as const;
export const TENANT_REFUSED_SENTINEL_COMMANDS = ['acl', 'shutdown'] as const;

/** The ACL rules (after the password) of the tenant's user on a data node or a Sentinel. */
export function tenantRules(kind: 'data' | 'sentinel'): string[] {
  const refused =
    kind === 'data'
      ? TENANT_REFUSED_DATA_COMMANDS.map((c) => `-${c}`)
      : [...TENANT_REFUSED_SENTINEL_SUBCOMMANDS.map((c) => `-sentinel|${c}`), ...TENANT_REFUSED_SENTINEL_COMMANDS.map((c) => `-${c}`)];
  return ['~*', '&*', '+@all', ...refused];
}

/** The service's user: everything. */
export function serviceRules(): string[] {
  return ['~*', '&*', '+@all'];
}

/**
 * Arguments of `ACL SETUSER <name> ...` that make a user exactly this (reset first, so rules and
 * passwords from before do not linger). Passwords with spaces are fine: each is one argument.
 */
export function setUserArgs(user: string, password: string, rules: string[]): string[] {
  return [user, 'reset', 'on', `>${password}`, ...rules];
}

export interface ProcessUsers {
  /** The cluster password: the tenant's `default` user. */
  password: string;
  /** The service's secret for SERVICE_USER. */
  serviceSecret: string;
}

/** `ACL SETUSER` argument lists for a process's two users, the service's first. */
export function usersOf(kind: 'data' | 'sentinel', u: ProcessUsers): string[][] {
  return [setUserArgs(SERVICE_USER, u.serviceSecret, serviceRules()), setUserArgs('default', u.password, tenantRules(kind))];
}
