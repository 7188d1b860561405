// `cachestore requests …`: follow the asynchronous requests every change is.
import { Command } from 'commander';
import { ApiError } from '../../client/errors.js';
import { Ctx, type Io } from '../context.js';
import { renderFields, renderJson } from '../output.js';
import { progressReporter } from '../progress.js';

export function requestsCommand(io: Io): Command {
  const requests = new Command('requests').alias('request').summary('follow requests (every change is one)').description('Every change is an asynchronous request (req-…): show where it is, or wait for it to end.');

  requests
    .command('show')
    .argument('<request-id>', 'req-…')
    .description('Show a request: state, operation, last finished step, and why it failed.')
    .addHelpText('after', '\nExample:\n  $ cachestore requests show req-6f1c…')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      let d;
      try {
        d = await ctx.client.showRequestDetails(id);
      } catch (err) {
        // A service without the details extension: the contract's Show Request.
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        d = await ctx.client.showRequest(id);
      }
      if (ctx.json) return ctx.out(renderJson(d));
      const x = d as unknown as Record<string, unknown>;
      ctx.out(renderFields(Object.entries({ request: x.request_id, state: x.state, operation: x.operation, cluster: x.cluster_id, 'last step': x.last_step, error: x.error, created: x.created_at, finished: x.finished_at }).filter(([k, v]) => v !== undefined || k === 'state')));
    });

  requests
    .command('wait')
    .argument('<request-id>', 'req-…')
    .option('--timeout <seconds>', 'stop waiting after this long (the request goes on)')
    .description('Wait until a request ends, showing its progress; exit code 0 only when it COMPLETED.')
    .addHelpText('after', '\nExample:\n  $ cachestore requests wait "$(cachestore clusters stop mycache --no-wait)"')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = Ctx.of(cmd, io);
      const reporter = progressReporter(io.stderr, id);
      try {
        const w = await ctx.client.waitForRequest(id, { onProgress: (p) => reporter.onProgress(p), timeoutMs: ctx.timeoutMs() });
        reporter.stop();
        ctx.out(ctx.json ? renderJson(w.details ?? { request_id: id, state: w.state }) : `${id}: ${w.state}`);
      } catch (err) {
        reporter.stop();
        throw err;
      }
    });
  return requests;
}
