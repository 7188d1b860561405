// Preloaded into the service process by bench/scale.ts (NODE_OPTIONS=--import=<this file>). On
// SIGWINCH it collects garbage (a full GC: RSS and heap then hold what the service keeps, not
// what it has yet to collect) and writes `@@memory {rss, heapUsed}` (MB) to stdout, so the
// memory per cluster is a difference of two settled figures. Plain JavaScript: loaded before tsx.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
process.on('SIGWINCH', () => {
  gc();
  const m = process.memoryUsage();
  process.stdout.write(`\n@@memory ${JSON.stringify({ rss: m.rss / 1048576, heapUsed: m.heapUsed / 1048576 })}\n`);
});
