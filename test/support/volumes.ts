// Test clean-up and checks for data volumes: every mount under a test's data dir is unmounted
// and every loop device backed by a file there is detached, also after a failure (loop devices
// are a shared kernel resource).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseMountInfo } from '../../src/drivers/local/volumes.js';

const exec = promisify(execFile);

/** Mounts whose mount point lies under `dir`. */
export async function mountsUnder(dir: string) {
  const root = resolve(dir) + '/';
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint.startsWith(root));
}

/** Loop devices whose backing file lies under `dir` (from `losetup --list`). */
export async function loopDevicesUnder(dir: string): Promise<string[]> {
  const root = resolve(dir) + '/';
  const { stdout } = await exec('losetup', ['--list', '--noheadings', '--raw', '-O', 'NAME,BACK-FILE']).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter(([name, file]) => name && file?.replace(/ \(deleted\)$/, '').startsWith(root))
    .map(([name]) => name);
}

export async function unmountVolumesUnder(dir: string): Promise<void> {
  // Deepest first.
  for (const m of (await mountsUnder(dir)).sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
    await exec('umount', ['-l', m.mountPoint]).catch(() => undefined);
  }
  for (const dev of await loopDevicesUnder(dir)) await exec('losetup', ['-d', dev]).catch(() => undefined);
}
