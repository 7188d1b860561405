// Set Block Storage Size: every data node's volume grows online (the file, the loop device, then
// XFS, while the engine runs: no restart, the same process), then the store records the new
// size, so a node made or started from then on (a heal, a new replica, a start after a reboot)
// gets a volume of at least that size. Growing is idempotent: after a crash the step runs again
// and grows what is left. Nothing is undone on failure: a volume that grew stays larger than
// the size recorded (harmless), and the request may be sent again.
import type { NodeSpec } from '../../drivers/driver.js';
import { waitDisksWritable } from '../disk-watch.js';
import type { Workflow, WorkflowContext } from '../workflow.js';

interface BlockStoragePayload {
  group: string;
  storage: string;
  from: number;
  to: number;
  previous: string;
}

function payload(ctx: WorkflowContext): BlockStoragePayload {
  return ctx.request.payload as unknown as BlockStoragePayload;
}

/** The data nodes of the group being resized, with the new size. */
function grown(ctx: WorkflowContext): NodeSpec[] {
  const p = payload(ctx);
  const ids = new Set(ctx.detail.instances.filter((i) => i.groupId === p.group).map((i) => i.id));
  return ctx.nodes.data.filter((n) => ids.has(n.instanceId)).map((n) => ({ ...n, volumeGb: p.to }));
}

const mib = (b: number) => `${Math.round(b / 1024 / 1024)} MiB`;

/** `finish(ctx, fromStopped)`: the probe that sets the outcome (index.ts's syncFinish). */
export function setBlockStorageSizeWorkflow(finish: (ctx: WorkflowContext, fromStopped: boolean) => Promise<void>): Workflow {
  return {
    steps: [
      {
        name: 'grow-volumes',
        async run(ctx) {
          const p = payload(ctx);
          const why = ctx.driver.volumesUnavailable;
          if (why) {
            await ctx.event(`DATA block storage ${p.from} GB -> ${p.to} GB recorded only: data volumes are not real here (${why})`);
            return;
          }
          const name = (n: NodeSpec) => ctx.detail.instances.find((i) => i.id === n.instanceId)?.name ?? n.nodeId;
          for (const n of grown(ctx)) {
            const running = await ctx.driver.isRunning(n);
            if (!(await ctx.driver.growVolume(n))) {
              await ctx.event(`instance ${name(n)} has no volume of its own (its data predates volumes): ${p.to} GB recorded only`);
              continue;
            }
            const u = await ctx.driver.volumeUsage(n);
            await ctx.event(
              `DATA volume of instance ${name(n)} grown ${p.from} GB -> ${p.to} GB online` +
                (u ? ` (device ${mib(u.deviceBytes)}, filesystem ${mib(u.totalBytes)}, ${mib(u.freeBytes)} free)` : '') +
                (running ? '; its engine kept running' : ''),
            );
          }
        },
      },
      {
        name: 'record-size',
        async run(ctx) {
          const p = payload(ctx);
          await ctx.store.setBlockStorageSize(p.group, p.storage, p.to, ctx.now(), ctx.request.createdBy);
          await ctx.reload();
        },
      },
    ],
    async onFailure() {
      // Volumes that grew stay grown; the recorded size is the old one until a request completes.
    },
    async finish(ctx) {
      // An engine whose disk was full retries its writes once a second: wait for that before
      // the probe says what the cluster is.
      if (ctx.driver.volumesUnavailable === null) {
        const still = await waitDisksWritable(ctx.driver, grown(ctx), 5000);
        for (const id of still) {
          await ctx.event(`instance ${ctx.detail.instances.find((i) => i.id === id)?.name}: its data volume is still full after growing`);
        }
      }
      await finish(ctx, payload(ctx).previous === 'STOPPED');
    },
  };
}
