#!/usr/bin/env node
// `npm start` runs this first: compile (npm run build) only when a source is newer than the last
// build, so a built checkout starts in about a second instead of recompiling every time.
// Inputs: everything under src/ (directories too, so a deleted file counts) and the tsconfigs.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function newest(path) {
  const st = statSync(path);
  let t = st.mtimeMs;
  if (st.isDirectory()) for (const e of readdirSync(path)) t = Math.max(t, newest(join(path, e)));
  return t;
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

const sources = Math.max(newest(join(root, 'src')), mtime(join(root, 'tsconfig.json')), mtime(join(root, 'tsconfig.build.json')));
const built = Math.min(mtime(stamp), mtime(join(root, 'dist', 'main.js')));
if (built >= sources) process.exit(0);

console.error(built < 0 ? 'cachestore: building (first start)…' : 'cachestore: sources changed since the last build; building…');
const started = Date.now();
const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// The stamp is as old as the sources the build read: a file saved during the build counts as newer.
writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
utimesSync(stamp, new Date(started), new Date(started));
