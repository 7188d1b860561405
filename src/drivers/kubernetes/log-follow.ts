// Follows a pod's log as the engine writes it (the log API's follow=true: the API server pushes
// lines, nothing runs while the engine is quiet), reopening it when the stream ends (the pod
// was replaced, the API server closed it). A request of its own rather than client-node's Log:
// that one cannot be stopped without an unhandled stream error (node-fetch 2 emits one on abort).
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeApi } from './kube-api.js';

/** How long to wait before reopening a stream that ended or could not open (no pod yet, say). */
const REOPEN_MS = 2000;

/** Calls `onLines` with each batch of whole lines the container logs from now on. Returns stop. */
export function followPodLog(api: KubeApi, pod: string, container: string, onLines: (lines: string[]) => void): () => void {
  let stopped = false;
  let req: ClientRequest | null = null;
  let timer: NodeJS.Timeout | null = null;
  // When the last stream ended: the next one asks for what was logged since (a new pod's start).
  let endedAt: number | null = null;

  const reopen = () => {
    endedAt ??= Date.now();
    if (stopped) return;
    timer = setTimeout(() => void open(), REOPEN_MS);
    timer.unref();
  };

  const open = async (): Promise<void> => {
    const url = new URL(`${api.server}/api/v1/namespaces/${api.namespace}/pods/${pod}/log`);
    url.searchParams.set('container', container);
    url.searchParams.set('follow', 'true');
    if (endedAt === null) url.searchParams.set('tailLines', '0');
    else url.searchParams.set('sinceSeconds', String(Math.max(1, Math.ceil((Date.now() - endedAt) / 1000))));
    endedAt = null;
    const opts: RequestOptions = { method: 'GET' };
    try {
      await api.call('pods/log', 'get', pod, () => api.config.applyToHTTPSOptions(opts));
    } catch {
      return reopen();
    }
    if (stopped) return;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let partial = '';
    req = send(url, opts, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.once('end', reopen);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        const lines = parts.filter((l) => l.trim());
        if (lines.length > 0 && !stopped) onLines(lines);
      });
      res.once('end', reopen);
      res.once('error', reopen);
    });
    req.once('error', reopen);
    req.end();
  };

  void open();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    req?.destroy();
  };
}
