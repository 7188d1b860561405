// Commands at runtime: keeping commands from running for a while through ACL (which names
// commands by their own names, renamed or not, and applies to open connections at once), and
// giving the users back their rules afterwards.
import type { Endpoint } from './client.js';
import { withClient } from './replication.js';

/** Denies `names` to every user; returns each user's rules as they were (ACL LIST lines). */
export async function denyCommands(ep: Endpoint, names: readonly string[]): Promise<string[]> {
  return withClient(ep, async (c) => {
    const rules = (await c.call('ACL', 'LIST')) as string[];
    for (const line of rules) {
      const user = line.split(' ')[1];
      await c.call('ACL', 'SETUSER', user, ...names.map((n) => `-${n.toLowerCase()}`));
    }
    return rules;
  }, 2000);
}

/** Sets every user's rules back to ACL LIST lines taken before. */
export async function restoreUsers(ep: Endpoint, rules: string[]): Promise<void> {
  await withClient(ep, async (c) => {
    for (const line of rules) {
      const [, user, ...tokens] = line.split(' ');
      await c.call('ACL', 'SETUSER', user, 'reset', ...tokens);
    }
  }, 2000);
}
