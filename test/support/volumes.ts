// Test clean-up and checks for data volumes: every mount under a test's data dir is unmounted
// and every loop device backed by a file there is detached, also after a failure (loop devices
// are a shared kernel resource); and a volume filled the way an engine fills it.
import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseMountInfo } from '../../src/drivers/local/volumes.js';
import { asTenant } from './dataset.js';

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

/** Takes all of the volume at `dir` but `leaveBytes` with one file (fallocate, at once); its path. */
export async function fillVolume(dir: string, leaveBytes: number): Promise<string> {
  const s = await statfs(dir);
  const filler = join(dir, 'filler');
  await exec('fallocate', ['-l', String(s.bavail * s.bsize - leaveBytes), filler]);
  return filler;
}

/**
 * Writes 64 KiB values as the tenant (`<prefix>:<n>`) until the engine refuses one: the keys it
 * acknowledged, and its refusal (null if it took all 2,000).
 */
export async function writeUntilRefused(ip: string, prefix: string): Promise<{ acked: string[]; refusal: string | null }> {
  const acked: string[] = [];
  const value = 'x'.repeat(64 * 1024);
  const refusal = await asTenant(ip, 6378, async (r) => {
    for (let i = 0; i < 2000; i++) {
      try {
        await r.set(`${prefix}:${i}`, value);
        acked.push(`${prefix}:${i}`);
      } catch (err) {
        return (err as Error).message;
      }
    }
    return null;
  });
  return { acked, refusal };
}
