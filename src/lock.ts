// One service per data dir: engines, their files and (with SQLite) the store belong to it.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'service.pid');
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    if (pid > 0 && pid !== process.pid) {
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = /node|tsx/.test(await readFile(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`another Cache Store service (pid ${pid}) uses the data dir ${dataDir}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await writeFile(file, `${process.pid}\n`);
  return async () => {
    await rm(file, { force: true });
  };
}
