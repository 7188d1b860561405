// Set Security Group Rules: the new list is stored, then the kernel's rules are rebuilt from the
// store. The change was checked when it was submitted (domain/allow-list.ts); applying it again
// after a crash gives the same list.
import { applyAllowListChange, type AllowListChange } from '../../domain/allow-list.js';
import type { Workflow } from '../workflow.js';
import { enforceAllowList } from './steps.js';

export const setAllowListWorkflow: Workflow = {
  steps: [
    {
      name: 'store-allow-list',
      async run(ctx) {
        const change = ctx.request.payload as unknown as AllowListChange;
        const list = applyAllowListChange(ctx.cluster.allowableIpAddresses, change);
        await ctx.store.setAllowableIpAddresses(ctx.cluster.id, list, ctx.now(), ctx.request.createdBy);
        await ctx.reload();
      },
    },
    {
      name: 'apply-allow-list',
      async run(ctx) {
        await enforceAllowList(ctx);
        const list = ctx.cluster.allowableIpAddresses;
        await ctx.event(list.length > 0 ? `allow-list now: ${list.join(', ')}` : 'allow-list now empty: every address may connect');
      },
    },
  ],
  async onFailure() {
    // The stored list is what the next rebuild (any change, or a restart of the service) enforces.
  },
  async finish() {},
};
