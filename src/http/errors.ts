// The contract's error shape, for every error the API answers with.
import { DomainError, type FieldProblem } from '../domain/errors.js';

export interface ErrorBody {
  errors: Array<{
    code: string;
    title: string;
    status: number;
    detail: string | FieldProblem[];
    request_id: string;
    global_request_id: string;
    links: unknown[];
    related_resources: unknown[];
    response: null;
  }>;
}

export function errorBody(status: number, code: string, detail: string | FieldProblem[], requestId: string): ErrorBody {
  return {
    errors: [
      { code, title: code, status, detail, request_id: requestId, global_request_id: requestId, links: [], related_resources: [], response: null },
    ],
  };
}

/** Maps anything thrown while handling a request to a status and an error body. */
export function toErrorResponse(err: unknown, requestId: string): { status: number; body: ErrorBody; internal: boolean } {
  if (err instanceof DomainError) {
    const detail = err.fields && err.fields.length > 0 ? err.fields : err.message;
    return { status: err.status, body: errorBody(err.status, err.code, detail, requestId), internal: false };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  // Errors Fastify raises before our handler runs (bad JSON, body too large, bad media type).
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const detail = FASTIFY_MESSAGES[e.code ?? ''] ?? e.message ?? 'Bad request';
    const code = e.statusCode === 413 ? 'PayloadTooLarge' : e.statusCode === 415 ? 'UnsupportedMediaType' : 'ValidationError';
    return { status: e.statusCode, body: errorBody(e.statusCode, code, detail, requestId), internal: false };
  }
  return {
    status: 500,
    body: errorBody(500, 'InternalServerError', `An internal error occurred; quote ${requestId} when reporting it.`, requestId),
    internal: true,
  };
}

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is too large (at most 1 MiB).',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Send the request body as JSON with Content-Type: application/json.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body sent.',
};
