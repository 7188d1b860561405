// Progress of a request the CLI waits for: a spinner line on a terminal, plain lines (one per
// change of state or step) otherwise, always on stderr.
import type { Progress } from '../client/waiters.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Reporter {
  onProgress(p: Progress): void;
  /** Ends the display (clears the spinner line). */
  stop(): void;
}

export function describeProgress(label: string, p: Progress): string {
  const step = p.lastStep ? `, done: ${p.lastStep}` : '';
  return `${label}: ${p.state}${step} (${(p.elapsedMs / 1000).toFixed(1)} s)`;
}

export function progressReporter(stream: NodeJS.WriteStream, label: string, quiet = false): Reporter {
  if (quiet) return { onProgress: () => undefined, stop: () => undefined };
  if (!stream.isTTY) {
    return { onProgress: (p) => void stream.write(describeProgress(label, p) + '\n'), stop: () => undefined };
  }
  let last: Progress | undefined;
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const p = last ? { ...last, elapsedMs: Date.now() - started } : undefined;
    const text = p ? describeProgress(label, p) : `${label}: sent`;
    stream.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${text.slice(0, Math.max(20, (stream.columns ?? 80) - 3))}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    onProgress: (p) => {
      last = p;
      draw();
    },
    stop: () => {
      clearInterval(timer);
      stream.write('\r\x1b[K');
    },
  };
}
