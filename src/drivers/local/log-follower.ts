// Follows a log file as it grows, told by the kernel (inotify, through fs.watch) instead of
// reading it on a timer: nothing runs while the file does not change (issue 15). The directory
// is watched, not the file, so a log that is created later, or made anew, is still followed.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** At most this much of what was appended since the last read is read (the newest part). */
const MAX_READ = 64 * 1024;

/** Calls `onLines` with each batch of whole lines appended to `file` from now on. Returns stop. */
export function followFile(file: string, onLines: (lines: string[]) => void): () => void {
  const name = basename(file);
  let offset: number | null = null;
  let partial = '';
  let reading = false;
  let again = false;
  let stopped = false;

  const read = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const size = await stat(file).then((s) => s.size, () => 0);
        if (offset === null || size < offset) {
          // First look, or the file was made anew: from its start if new, else from its end.
          const fresh = offset !== null;
          offset = fresh ? 0 : size;
          partial = '';
        }
        if (size <= offset) continue;
        const from = Math.max(offset, size - MAX_READ);
        const fh = await open(file, 'r');
        try {
          const buf = Buffer.alloc(size - from);
          const { bytesRead } = await fh.read(buf, 0, buf.length, from);
          offset = from + bytesRead;
          const text = partial + buf.subarray(0, bytesRead).toString('utf8');
          const parts = text.split('\n');
          partial = parts.pop() ?? '';
          const lines = parts.filter((l) => l.trim());
          if (lines.length > 0 && !stopped) onLines(lines);
        } finally {
          await fh.close();
        }
      } while (again && !stopped);
    } catch {
      // The file went away meanwhile: the next change is read from its new start.
    } finally {
      reading = false;
    }
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) void read();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    // No directory (the node was removed): nothing to follow.
  }
  void read(); // where "now" is: the file's current end
  return () => {
    stopped = true;
    watcher?.close();
  };
}
