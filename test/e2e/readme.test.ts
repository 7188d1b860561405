// Every example of README.md runs here, so it cannot drift: the `sh cli` blocks in order in one
// bash session against a service of its own (the CLI reaches it through the service's own
// variables, CACHESTORE_ENDPOINT and CACHESTORE_DATA_DIR; finding them with no configuration at
// all is tested in cli.test.ts), each `# → X` comment checked as that line's output; the
// `ts sdk` block through tsx; each `json <operationId>` body against the contract; and the
// `sh setup` commands (install, whole suite) exist as scripts. A fenced block of another kind
// fails the test until it is given one.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildValidators } from '../../src/contract/validators.js';
import { ROOT, runProcess } from '../support/cli.js';
import { startHarness, type Harness } from '../support/harness.js';
import { accessSync, constants } from 'node:fs';

interface Block {
  lang: string;
  tag: string;
  code: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\S*)[ \t]*(\S*)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    out.push({ lang: m[1], tag: m[2], code: m[3], line: markdown.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** `cmd   # → X` becomes: run cmd, print its output, fail unless it is X. */
export function withChecks(script: string): string {
  return script
    .split('\n')
    .map((line) => {
      const m = /^(.*?)\s+# → (.+)$/.exec(line);
      if (!m) return line;
      const want = m[2].trim().replace(/'/g, `'\\''`);
      return `out=$(${m[1]}); printf '%s\\n' "$out"; [ "$out" = '${want}' ] || { echo "README: '${m[1].replace(/'/g, '')}' printed '$out', not '${want}'" >&2; exit 1; }`;
    })
    .join('\n');
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const all = blocks(README);
const KNOWN: Record<string, string[]> = { sh: ['setup', 'cli'], ts: ['sdk'], json: [...buildValidators().keys()], '': [''] };

describe('README examples', () => {
  it('are each of a kind this test runs', () => {
    expect(all.filter((b) => b.lang === 'sh' && b.tag === 'cli').length).toBeGreaterThanOrEqual(2);
    for (const b of all) expect(KNOWN[b.lang] ?? [], `README.md line ${b.line}: \`\`\`${b.lang} ${b.tag}`).toContain(b.tag);
  });

  it('name only setup commands that exist (scripts, npm scripts)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const commands = all
      .filter((b) => b.lang === 'sh' && b.tag === 'setup')
      .flatMap((b) => b.code.split('\n'))
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) {
      const [first, second] = c.split(/\s+/);
      if (first === 'npm') expect(Object.keys(pkg.scripts), c).toContain(second === 'run' ? c.split(/\s+/)[2] : second);
      else accessSync(join(ROOT, first), constants.X_OK);
    }
  });

  it.each(all.filter((b) => b.lang === 'json').map((b) => [b.tag, b] as const))('json body of %s is valid for the contract', (_, b) => {
    const v = buildValidators().get(b.tag)!.body!;
    expect(v(JSON.parse(b.code)), JSON.stringify(v.errors)).toBe(true);
  });

  describe('against a running service', () => {
    let h: Harness;
    let work: string;
    beforeAll(async () => {
      // The service writes its bootstrap credential, as on a first start.
      h = await startHarness({ CACHESTORE_ACCESS_KEY: '', CACHESTORE_SECRET_KEY: '', CACHESTORE_ACCOUNT_ID: '' });
      work = await mkdtemp(join(tmpdir(), 'cachestore-readme-'));
    });
    afterAll(async () => {
      await h?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });
    const env = () => ({ CACHESTORE_ENDPOINT: h.baseUrl, CACHESTORE_DATA_DIR: h.dataDir, XDG_CONFIG_HOME: work });

    it('the sh cli blocks run as written, in order, and print what they say', async () => {
      const script = all.filter((b) => b.lang === 'sh' && b.tag === 'cli').map((b) => withChecks(b.code)).join('\n');
      const r = await runProcess('bash', ['-c', `set -euo pipefail\n${script}`], { env: env(), timeoutMs: 300_000 });
      expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^PONG$/m);
      expect(r.stdout).toMatch(/^hello$/m);
      // What the README says `clusters connect` prints, with this service's address.
      const detail = (await h.client.get('/v1/clusters?name=mycache')).body.contents[0];
      const ip = (await h.client.get(`/v1/clusters/${detail.id}`)).body.instance_groups[0].instances[0].service_ip_address;
      expect(r.stdout).toContain(`redis-cli -h ${ip} -p 6378 --askpass\n`);
      expect(README).toMatch(/prints e\.g\.: redis-cli -h 127\.77\.\d+\.\d+ -p 6378 --askpass/);
    }, 300_000);

    it('the ts sdk block runs as written', async () => {
      const sdk = all.find((b) => b.lang === 'ts' && b.tag === 'sdk')!;
      expect(sdk).toBeDefined();
      const file = join(work, 'example.mts'); // ESM (top-level await) outside any package.json
      const index = pathToFileURL(join(ROOT, 'src/client/index.ts')).href;
      await writeFile(file, sdk.code.replace("'./src/client/index.js'", `'${index}'`));
      const r = await runProcess(join(ROOT, 'node_modules/.bin/tsx'), [file], { env: env(), timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const want = /\/\/ → (\S+)\s*$/m.exec(sdk.code)![1];
      expect(r.stdout.trim()).toBe(want);
    }, 120_000);
  });
});
