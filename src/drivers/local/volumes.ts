// Data volumes of the local driver: one sparse file per data node, holding an XFS filesystem,
// loop-mounted on the node's data directory, so the engine's disk is as large as the cluster's
// DATA block storage group and a node that fills it sees the engine's own write errors.
//
// Why XFS and not ext4: growing a mounted ext4 (resize2fs) needs CAP_SYS_RESOURCE, which
// containers often drop (the machines this was built on have root without it: resize2fs answers
// "Permission denied to resize filesystem"); xfs_growfs needs CAP_SYS_ADMIN, which mounting
// needs anyway, so wherever a volume can be mounted it can also be grown online. XFS's smallest
// filesystem is 300 MiB and its log takes 64 MiB of real disk per volume; the rest of the file
// stays sparse until the engine writes.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';

const MIB = 1024 * 1024;
/** mkfs.xfs refuses a smaller filesystem. */
export const XFS_MIN_BYTES = 300 * MIB;

/** The bytes of a volume for a block storage size, with the MiB-per-GB scale (1024 unless a test scales down). */
export function volumeBytes(sizeGb: number, mibPerGb: number): number {
  return sizeGb * mibPerGb * MIB;
}

/** One line of /proc/self/mountinfo: where (mount point) and what (source device). */
export interface MountEntry {
  mountPoint: string;
  source: string;
  fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mounts listed in the text of /proc/self/mountinfo. Pure. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // <id> <parent> <major:minor> <root> <mount point> <options> [optional fields...] - <fstype> <source> <super options>
    const [left, right] = line.split(' - ');
    if (right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    out.push({ mountPoint: unescapeMount(l[4]), fsType: r[0], source: unescapeMount(r[1]) });
  }
  return out;
}

/** The mount on exactly this directory (the last one wins when mounts are stacked), or undefined. */
export function mountAt(entries: MountEntry[], dir: string): MountEntry | undefined {
  const want = resolve(dir);
  return entries.filter((e) => e.mountPoint === want).at(-1);
}

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => done({ code: -1, out, err: e.message }));
    p.on('close', (code) => done({ code: code ?? -1, out: out.trim(), err: err.trim() }));
  });
}

