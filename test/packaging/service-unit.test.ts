// The systemd unit that runs the service at boot, as scripts/install-service.sh would install it
// (--print: nothing is installed or started), checked by systemd's own verifier.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the systemd unit', () => {
  it('is filled in with this checkout, the data dir and node, keeps engines alive on stop, and starts at boot', async () => {
    const { stdout } = await run('bash', ['scripts/install-service.sh', '--print', '--data-dir', '/var/lib/cs-test'], { cwd: ROOT });
    expect(stdout).not.toMatch(/@[A-Z_]+@/);
    expect(stdout).toMatch(new RegExp(`^ExecStart=/\\S*node ${join(ROOT, 'dist/main.js')}$`, 'm'));
    expect(stdout).toContain('Environment=CACHESTORE_DATA_DIR=/var/lib/cs-test');
    // Only the service's own process is signalled on stop: engines outlive it.
    expect(stdout).toMatch(/^KillMode=process$/m);
    expect(stdout).toMatch(/^WantedBy=multi-user.target$/m);
  });

  // scripts/install-deps.sh installs systemd-analyze (Debian's systemd package) where it is missing.
  it('passes systemd-analyze verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cachestore-unit-'));
    try {
      const { stdout } = await run('bash', ['scripts/install-service.sh', '--print'], { cwd: ROOT });
      const unit = join(dir, 'cachestore.service');
      await writeFile(unit, stdout);
      // Exits non-zero (and says why) on any bad setting.
      const out = await run('systemd-analyze', ['verify', unit]).then((r) => r.stdout + r.stderr, (e) => { throw new Error(`${e.stdout}${e.stderr}`); });
      expect(out).not.toMatch(/cachestore\.service:\d+:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
