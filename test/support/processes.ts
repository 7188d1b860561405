// Catching a short-lived child process of the service in the act (a `cp` copying a backup), so a
// test can freeze it and kill the service while the work is half done, as a crash would.
import { readFileSync } from 'node:fs';

/**
 * Polls the children of `parentPid` (the kernel's list, one small read) until one whose command
 * line contains every one of `parts` appears, and returns its pid. Node forks child processes
 * from its main thread, so that thread's list is the one to read.
 */
export async function catchChild(parentPid: number, parts: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const list = `/proc/${parentPid}/task/${parentPid}/children`;
  while (Date.now() < deadline) {
    for (const pid of readFileSync(list, 'utf8').split(' ').filter(Boolean)) {
      let line: string;
      try {
        line = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (parts.every((p) => line.includes(p))) return Number(pid);
    }
    // Let the event loop breathe between passes without waiting a timer's minimum.
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no child of ${parentPid} with ${parts.join(' ')} within ${timeoutMs} ms`);
}
