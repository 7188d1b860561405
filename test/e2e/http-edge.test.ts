// The HTTP edge as a hostile client meets it: whatever is sent (oversized headers and paths,
// undecodable URLs, bodies cut short, unsigned bodies of any size, wrong methods, media types),
// the answer is a 4xx in the contract's error shape with a request id, and the signature is
// checked before a body is read. Raw sockets where fetch would refuse to send the bytes.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { expectErrorShape } from '../support/errors.js';

let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startHarness();
  port = Number(new URL(h.baseUrl).port);
});
afterAll(async () => {
  await h?.stop();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
  /** The server closed the connection after answering. */
  closed: boolean;
}

/** Parses the first HTTP response in `raw` (Content-Length framed), or undefined while incomplete. */
function parseResponse(raw: Buffer): { answer: Omit<RawAnswer, 'closed'>; rest: Buffer } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (raw.length < end + 4 + length) return undefined;
  const text = raw.subarray(end + 4, end + 4 + length).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { answer: { status: Number(statusLine.split(' ')[1]), headers, text, body }, rest: raw.subarray(end + 4 + length) };
}

/**
 * Writes `data` on a new connection and collects the answers. `halfClose` ends our side after
 * writing; `responses` is how many answers to wait for; `untilClosed` waits for the server to
 * close the connection too (`closed` says whether it did). Gives up after 10 s (a server that
 * waits for bytes never sent would otherwise hang the test), and always closes the socket.
 */
function exchange(data: Buffer | string, opts: { halfClose?: boolean; responses?: number; untilClosed?: boolean } = {}): Promise<RawAnswer[]> {
  const wanted = opts.responses ?? 1;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    const answers: Array<Omit<RawAnswer, 'closed'>> = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (answers.length < wanted) reject(new Error(`got ${answers.length} of ${wanted} answers (closed: ${closed}): ${buf.toString('latin1').slice(0, 300)}`));
      else resolve(answers.map((a) => ({ ...a, closed })));
    };
    const timer = setTimeout(() => finish(false), 10_000);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (let p = parseResponse(buf); p; p = parseResponse(buf)) {
        answers.push(p.answer);
        buf = p.rest;
      }
      if (answers.length >= wanted && !opts.untilClosed) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.write(data);
    if (opts.halfClose) socket.end();
  });
}

/** Request head as the SDK signs it, for `method path` on this server. */
function signedHead(method: string, path: string, extra: Record<string, string | number> = {}): string {
  const headers = { Host: `127.0.0.1:${port}`, ...h.client.headers(method, `${h.baseUrl}${path}`), ...extra };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

const unsignedHead = (method: string, path: string, extra: Record<string, string | number> = {}) =>
  `${method} ${path} HTTP/1.1\r\n${Object.entries({ Host: `127.0.0.1:${port}`, ...extra }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

describe('malformed HTTP that Node refuses before any route', () => {
  it('a 20 kB header: 431 in the error shape, connection closed', async () => {
    const [r] = await exchange(signedHead('GET', '/v1/clusters', { 'X-Padding': 'a'.repeat(20_000) }), { untilClosed: true });
    expectErrorShape(r, 431, 'RequestHeaderFieldsTooLarge');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.closed).toBe(true);
  });

  it('a 60 kB path: 431 in the error shape', async () => {
    const [r] = await exchange(unsignedHead('GET', `/v1/clusters/${'a'.repeat(60_000)}`));
    const e = expectErrorShape(r, 431, 'RequestHeaderFieldsTooLarge');
    expect(e.detail).toMatch(/too large/);
  });

  it('a Content-Length larger than the body sent (signed): 400 in the error shape', async () => {
    const [r] = await exchange(signedHead('POST', '/v1/clusters', { 'Content-Type': 'application/json', 'Content-Length': 100 }) + '{"name":"x"}', {
      halfClose: true,
    });
    const e = expectErrorShape(r, 400, 'BadRequest');
    expect(e.detail).toMatch(/Content-Length/);
  });

  it('a header name with a space: 400 in the error shape', async () => {
    const [r] = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n`);
    expectErrorShape(r, 400, 'BadRequest');
  });

  it('bytes that are not HTTP: 400 in the error shape', async () => {
    const [r] = await exchange('HELLO THERE\r\n\r\n');
    expectErrorShape(r, 400, 'BadRequest');
  });

  it('Content-Length and Transfer-Encoding together (request smuggling): 400 in the error shape', async () => {
    const [r] = await exchange(signedHead('POST', '/v1/clusters', { 'Content-Type': 'application/json', 'Content-Length': 4, 'Transfer-Encoding': 'chunked' }) + '0\r\n\r\n');
    expectErrorShape(r, 400, 'BadRequest');
  });
});

