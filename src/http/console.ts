// Serves the web console (src/console: plain HTML, CSS and ES modules, no build step) at
// /console. The page signs its API requests in the browser, so these routes need no signature.
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from './errors.js';

/** Scripts and styles only from this origin, nothing inline; API calls to this origin only. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface Asset {
  type: string;
  body: Buffer;
}

/** Every servable file of the console folder, read once: a name not in the folder is a 404, never a path. */
function loadAssets(dir: URL): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const ext = /\.[a-z]+$/.exec(name)?.[0] ?? '';
    if (!TYPES[ext] || name.includes('.test.')) continue;
    assets.set(name, { type: TYPES[ext], body: readFileSync(new URL(name, dir)) });
  }
  return assets;
}

export function registerConsole(app: FastifyInstance, dir = new URL('../console/', import.meta.url)): Array<{ method: string; path: string }> {
  let assets: Map<string, Asset> | undefined;
  const send = (name: string, reply: FastifyReply, reqId: string) => {
    assets ??= loadAssets(dir);
    const a = assets.get(name);
    if (!a) return reply.code(404).send(errorBody(404, 'NotFound', `The console has no file '${name.slice(0, 100)}'.`, reqId));
    return reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // The page is small and changes with the service: revalidate rather than run a stale script.
      .header('cache-control', 'no-cache')
      .type(a.type)
      .send(a.body);
  };
  app.get('/console', (req, reply) => send('index.html', reply, req.id));
  // The page itself only at /console: its relative links resolve against that URL.
  app.get('/console/:file', (req, reply) => {
    const file = (req.params as { file: string }).file;
    return send(file === 'index.html' ? '' : file, reply, req.id);
  });
  return [
    { method: 'get', path: '/console' },
    { method: 'get', path: '/console/{file}' },
  ];
}
