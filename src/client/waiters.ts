// Waiters: follow a request (or a cluster) until it ends. The request's details (an extension:
// operation, last finished step, error) are used for progress and the failure reason; against a
// service without them, plain Show Request is polled.
import type { ClusterDetailResponse, RequestDetailResponse } from '../contract/types.js';
import type { CacheStoreClient } from './client.js';
import { ApiError, RequestFailedError, WaitTimeoutError } from './errors.js';

export interface Progress {
  requestId: string;
  state: string;
  operation?: string;
  /** The last step the workflow finished, when the service tells it. */
  lastStep?: string | null;
  elapsedMs: number;
}

export interface WaitOptions {
  /** Give up waiting (the request goes on) after this long; default 15 min. */
  timeoutMs?: number;
  /** Called on every change of state or step. */
  onProgress?: (p: Progress) => void;
  /** Longest pause between two polls (they start at 50 ms and grow); default 1 s. */
  maxIntervalMs?: number;
}

export interface WaitResult {
  requestId: string;
  state: 'COMPLETED';
  /** The request's details at the end (undefined against a service without the extension). */
  details?: RequestDetailResponse;
}

export const DEFAULT_WAIT_MS = 15 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitForRequest(client: CacheStoreClient, requestId: string, o: WaitOptions = {}): Promise<WaitResult> {
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? DEFAULT_WAIT_MS;
  const maxInterval = o.maxIntervalMs ?? 1000;
  let withDetails = true;
  let last = '';
  let interval = 50;
  for (;;) {
    let details: RequestDetailResponse | undefined;
    let state: string;
    if (withDetails) {
      try {
        details = await client.showRequestDetails(requestId);
        state = details.state;
      } catch (err) {
        // A service without the extension: its not-found handler answers for the path.
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        withDetails = false;
        continue;
      }
    } else {
      state = (await client.showRequest(requestId)).state;
    }
    const progress: Progress = { requestId, state, operation: details?.operation, lastStep: details?.last_step, elapsedMs: Date.now() - started };
    const key = `${state}/${progress.lastStep ?? ''}`;
    if (key !== last) {
      last = key;
      o.onProgress?.(progress);
    }
    if (state === 'COMPLETED') return { requestId, state, details };
    if (state === 'FAILED') throw new RequestFailedError(requestId, details?.operation, details?.error);
    if (Date.now() - started > timeoutMs) throw new WaitTimeoutError(requestId, state, timeoutMs);
    await sleep(interval);
    interval = Math.min(maxInterval, Math.round(interval * 1.5));
  }
}

/** Polls Show Cluster until its service_state is one of `states`. */
export async function waitForClusterState(client: CacheStoreClient, clusterId: string, states: string[], timeoutMs = DEFAULT_WAIT_MS): Promise<ClusterDetailResponse> {
  const started = Date.now();
  let interval = 50;
  for (;;) {
    const c = await client.showCluster(clusterId);
    if (states.includes(c.service_state)) return c;
    if (Date.now() - started > timeoutMs) throw new Error(`cluster ${c.name} is ${c.service_state}, not ${states.join(' or ')}, after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(interval);
    interval = Math.min(1000, Math.round(interval * 1.5));
  }
}
