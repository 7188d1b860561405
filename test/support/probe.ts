// A client bound to a chosen source address (allow-list tests): what it gets from an engine or
// Sentinel, or that nothing answered because the kernel dropped its packets.
import { connect } from 'node:net';
import { PASSWORD } from './dataset.js';

export const NO_ANSWER = 'no answer';
/** How long a connection whose packets the kernel drops is given before the test calls it unanswered. */
const PROBE_MS = 2500;

/**
 * Opens a TCP connection from `source` to ip:port, authenticates with the cluster password and
 * sends PING: 'PONG', NO_ANSWER when nothing came back in time (packets dropped), else what the
 * server or the socket said.
 */
export function probe(source: string, ip: string, port: number): Promise<string> {
  return new Promise((done) => {
    const s = connect({ host: ip, port, localAddress: source });
    let got = '';
    const end = (v: string) => {
      clearTimeout(timer);
      s.destroy();
      done(v);
    };
    const timer = setTimeout(() => end(NO_ANSWER), PROBE_MS);
    s.on('connect', () => s.write(`AUTH ${PASSWORD}\r\nPING\r\n`));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('+PONG')) end('PONG');
      else if (got.startsWith('-')) end(got.trim());
    });
    s.on('error', (e) => end(e.message));
  });
}
