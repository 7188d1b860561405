// An engine "upgrade" without touching the machine's packages: a directory of wrapper scripts
// named as the engines' binaries (CACHESTORE_ENGINE_PATH points the service at it) that run the
// real binaries. Once a test announces a newer patch for an engine, its wrapper answers
// `--version` with that version (how the service learns what is installed, src/engines/detect.ts)
// and starts a copy of the real binary kept under <dir>/<engine>-<version>/, as a package upgrade
// puts a new file in place: a process's /proc/<pid>/exe then tells which binary it runs. (The
// environment cannot tell it: the engines write their process title over it.)
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const NAMES = {
  redis: { server: 'redis-server', sentinel: 'redis-sentinel', tools: ['redis-check-aof', 'redis-check-rdb'] },
  valkey: { server: 'valkey-server', sentinel: 'valkey-sentinel', tools: ['valkey-check-aof', 'valkey-check-rdb'] },
} as const;

export type EngineName = keyof typeof NAMES;

function real(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', env: process.env }).trim();
}

function script(engine: EngineName, binary: string): string {
  return `#!/bin/sh
# Test wrapper (test/support/engine-wrappers.ts): the real ${binary}, announcing a newer patch once told to.
v=$(cat "$(dirname "$0")/${engine}.version" 2>/dev/null)
if [ -n "$v" ]; then
  case "$1" in --version|-v) ${real(binary)} --version | sed "s/v=[0-9.]*/v=$v/"; exit 0;; esac
  exec "$(dirname "$0")/${engine}-$v/${binary}" "$@"
fi
exec ${real(binary)} "$@"
`;
}

/**
 * Puts the engine's wrappers in place as new files, as a package upgrade does (the service runs
 * `--version` again only when a binary's file changed: engineDetector in src/engines/detect.ts).
 */
async function installWrappers(dir: string, engine: EngineName): Promise<void> {
  const n = NAMES[engine];
  for (const b of [n.server, n.sentinel]) {
    await writeFile(join(dir, `${b}.new`), script(engine, b), { mode: 0o755 });
    await rename(join(dir, `${b}.new`), join(dir, b));
  }
}

/** Fills `dir` with wrappers for every engine installed on the machine. */
export async function makeEngineWrappers(dir: string): Promise<void> {
  for (const engine of Object.keys(NAMES) as EngineName[]) {
    await installWrappers(dir, engine);
    for (const t of NAMES[engine].tools) await symlink(real(t), join(dir, t));
  }
}

/** From now on the wrappers of `engine` report and start `version` (null: the real one again). */
export async function announcePatch(dir: string, engine: EngineName, version: string | null): Promise<void> {
  const file = join(dir, `${engine}.version`);
  if (version === null) {
    await rm(file, { force: true });
    return installWrappers(dir, engine);
  }
  // The "new" binary: a copy of the server, and the sentinel as a link to it (as Debian installs them).
  const n = NAMES[engine];
  const bin = join(dir, `${engine}-${version}`);
  await mkdir(bin, { recursive: true });
  await copyFile(real(n.server), join(bin, n.server));
  await rm(join(bin, n.sentinel), { force: true });
  await symlink(n.server, join(bin, n.sentinel));
  await writeFile(file, version);
  await installWrappers(dir, engine);
}

/** The announced version whose binary a process runs (null: the machine's own binary). */
export async function startedAsVersion(pid: number): Promise<string | null> {
  const exe = await readlink(`/proc/${pid}/exe`);
  return /-(\d+\.\d+\.\d+)\/[^/]+$/.exec(exe)?.[1] ?? null;
}

/** 7.0.15 -> 7.0.16 */
export function nextPatch(version: string): string {
  const [a, b, c] = version.split('.');
  return `${a}.${b}.${Number(c) + 1}`;
}
