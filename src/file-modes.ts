// Files of the service are its own: no group or other access to anything under its directories.
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Removes group and other permissions from every file and directory under `roots` (no symlinks followed). */
export async function tightenModes(roots: string[]): Promise<number> {
  let changed = 0;
  const walk = async (path: string): Promise<void> => {
    let st;
    try {
      st = await lstat(path);
    } catch {
      return; // not there (yet), or gone meanwhile
    }
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0 && (st.isFile() || st.isDirectory())) {
      await chmod(path, st.mode & 0o700).catch(() => undefined);
      changed++;
    }
    if (st.isDirectory()) {
      for (const name of await readdir(path).catch(() => [] as string[])) await walk(join(path, name));
    }
  };
  for (const root of roots) await walk(root);
  return changed;
}
