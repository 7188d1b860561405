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

/** A connection from `source` kept open: each `ping()` sends PING and says what came back. */
export async function openSession(source: string, ip: string, port: number): Promise<{ ping(): Promise<string>; close(): void }> {
  const s = connect({ host: ip, port, localAddress: source });
  s.on('error', () => undefined);
  let got = '';
  s.on('data', (d) => (got += d.toString()));
  await new Promise<void>((ok, fail) => {
    s.once('connect', () => ok());
    s.once('error', fail);
  });
  const ask = (line: string, want: string) =>
    new Promise<string>((done) => {
      got = '';
      s.write(line);
      const deadline = Date.now() + PROBE_MS;
      const look = setInterval(() => {
        if (got.includes(want) || got.startsWith('-') || Date.now() > deadline) {
          clearInterval(look);
          done(got.includes(want) ? want.slice(1).trim() : got.startsWith('-') ? got.trim() : NO_ANSWER);
        }
      }, 20);
    });
  const auth = await ask(`AUTH ${PASSWORD}\r\n`, '+OK\r\n');
  if (auth !== 'OK') throw new Error(`AUTH from ${source} to ${ip}:${port} answered ${auth}`);
  return { ping: () => ask('PING\r\n', '+PONG\r\n'), close: () => s.destroy() };
}
