// What every command shares: the global options, the client they give, printing, cluster
// references by name or id, and "send a mutation, then wait for its request" with progress.
import type { Command } from 'commander';
import { CacheStoreClient } from '../client/client.js';
import { resolveConnection, type ConnectionFlags } from '../client/credentials.js';
import { DEFAULT_WAIT_MS } from '../client/waiters.js';
import type { AsyncResponse, ClusterSummary } from '../contract/types.js';
import { renderJson, renderTable, type Column, type OutputMode } from './output.js';
import { progressReporter } from './progress.js';

/** A mistake the user can fix, said in one line (exit code 1). */
export class CliError extends Error {}

export interface GlobalOptions extends ConnectionFlags {
  output: OutputMode;
  wait?: boolean;
  timeout?: string;
}

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export class Ctx {
  private clientCache?: CacheStoreClient;
  constructor(
    readonly opts: GlobalOptions,
    readonly io: Io,
  ) {}

  static of(cmd: Command, io: Io): Ctx {
    return new Ctx(cmd.optsWithGlobals() as GlobalOptions, io);
  }

  get json(): boolean {
    return this.opts.output === 'json';
  }

  get client(): CacheStoreClient {
    this.clientCache ??= (() => {
      const c = resolveConnection(this.opts, this.io.env);
      return new CacheStoreClient({ endpoint: c.endpoint, keys: c.keys });
    })();
    return this.clientCache;
  }

  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  note(text: string): void {
    this.io.stderr.write(text + '\n');
  }

  /** JSON as is for scripts, else a table of `rows`. */
  print<T>(json: unknown, rows: T[], columns: Array<Column<T>>, empty = 'none'): void {
    if (this.json) return this.out(renderJson(json));
    if (rows.length === 0) return this.note(`(${empty})`);
    this.out(renderTable(rows, columns));
  }

  /** A cluster's id from its name or id (ids are 32 hex characters; names are letters only). */
  async clusterId(ref: string): Promise<string> {
    return (await this.cluster(ref)).id;
  }

  async cluster(ref: string): Promise<{ id: string; name: string }> {
    if (/^[0-9a-f]{32}$/.test(ref)) return { id: ref, name: ref };
    const page = await this.client.listClusters({ name: ref, size: 1000 });
    const all: ClusterSummary[] = page.contents ?? [];
    const exact = all.filter((c) => c.name === ref);
    const loose = exact.length ? exact : all.filter((c) => c.name.toLowerCase() === ref.toLowerCase());
    if (loose.length === 1) return { id: loose[0].id, name: loose[0].name };
    if (loose.length > 1) throw new CliError(`more than one cluster is named like '${ref}' (${loose.map((c) => `${c.name} ${c.id}`).join(', ')}); give the id`);
    throw new CliError(`no cluster named '${ref}' in this account; 'cachestore clusters list' shows them (terminated ones by id only)`);
  }

  /**
   * Sends a mutation and, unless --no-wait, waits for its request with progress; prints the
   * request id (--no-wait) or the outcome. Throws (exit code 1) when the request FAILED.
   */
  async mutate(label: string, send: () => Promise<AsyncResponse>, done?: (r: AsyncResponse) => Promise<string | undefined> | string | undefined): Promise<AsyncResponse> {
    const r = await send();
    if (this.opts.wait === false) {
      if (this.json) this.out(renderJson({ ...r, state: 'REQUESTED' }));
      else {
        this.out(r.request_id);
        this.note(`${label}: requested; follow it with 'cachestore requests wait ${r.request_id}'`);
      }
      return r;
    }
    const reporter = progressReporter(this.io.stderr, label);
    try {
      const w = await this.client.waitForRequest(r.request_id, { onProgress: (p) => reporter.onProgress(p), timeoutMs: this.timeoutMs() });
      reporter.stop();
      const text = done ? await done(r) : undefined;
      if (this.json) this.out(renderJson({ ...r, state: w.state }));
      else this.out(text ?? `${label}: COMPLETED (request ${r.request_id})`);
    } catch (err) {
      reporter.stop();
      throw err;
    }
    return r;
  }

  timeoutMs(): number {
    if (this.opts.timeout === undefined) return DEFAULT_WAIT_MS;
    const s = Number(this.opts.timeout);
    if (!Number.isFinite(s) || s <= 0) throw new CliError(`--timeout takes seconds (a positive number), got '${this.opts.timeout}'`);
    return s * 1000;
  }
}

/** Adds --no-wait and --timeout to a mutation's command. */
export function mutation(cmd: Command): Command {
  return cmd
    .option('--no-wait', 'return the request id at once instead of waiting for the request to end')
    .option('--timeout <seconds>', 'stop waiting after this long (the request goes on)', undefined);
}

export function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}
