// Preloaded into the service process by bench/api.ts --profile (NODE_OPTIONS=--import=<this
// file>; Node refuses --cpu-prof in NODE_OPTIONS). Plain JavaScript: it is loaded before tsx
// registers its loader. SIGUSR2 starts the CPU profiler; the next SIGUSR2 stops it, writes the
// profile to $CACHESTORE_BENCH_PROFILE_DIR/<n>.cpuprofile and prints `@@profile <file>`.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.CACHESTORE_BENCH_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
let running = false;
let n = 0;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () => session.post('Profiler.start', () => process.stdout.write('@@profile started\n')));
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, result) => {
    const file = join(dir, `${++n}.cpuprofile`);
    if (!err) writeFileSync(file, JSON.stringify(result.profile));
    process.stdout.write(err ? `@@profile failed: ${err.message}\n` : `@@profile ${file}\n`);
  });
});