describe('URLs the router refuses', () => {
  it('a 5,000-character path parameter: 414, and the answer does not echo it', async () => {
    const long = 'a'.repeat(5000);
    const r = await h.client.get(`/v1/clusters/${long}`);
    const e = expectErrorShape(r, 414, 'URITooLong');
    expect(JSON.stringify(r.body)).not.toContain('a'.repeat(200));
    expect(e.detail).toMatch(/longer than 100 characters/);
  });

  it('%FF%FE in the path: 400 in the error shape', async () => {
    const r = await h.client.get('/v1/clusters/%FF%FE');
    const e = expectErrorShape(r, 400, 'ValidationError');
    expect(e.detail).toMatch(/not valid/);
  });

  it('an unknown path: 404; a known path with another method: 405 naming the methods it takes', async () => {
    expectErrorShape(await h.client.get('/v2/nothing'), 404, 'NotFound');
    const long = await h.client.get(`/v2/${'x'.repeat(10_000)}`);
    expectErrorShape(long, 404, 'NotFound');
    expect(JSON.stringify(long.body).length).toBeLessThan(1000);
    const put = await h.client.request('PUT', '/v1/clusters', {});
    const e = expectErrorShape(put, 405, 'MethodNotAllowed');
    expect(e.detail).toMatch(/GET, HEAD, POST/);
    const [raw] = await exchange(signedHead('DELETE', '/v1/engine-versions'));
    expectErrorShape(raw, 405, 'MethodNotAllowed');
    expect(raw.headers.allow).toBe('GET, HEAD');
    const detail = await h.client.request('PATCH', `/v1/clusters/${'0'.repeat(32)}`);
    expect(expectErrorShape(detail, 405, 'MethodNotAllowed').detail).toMatch(/DELETE, GET, HEAD/);
  });
});

describe('the signature is checked before the body is read', () => {
  it('unsigned malformed JSON: 401, not 400', async () => {
    const res = await fetch(`${h.baseUrl}/v1/clusters`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name": ' });
    expectErrorShape({ status: res.status, body: await res.json() }, 401, 'Unauthorized');
  });

  it('badly signed malformed JSON: 401, not 400', async () => {
    const headers = { ...h.client.headers('POST', `${h.baseUrl}/v1/clusters`), 'Scp-Signature': 'AAAA', 'Content-Type': 'application/json' };
    const res = await fetch(`${h.baseUrl}/v1/clusters`, { method: 'POST', headers, body: '{"name": ' });
    expectErrorShape({ status: res.status, body: await res.json() }, 401, 'Unauthorized');
  });

  it('an unsigned 1 MiB body: 401 while most of the body is still unsent, then the connection closes', async () => {
    // 64 KiB of a 1 MiB body are sent and the rest never is: a server that read the body first
    // would never answer.
    const head = unsignedHead('POST', '/v1/clusters', { 'Content-Type': 'application/json', 'Content-Length': 1024 * 1024 });
    const [r] = await exchange(Buffer.concat([Buffer.from(head), Buffer.alloc(64 * 1024, 0x20)]), { untilClosed: true });
    expectErrorShape(r, 401, 'Unauthorized');
    expect(r.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
  });

  it('an unsigned body over the size limit: 401 (not 413), without reading it', async () => {
    const head = unsignedHead('POST', '/v1/clusters', { 'Content-Type': 'text/plain', 'Content-Length': 5 * 1024 * 1024 });
    const [r] = await exchange(head);
    expectErrorShape(r, 401, 'Unauthorized');
  });
});

describe('bodies, signed', () => {
  it('over 1 MiB: 413 in the error shape, answered without reading the body', async () => {
    const [r] = await exchange(signedHead('POST', '/v1/clusters', { 'Content-Type': 'application/json', 'Content-Length': 2 * 1024 * 1024 }));
    const e = expectErrorShape(r, 413, 'PayloadTooLarge');
    expect(e.detail).toMatch(/at most 1 MiB/);
  });

  it('not JSON (text/plain): 415 in the error shape', async () => {
    const url = `${h.baseUrl}/v1/clusters`;
    const res = await fetch(url, { method: 'POST', headers: { ...h.client.headers('POST', url), 'Content-Type': 'text/plain' }, body: 'name=x' });
    const e = expectErrorShape({ status: res.status, body: await res.json() }, 415, 'UnsupportedMediaType');
    expect(e.detail).toMatch(/application\/json/);
  });
});

describe('well-formed traffic is not disturbed', () => {
  it('keeps a connection alive across answers, errors included (pipelined requests)', async () => {
    const answers = await exchange(
      unsignedHead('GET', '/healthz') + unsignedHead('GET', '/no/such/path') + signedHead('GET', '/v1/engine-versions') + unsignedHead('GET', '/healthz', { Connection: 'close' }),
      { responses: 4 },
    );
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200, 200]);
    expect(answers[0].body).toEqual({ status: 'ok' });
    expectErrorShape(answers[1], 404, 'NotFound');
    expect(answers[2].body.contents.length).toBeGreaterThan(0);
  });

  it('every error carries its own request id', async () => {
    const a = await h.client.get('/v2/nothing');
    const b = await h.client.get('/v2/nothing');
    expect(a.body.errors[0].request_id).not.toBe(b.body.errors[0].request_id);
  });
});
