// The web console in a real browser: Debian's headless Chromium driven by playwright-core,
// against the real service and real engines. Sign in by keyboard, a bad field answered at the
// field, create a standalone cluster through the form, see it RUNNING, copy its connection line
// and PING with it through redis-cli, take a backup, restore it, terminate with confirmation.
// A screenshot of each page goes to CACHESTORE_CONSOLE_SHOTS, else to a folder in the test's
// data dir (kept with CACHESTORE_TEST_KEEP=1); the test prints where.
import { spawn } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from '../support/dataset.js';
import { expectErrorShape } from '../support/errors.js';
import { startHarness, type Harness } from '../support/harness.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the networking flags Chromium keeps trying to reach Google's hosts, which this
// machine's closed network refuses; --no-sandbox because the suite runs as root.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

let h: Harness;
let browser: Browser;
let page: Page;
let shots: string;
const taken: string[] = [];
const pageErrors: string[] = [];

async function screenshot(name: string) {
  const file = join(shots, `${String(taken.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  taken.push(file);
}

/** Every form control the user can reach has a label (a <label>, aria-label or aria-labelledby). */
async function unlabelledControls(): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => (el as HTMLInputElement).type !== 'hidden')
      .filter((el) => {
        const c = el as HTMLInputElement;
        const byLabel = [...(c.labels ?? [])].some((l) => l.textContent!.trim() !== '');
        const byAria = (c.getAttribute('aria-label') ?? '').trim() !== '';
        const byRef = (c.getAttribute('aria-labelledby') ?? '').split(' ').some((id) => (document.getElementById(id)?.textContent ?? '').trim() !== '');
        return !(byLabel || byAria || byRef);
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

/** redis-cli run with the words of `line` plus `command`, the password typed on its stdin (--askpass). */
function runLine(line: string, password: string, command: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, ...args] = line.split(' ');
  expect(cmd).toBe('redis-cli');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args, ...command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(`${password}\n`);
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

beforeAll(async () => {
  h = await startHarness({ CACHESTORE_BACKUP_SCHEDULE_MS: '0' });
  shots = process.env.CACHESTORE_CONSOLE_SHOTS ?? join(h.dataDir, 'console-screenshots');
  await mkdir(shots, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.baseUrl });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  // The browser logs every non-2xx answer as an error; the 404 of /metrics is expected here.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of (404|400)/.test(msg.text())) pageErrors.push(msg.text());
  });
});

afterAll(async () => {
  console.log(`console screenshots (${taken.length}): ${shots}`);
  // Leave the page first, so its 3-second polls stop before the browser dies.
  await page?.goto('about:blank').catch(() => undefined);
  await browser?.close();
  await h?.stop();
});

describe('the web console', () => {
  it('serves its files by name only, each with the policy that forbids inline script', async () => {
    for (const [file, type] of [['/console', 'text/html'], ['/console/app.js', 'text/javascript'], ['/console/signing.js', 'text/javascript'], ['/console/console.css', 'text/css']]) {
      const res = await fetch(`${h.baseUrl}${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toContain(type);
      expect(res.headers.get('content-security-policy'), file).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(res.headers.get('x-content-type-options'), file).toBe('nosniff');
      // Read to the end: an unread body keeps the client's connection busy, and the service's
      // close waits for busy connections.
      expect((await res.text()).length, file).toBeGreaterThan(100);
    }
    // Not a file of the console, a type declaration, a test, a way out of the folder: 404 in the error shape.
    for (const file of ['nope.js', 'signing.d.ts', 'metrics.test.ts', 'index.html', '..%2Fhttp%2Fconsole.ts', '%2e%2e%2fpackage.json']) {
      const res = await fetch(`${h.baseUrl}/console/${file}`);
      expectErrorShape({ status: res.status, body: await res.json() }, 404, 'NotFound');
    }
  });

  it('signs in, creates a cluster, connects, backs up, restores and terminates', async () => {
    const keys = h.service.credential;
    const response = await page.goto(`${h.baseUrl}/console`);
    expect(response!.status()).toBe(200);
    // No inline script may run: scripts from this origin only.
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self';/);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    expect(await unlabelledControls()).toEqual([]);
    await screenshot('sign-in');

    // Keyboard only: the access key field has the focus; Tab to the secret, Enter submits.
    await page.keyboard.type(keys.accessKey);
    await page.keyboard.press('Tab');
    await page.keyboard.type(keys.secretKey);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Clusters');
    // The secret stays in this tab's session storage; nothing in local storage or cookies.
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.context().cookies()).toEqual([]);

    // The create form: the API's message for a bad name appears under the name field.
    await page.getByRole('link', { name: 'Create cluster' }).first().click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Create cluster');
    expect(await unlabelledControls()).toEqual([]);
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('bad name 1');
    await page.getByLabel('Instance name prefix').fill('cweb');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create cluster' }).click();
    const nameError = page.locator(`#${await name.getAttribute('id')}-error`);
    await expect.poll(() => nameError.textContent()).toMatch(/must match the pattern/);
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    await screenshot('create-form-with-error');

    await name.fill('consoleweb');
    await page.getByRole('button', { name: 'Create cluster' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Cluster consoleweb');

    // The list shows it RUNNING once the create completes (the list refreshes itself).
    await page.getByRole('link', { name: 'Clusters' }).first().click();
    const row = page.locator('tr[data-cluster="consoleweb"]');
    await expect.poll(() => row.locator('.state').textContent(), { timeout: 60_000 }).toBe('RUNNING');
    await screenshot('clusters');

    // The cluster page: the connection line, copied to the clipboard, PINGs the engine.
    await row.getByRole('link', { name: 'consoleweb' }).click();
    const line = page.locator('code[data-connection="primary"]');
    await line.waitFor();
    expect(await unlabelledControls()).toEqual([]);
    await page.getByRole('button', { name: 'Copy connection (primary)' }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(await line.textContent());
    expect(copied).toMatch(/^redis-cli -h 127\.\d+\.\d+\.\d+ -p 6378 --askpass$/);
    const ping = await runLine(copied, PASSWORD, ['PING']);
    expect(ping.out.trim().split('\n').at(-1)).toBe('PONG');
    expect(ping.code).toBe(0);
    // A key for the restore to bring back.
    expect((await runLine(copied, PASSWORD, ['SET', 'written-by', 'console-test'])).out).toMatch(/OK\s*$/);
    // The cluster page charts the engine's series from GET /metrics, signed in the browser: the
    // used-memory chart names the instance with a value read from the engine.
    const memory = page.locator('figure.chart[data-metric="cachestore_engine_used_memory_bytes"]');
    await expect.poll(() => memory.count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => memory.locator('.legend').textContent(), { timeout: 20_000 }).toMatch(/: \d+(\.\d)? (B|KiB|MiB)/);
    expect(await page.locator('figure.chart').count()).toBe(5);
    expect(await page.locator('[data-metrics="unavailable"]').count()).toBe(0);
    await expect.poll(() => page.locator('ol.timeline li').count()).toBeGreaterThan(0);
    // The parameters and commands editors load the cluster's values, every input labelled.
    await page.getByRole('button', { name: 'Show parameters' }).click();
    await page.getByRole('button', { name: 'Show commands' }).click();
    await expect.poll(() => page.locator('input[name^="parameters-"]').count()).toBeGreaterThan(5);
    await expect.poll(() => page.locator('input[name^="commands-"]').count()).toBeGreaterThan(0);
    expect(await unlabelledControls()).toEqual([]);
    await screenshot('cluster');

    // Backup on demand, then restore it into a new cluster.
    await page.getByRole('button', { name: 'Back up now' }).click();
    const backupState = page.locator('tr[data-backup] .state').first();
    await expect.poll(() => backupState.textContent(), { timeout: 60_000 }).toBe('COMPLETED');
    // The point-in-time ranges the service can restore are offered: the extension's answer.
    const clusterId = decodeURIComponent(new URL(page.url()).hash.replace('#/cluster/', ''));
    const number = await page.locator('tr[data-backup]').first().getAttribute('data-backup');
    const ranges = (await h.client.get(`/v1/clusters/${clusterId}/restorable-ranges`)).body;
    expect(ranges.total_count).toBe(1);
    expect(ranges.contents[0].backup_history_number).toBe(number);
    expect(Date.parse(ranges.contents[0].to)).toBeGreaterThanOrEqual(Date.parse(ranges.contents[0].from));
    await expect.poll(() => page.getByRole('list', { name: 'Restorable ranges' }).textContent(), { timeout: 15_000 }).toMatch(/ to .*\(backup /);
    // A time no backup covers: the service's answer appears at the point-in-time field.
    await page.getByLabel('A point in time').check();
    const time = page.getByLabel('Point in time (your local time)');
    await time.fill('2001-01-01T00:00:00');
    await page.getByLabel('New cluster name').fill('consolecopy');
    await page.getByLabel('Instance name prefix').fill('ccopy');
    await page.getByRole('button', { name: 'Restore into a new cluster' }).click();
    const timeError = page.locator(`#${await time.getAttribute('id')}-error`);
    await expect.poll(() => timeError.textContent()).toMatch(/not covered by the backups.*can be restored to/);
    await page.getByLabel('A backup', { exact: true }).check();

    await page.getByLabel('Instance name prefix').fill('ccopy');
    await page.getByRole('button', { name: 'Restore into a new cluster' }).click();
    const restored = page.locator('a[data-restored]');
    await restored.waitFor();
    const restoredId = await restored.getAttribute('data-restored');
    await screenshot('cluster-backups-restore');
    await restored.click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Cluster consolecopy');
    await expect.poll(() => page.locator('dl.facts .state').textContent(), { timeout: 60_000 }).toBe('RUNNING');
    const show = (await h.client.get(`/v1/clusters/${restoredId}`)).body;
    expect(show.service_state).toBe('RUNNING');
    const copyLine = await page.locator('code[data-connection="primary"]').textContent();
    expect(copyLine).toContain(show.instance_groups[0].instances[0].service_ip_address);
    expect((await runLine(copyLine!, PASSWORD, ['GET', 'written-by'])).out).toMatch(/console-test\s*$/);
    await screenshot('restored-cluster');

    // Terminate with confirmation, by keyboard: the dialog opens on Cancel; Shift+Tab, Enter confirms.
    await page.getByRole('link', { name: 'Clusters' }).first().click();
    await row.getByRole('link', { name: 'consoleweb' }).click();
    await page.locator('code[data-connection="primary"]').waitFor();
    await page.getByRole('button', { name: 'Terminate' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toMatch(/Terminate .*consoleweb\?/);
    await screenshot('terminate-confirmation');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    const requestShown = page.locator('[data-request-state]');
    await expect.poll(() => requestShown.evaluate((e: HTMLElement) => `${e.dataset.requestOp} ${e.textContent}`), { timeout: 60_000 }).toBe('terminate COMPLETED');
    const shown = await h.client.get(`/v1/clusters/${clusterId}`);
    expect(shown.status === 404 ? 'gone' : shown.body.service_state).toMatch(/^(gone|TERMINATED)$/);
    await expect.poll(() => page.locator('dl.facts').textContent(), { timeout: 20_000 }).toMatch(/TERMINATED|does not exist/);
    await screenshot('terminated');

    // Nothing the page did was refused by its Content-Security-Policy or threw.
    expect(pageErrors).toEqual([]);
    for (const f of taken) expect((await stat(f)).size, f).toBeGreaterThan(1000);
    expect(taken.length).toBe(8);
  });
});
