// Preloaded into the service process by bench/provision.ts (NODE_OPTIONS=--import=<this file>),
// so the bench can see the service's own event loop delay, GC pauses and CPU without touching
// src/. Plain JavaScript: it is loaded before tsx registers its loader.
//
// On SIGUSR2 it writes one line `@@probe {json}` to stdout with what it saw since the previous
// SIGUSR2 (or since start), then starts counting again. It also ends the service (SIGTERM, the
// service's own graceful stop) if the bench that started it goes away without cleaning up.
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const MAX_GC = 50_000;
const parent = process.ppid;
const TICK_MS = 5;
const loop = monitorEventLoopDelay({ resolution: TICK_MS });
const late = (ns) => Math.max(0, ns / 1e6 - TICK_MS);
loop.enable();
/** [start (ms since the epoch), duration ms, kind] of each GC pause. */
let gcs = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (gcs.length < MAX_GC) gcs.push([performance.timeOrigin + e.startTime, e.duration, e.detail?.kind ?? 0]);
});
observer.observe({ entryTypes: ['gc'] });
let cpu0 = process.cpuUsage();
let wall0 = performance.now();

process.on('SIGUSR2', () => {
  const cpu = process.cpuUsage(cpu0);
  const mem = process.memoryUsage();
  const report = {
    pid: process.pid,
    wallMs: performance.now() - wall0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    // The histogram holds whole tick intervals (about 5 ms when the loop is free): the delay is what goes beyond.
    loop: { p50: late(loop.percentile(50)), p99: late(loop.percentile(99)), max: late(loop.max) },
    gc: gcs,
    heapUsedMb: mem.heapUsed / 1024 / 1024,
    rssMb: mem.rss / 1024 / 1024,
  };
  process.stdout.write(`\n@@probe ${JSON.stringify(report)}\n`);
  loop.reset();
  gcs = [];
  cpu0 = process.cpuUsage();
  wall0 = performance.now();
});

setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 1000).unref();
