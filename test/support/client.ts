// A raw client for tests and benchmarks: it signs as the SDK does (src/client/signing.ts) and
// returns status and body as they come, so tests can send what the typed client would refuse
// (bad bodies, wrong methods) and look at any answer. Scripts use src/client instead.
import { nextTimestamp, signature, signedHeaders, type Keys } from '../../src/client/signing.js';

export { signature, type Keys };

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export class SignedClient {
  constructor(
    readonly baseUrl: string,
    readonly keys: Keys,
  ) {}

  headers(method: string, url: string, timestamp = nextTimestamp()): Record<string, string> {
    return signedHeaders({ accessKey: this.keys.accessKey, secretKey: this.keys.secretKey }, method, url, timestamp);
  }

  async request<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { ...this.headers(method, url), ...extraHeaders };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body);
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }

  /** Polls Show Request until it is COMPLETED or FAILED. */
  async waitRequest(requestId: string, timeoutMs = 30_000, intervalMs = 20): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.get<{ state: string }>(`/v1/requests/${requestId}`);
      if (r.status !== 200) throw new Error(`Show Request answered ${r.status}: ${JSON.stringify(r.body)}`);
      if (r.body.state === 'COMPLETED' || r.body.state === 'FAILED') return r.body.state;
      if (Date.now() > deadline) throw new Error(`request ${requestId} still ${r.body.state} after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, intervalMs));
    }
  }

  /** Polls Show Cluster until service_state is `state`. */
  async waitState(clusterId: string, state: string, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.get(`/v1/clusters/${clusterId}`);
      if (r.status === 200 && r.body.service_state === state) return r.body;
      if (Date.now() > deadline) throw new Error(`cluster ${clusterId} is ${r.body?.service_state ?? r.status}, not ${state}, after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}
