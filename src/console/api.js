// The API as the page calls it: every request signed in the browser (signing.js), answers as
// { status, body }. Keys live in sessionStorage only: gone when the tab closes.
import { signedHeaders } from './signing.js';

const KEYS = 'cachestore.console.keys';

export function storedKeys() {
  try {
    const k = JSON.parse(sessionStorage.getItem(KEYS) ?? 'null');
    return k && k.accessKey && k.secretKey ? k : null;
  } catch {
    return null;
  }
}

export function storeKeys(keys) {
  sessionStorage.setItem(KEYS, JSON.stringify(keys));
}

export function forgetKeys() {
  sessionStorage.removeItem(KEYS);
}

export class Api {
  constructor(keys, onUnauthorized = () => undefined) {
    this.keys = keys;
    this.onUnauthorized = onUnauthorized;
  }

  async call(method, path, body) {
    const url = new URL(path, location.origin).href;
    const headers = { ...(await signedHeaders(this.keys, method, url)), Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    if (res.status === 401) this.onUnauthorized(problemText(parsed));
    return { status: res.status, body: parsed };
  }

  get(path) {
    return this.call('GET', path);
  }
  post(path, body) {
    return this.call('POST', path, body);
  }
  put(path, body) {
    return this.call('PUT', path, body);
  }
  del(path) {
    return this.call('DELETE', path);
  }
}

/**
 * An error answer as field problems and a general message: the contract's shape carries either a
 * text or a list of { loc: ['body', 'name'], msg } in errors[0].detail.
 */
export function problemsOf(body) {
  const e = body && typeof body === 'object' && Array.isArray(body.errors) ? body.errors[0] : undefined;
  if (!e) return { fields: [], message: typeof body === 'string' && body ? body : 'The service did not answer as expected.' };
  if (Array.isArray(e.detail)) {
    return { fields: e.detail.map((d) => ({ field: d.loc.join('.'), message: d.msg })), message: '' };
  }
  return { fields: [], message: String(e.detail ?? e.title ?? e.code) };
}

/** One line for a person: the message, or every field problem. */
export function problemText(body) {
  const p = problemsOf(body);
  return p.message || p.fields.map((f) => `${f.field}: ${f.message}`).join('; ');
}
