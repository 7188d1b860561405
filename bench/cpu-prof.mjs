// Preloaded into the service process by bench/scale.ts --cpu-prof (NODE_OPTIONS=--import=<this
// file>; node refuses --cpu-prof itself in NODE_OPTIONS). The first SIGUSR2 starts a CPU profile,
// the second writes it to $CACHESTORE_BENCH_PROF_DIR/idle-<pid>.cpuprofile (open it in Chrome
// DevTools or speedscope), so the profile holds the idle window only.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = process.env.CACHESTORE_BENCH_PROF_DIR ?? '.';
const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, r) => {
    if (!err) writeFileSync(`${dir}/idle-${process.pid}.cpuprofile`, JSON.stringify(r.profile));
    process.stdout.write(`\n@@profile ${err ? String(err) : `${dir}/idle-${process.pid}.cpuprofile`}\n`);
  });
});
