// What a directory holds, for tests that check which files an operation left behind.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file below `dir`, as sorted paths relative to it; [] when `dir` does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name).slice(dir.length + 1));
    }
  };
  await walk(dir);
  return out.sort();
}
