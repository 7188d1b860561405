// Errors the client throws, each with a message a person can act on in one line.
import type { ErrorResponse } from '../contract/types.js';

/** The API answered with an error (the contract's error shape, docs/CONTRACT.md). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    /** The contract's `detail`, made one line (field problems joined with '; '). */
    readonly detail: string,
    readonly requestId: string | undefined,
    readonly body: unknown,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** The service could not be reached (not running, wrong endpoint). */
export class ConnectionError extends Error {
  constructor(
    readonly endpoint: string,
    cause: unknown,
  ) {
    // fetch wraps the reason: TypeError('fetch failed') with cause ECONNREFUSED, 'bad port', …
    const inner = (cause as { cause?: { code?: string; message?: string } })?.cause;
    const reason = inner?.code ?? inner?.message ?? (cause as Error)?.message ?? String(cause);
    super(`cannot reach the Cache Store API at ${endpoint} (${reason}); is the service running there? (start it with npm start, or give --endpoint)`);
    this.name = 'ConnectionError';
  }
}

/** A request the client waited for ended FAILED. */
export class RequestFailedError extends Error {
  constructor(
    readonly requestId: string,
    readonly operation: string | undefined,
    readonly reason: string | null | undefined,
  ) {
    super(`request ${requestId}${operation ? ` (${operation})` : ''} FAILED${reason ? `: ${oneLine(reason)}` : ''}`);
    this.name = 'RequestFailedError';
  }
}

/** Waiting for a request took longer than the caller allowed; the request itself goes on. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly requestId: string,
    readonly state: string,
    timeoutMs: number,
  ) {
    super(`request ${requestId} is still ${state} after ${Math.round(timeoutMs / 1000)} s; it goes on: follow it with 'cachestore requests wait ${requestId}'`);
    this.name = 'WaitTimeoutError';
  }
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The contract's error body -> one line; anything else -> what can be said about it. */
export function apiErrorFrom(status: number, body: unknown): ApiError {
  const e = (body as ErrorResponse | undefined)?.errors?.[0];
  if (!e) {
    const text = typeof body === 'string' && body ? `: ${oneLine(body).slice(0, 200)}` : '';
    return new ApiError(status, `HTTP${status}`, `the API answered ${status}${text}`, undefined, body);
  }
  const detail =
    typeof e.detail === 'string'
      ? oneLine(e.detail)
      : (e.detail ?? [])
          .map((d) => {
            const loc = (d.loc ?? []).join('.');
            return `${loc ? `${loc}: ` : ''}${d.msg ?? d.type_ ?? 'invalid'}`;
          })
          .join('; ') || e.title;
  return new ApiError(status, e.code, detail, e.request_id, body);
}
