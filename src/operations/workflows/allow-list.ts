// Set Security Group Rules: the new list is stored and the kernel's rules rebuilt from the store.
// The change was checked when it was submitted (domain/allow-list.ts), against the list then in
// force (`previous`: no other mutation of the cluster runs meanwhile). If the kernel refuses the
// new rules, the previous list is stored and enforced again, so Show Cluster never shows a list
// that is not in force.
import { applyAllowListChange, type AllowListChange } from '../../domain/allow-list.js';
import type { Workflow } from '../workflow.js';
import { enforceAllowList } from './steps.js';

export const setAllowListWorkflow: Workflow = {
  steps: [
    {
      name: 'apply-allow-list',
      async run(ctx) {
        const { add, del, previous } = ctx.request.payload as unknown as AllowListChange & { previous: string[] };
        const list = applyAllowListChange(previous, { add, del });
        await ctx.store.setAllowableIpAddresses(ctx.cluster.id, list, ctx.now(), ctx.request.createdBy);
        await ctx.reload();
        try {
          await enforceAllowList(ctx);
        } catch (err) {
          await ctx.store.setAllowableIpAddresses(ctx.cluster.id, previous, ctx.now(), ctx.request.createdBy);
          await ctx.reload();
          await ctx.allowLists.rebuild().catch(() => undefined);
          throw new Error(`${(err as Error).message}; the allow-list stays ${previous.length ? previous.join(', ') : 'empty'}`);
        }
        await ctx.event(list.length > 0 ? `allow-list now: ${list.join(', ')}` : 'allow-list now empty: every address may connect');
      },
    },
  ],
  async onFailure() {},
  async finish() {},
};