async function must(cmd: string, args: string[], what: string): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${what} failed: ${cmd} ${args.join(' ')}: ${r.err || r.out || `exit ${r.code}`}`);
  return r.out;
}

/** The programs volumes need, where a root shell finds them. */
const TOOLS = [
  ['mkfs.xfs', 'xfsprogs'],
  ['xfs_growfs', 'xfsprogs'],
  ['losetup', 'mount'],
  ['mount', 'mount'],
  ['umount', 'mount'],
] as const;

async function findProgram(name: string): Promise<boolean> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs.filter(Boolean)) {
    if (await access(join(d, name), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export interface VolumeUsage {
  /** The loop device's size: the volume as created or grown. */
  deviceBytes: number;
  /** The filesystem's total, free (for the engine) and used bytes. */
  totalBytes: number;
  freeBytes: number;
}

export class LoopVolumes {
  private constructor(
    readonly unavailable: string | null,
    readonly mibPerGb: number,
  ) {}

  /**
   * Whether real volumes can be made here: root, loop devices, xfsprogs and mount. `mode` 'off'
   * (CACHESTORE_VOLUMES=off) turns them off on purpose.
   */
  static async detect(mode: 'auto' | 'off', mibPerGb: number): Promise<LoopVolumes> {
    if (mode === 'off') return new LoopVolumes('CACHESTORE_VOLUMES=off', mibPerGb);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      return new LoopVolumes('the service does not run as root, so it cannot mount loop devices', mibPerGb);
    }
    if (!(await access('/dev/loop-control').then(() => true, () => false))) {
      return new LoopVolumes('this machine has no loop devices (/dev/loop-control is missing)', mibPerGb);
    }
    for (const [name, pkg] of TOOLS) {
      if (!(await findProgram(name))) return new LoopVolumes(`the ${name} program (package ${pkg}) is not installed`, mibPerGb);
    }
    return new LoopVolumes(null, mibPerGb);
  }

  bytes(sizeGb: number): number {
    return volumeBytes(sizeGb, this.mibPerGb);
  }

  async mountOf(dir: string): Promise<MountEntry | undefined> {
    return mountAt(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), dir);
  }

  /** Whether the image file exists (the node has a volume of its own). */
  async exists(image: string): Promise<boolean> {
    return stat(image).then(() => true, () => false);
  }

  /**
   * Makes sure the volume in `image` is mounted on `dir` and at least `bytes` large: creates it
   * when it does not exist yet, mounts it when it is not mounted (after a reboot), grows it when
   * it is smaller. Idempotent.
   */
  async ensure(image: string, dir: string, bytes: number): Promise<void> {
    if (!(await this.exists(image))) await this.create(image, bytes);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await this.mountOf(dir))) await this.mount(image, dir);
    await this.grow(image, dir, bytes);
  }

  /** Mounts an existing image only (never creates one): for reading what a node stored. */
  async mountIfExists(image: string, dir: string): Promise<boolean> {
    if (!(await this.exists(image))) return false;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await this.mountOf(dir))) await this.mount(image, dir);
    return true;
  }

  private async create(image: string, bytes: number): Promise<void> {
    if (bytes < XFS_MIN_BYTES) {
      throw new Error(`a data volume of ${bytes / MIB} MiB is below XFS's smallest filesystem (300 MiB); raise CACHESTORE_VOLUME_MIB_PER_GB`);
    }
    // Built under another name and renamed when whole: a crash never leaves a half-made volume
    // that a later start would mount.
    const tmp = `${image}.new`;
    await rm(tmp, { force: true });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.truncate(bytes);
    } finally {
      await fh.close();
    }
    await must('mkfs.xfs', ['-q', '-f', '-L', 'cachestore', tmp], 'making the data volume');
    await rename(tmp, image);
  }

  private async mount(image: string, dir: string): Promise<void> {
    // Loop devices are a shared kernel resource: another process may take the free one between
    // mount's look and its claim; mount then fails, and the next attempt finds another.
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await run('mount', ['-o', 'loop,nodev,nosuid', image, dir]);
      if (r.code === 0) return;
      last = r.err || r.out;
      if (await this.mountOf(dir)) return;
      await new Promise((s) => setTimeout(s, 50 * (attempt + 1)));
    }
    throw new Error(`mounting the data volume ${image} on ${dir} failed: ${last}`);
  }

  /**
   * Grows a mounted volume to `bytes` while the engine runs (never shrinks). `always`: run
   * xfs_growfs even when file and device have the size already (a crash between the two steps
   * leaves the filesystem smaller than its device; growing again is harmless).
   */
  async grow(image: string, dir: string, bytes: number, always = false): Promise<boolean> {
    const size = (await stat(image)).size;
    const m = await this.mountOf(dir);
    if (!m) throw new Error(`the data volume is not mounted on ${dir}`);
    if (size >= bytes && (await this.deviceBytes(m.source)) >= size && !always) return false;
    if (size < bytes) {
      const fh = await open(image, 'r+');
      try {
        await fh.truncate(bytes);
      } finally {
        await fh.close();
      }
    }
    // The loop device learns the file's new size, then XFS takes the new space, online.
    await must('losetup', ['-c', m.source], 'resizing the loop device');
    await must('xfs_growfs', ['-d', dir], 'growing the filesystem');
    return true;
  }

  private async deviceBytes(device: string): Promise<number> {
    const name = device.replace(/^\/dev\//, '');
    const sectors = Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim());
    return sectors * 512;
  }

  async usage(dir: string): Promise<VolumeUsage | null> {
    const m = await this.mountOf(dir);
    if (!m || !m.source.startsWith('/dev/loop')) return null;
    const s = await statfs(dir);
    return { deviceBytes: await this.deviceBytes(m.source), totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  /**
   * Unmounts the volume and frees its loop device, then deletes the image. The engine must have
   * exited. Idempotent.
   */
  async remove(image: string, dir: string): Promise<void> {
    for (let attempt = 0; (await this.mountOf(dir)) !== undefined; attempt++) {
      const r = await run('umount', [dir]);
      if (r.code === 0) continue;
      if (attempt >= 20) throw new Error(`unmounting the data volume on ${dir} failed: ${r.err}`);
      // A process that just exited may still hold a file for a moment.
      await new Promise((s) => setTimeout(s, 100));
    }
    // mount -o loop frees the device at unmount (autoclear); one set up any other way is freed here.
    const held = await run('losetup', ['-l', '-n', '-O', 'NAME', '-j', image]);
    for (const dev of held.code === 0 ? held.out.split('\n').map((l) => l.trim()).filter(Boolean) : []) {
      await run('losetup', ['-d', dev]);
    }
    await rm(image, { force: true });
    await rm(`${image}.new`, { force: true });
  }
}
