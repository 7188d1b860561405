// followFile: lines appended to a real file arrive as they are written, whole, from the moment
// of the call on; a file made anew is read from its start; stop ends it.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followFile } from './log-follower.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('followFile', () => {
  it('reports whole lines appended after the call, and a file made anew from its start', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachestore-follow-'));
    const file = join(dir, 'engine.log');
    await writeFile(file, 'before the call\n');
    const seen: string[] = [];
    const stop = followFile(file, (lines) => seen.push(...lines));
    await new Promise((r) => setTimeout(r, 100));
    await appendFile(file, 'first\nsecond, in ');
    await until('first', () => seen.includes('first'));
    await appendFile(file, 'two writes\n');
    await until('the line written in two parts', () => seen.includes('second, in two writes'));
    await writeFile(file, 'new\n'); // shorter than what was read: made anew
    await until('the new file', () => seen.includes('new'));
    stop();
    await appendFile(file, 'after stop\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['first', 'second, in two writes', 'new']);
  });
});
