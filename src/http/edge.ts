// Answers for what never reaches a route: malformed HTTP that Node's parser refuses (oversized
// headers, a body cut short, bad header syntax, a client too slow), URLs the router cannot
// decode or whose parameters are too long, and a known path asked with a method it lacks. All
// of them come in the contract's error shape with a request id, like every other answer.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

export const newRequestId = (): string => `req-${randomUUID()}`;

/** What Node's HTTP parser reports, as status, code and a message a person can act on. */
export function clientErrorAnswer(code: string | undefined): { status: number; code: string; detail: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'RequestHeaderFieldsTooLarge',
        detail: 'The request line and headers are too large (at most 16 KiB together); ids in the path are 32 characters and queries are short.',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'RequestTimeout', detail: 'The request was not received in full in time; send it again.' };
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, code: 'BadRequest', detail: 'The connection ended before the body did: send as many bytes as Content-Length says.' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'BadRequest', detail: 'Content-Length is not valid (or comes with Transfer-Encoding): send one Content-Length that counts the body bytes.' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, code: 'BadRequest', detail: 'The chunked body is malformed.' };
    case 'HPE_INVALID_HEADER_TOKEN':
      return { status: 400, code: 'BadRequest', detail: 'A header name or value has characters HTTP does not allow.' };
    default:
      return { status: 400, code: 'BadRequest', detail: 'The request is not well-formed HTTP/1.1.' };
  }
}

/**
 * Fastify's `clientErrorHandler` (called with the Fastify instance as `this`): Node's parser
 * refused the bytes, so there is no request object and no route; the answer is written on the
 * socket, then the connection is closed (its bytes can no longer be framed).
 */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, detail } = clientErrorAnswer(err.code);
  const id = newRequestId();
  this.log.info({ reqId: id, code: err.code, status }, 'malformed request refused');
  // A response to the request already being handled has started: writing another would corrupt it.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(errorBody(status, code, detail, id));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

/** Fastify's `frameworkErrors`: URLs the router refuses before any route is chosen. */
export function frameworkErrorHandler(err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply): void {
  // Never echo the URL: it may be 60 kB, and it is the client's own.
  const [status, code, detail] =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? [414, 'URITooLong', `A path parameter is longer than ${MAX_PARAM_LENGTH} characters; ids are 32 hexadecimal characters and request ids 40.`]
      : err.code === 'FST_ERR_BAD_URL'
        ? [400, 'ValidationError', 'The URL path is not valid: a percent-encoded byte sequence is not UTF-8 (e.g. %FF); encode ids as they are shown.']
        : [500, 'InternalServerError', `An internal error occurred; quote ${req.id} when reporting it.`];
  void reply.code(status as number).header('connection', 'close').type('application/json').send(errorBody(status as number, code as string, detail as string, req.id));
}

/** Longest path parameter routed (Fastify's default): ids are 32 characters, request ids 40. */
export const MAX_PARAM_LENGTH = 100;

/**
 * The methods each routed path answers, to tell "no such path" (404) from "this path, another
 * method" (405 with Allow). Consulted only when the router found nothing.
 */
export function methodMatcher(routes: Array<{ method: string; path: string }>) {
  const patterns = new Map<string, { re: RegExp; methods: Set<string> }>();
  for (const r of routes) {
    const source = '^' + r.path.split(/\{[^}]+\}|:[A-Za-z_]+/).map(escapeRegExp).join('[^/]+') + '/?$';
    const entry = patterns.get(source) ?? { re: new RegExp(source), methods: new Set<string>() };
    entry.methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === 'GET') entry.methods.add('HEAD');
    patterns.set(source, entry);
  }
  return (path: string): string[] => {
    const out = new Set<string>();
    for (const { re, methods } of patterns.values()) if (re.test(path)) for (const m of methods) out.add(m);
    return [...out].sort();
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
