/**
 * The dashboard end to end (issue 15), in a real browser: Debian's headless Chromium driven by playwright-core
 * against a real `fleetwarden run` of the demo's simulated fleet (×60: a window's start-ahead begins a few real
 * seconds in). Sign in with the admin token; see the groups and their states; open a group's timeline; set an
 * override with a bad value (the error shows beside the field, nothing changes) and then a good one (it shows in
 * the overview and the history); watch a transition arrive without a reload; sign out (the cookie no longer
 * works). A viewer sees the fleet and no form or button that changes it. No token appears in the page's HTML,
 * URL or storage. The same run saves the screenshots the README shows (docs/images/).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, watchedPage } from '../support/browser.js';
import { CHROMIUM, requirements } from '../support/requirements.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const ADMIN = `fwa_e2e-dashboard-${process.pid}-token-0123456789abcdef`;

/** What the page's elements offer, typed here (the tests are compiled without the DOM library). */
interface El {
  readonly textContent: string | null;
}

describe('dashboard in a real browser', requirements(CHROMIUM), () => {
  let controller: ChildProcess;
  let browser: Browser;
  let page: Page;
  let base = '';
  let stateDir = '';
  const errors: string[] = [];
  let navigations = 0;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'fw-dash-'));
    controller = spawn(process.execPath, [BIN, 'run', '--config', join(ROOT, 'examples/demo.yaml'), '--state-dir', stateDir, '--listen', '127.0.0.1:0'], { env: { ...process.env, FLEETWARDEN_ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });
    base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the controller did not say where its API is within 20 s')), 20_000);
      createInterface({ input: controller.stdout! }).on('line', (line) => {
        const m = /API on (http:\/\/\S+)/.exec(line);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      controller.once('exit', (code) => reject(new Error(`the controller exited (${code ?? 'signal'})`)));
    });
    browser = await launchBrowser();
    page = await watchedPage(browser, errors, { width: 1280, height: 900 });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });
  });
  after(async () => {
    await browser.close();
    controller.kill('SIGTERM');
  });

  /** Console errors other than the failed requests the test provokes on purpose (401 before sign-in, 400 bad value). */
  const unexpected = (): string[] => errors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401)/.test(e));

  it('signs in, shows the groups and their states, the timeline, overrides with errors beside the field, live updates, and signs out', async () => {
    await page.goto(`${base}/`);
    await page.fill('#token', ADMIN);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('section.group[data-group="web"] .counts li');
    assert.deepEqual((await page.$$eval('section.group', (els: readonly { getAttribute(n: string): string | null }[]) => els.map((e) => e.getAttribute('data-group')))).sort(), ['erp', 'web']);
    assert.match((await page.textContent('section.group[data-group="erp"] .counts')) ?? '', /\d+ stopped/);
    assert.match((await page.textContent('section.group[data-group="web"] p.targets')) ?? '', /fleets\.main\.desired = 2 \(file\)/, 'the target and the layer that set it');
    await page.screenshot({ path: join(ROOT, 'docs/images/dashboard-overview.png') });

    // The timeline of web: its window periods, and a bar per instance.
    await page.click('#nav-timeline');
    await page.waitForSelector('#timeline svg g.fw-period');
    assert.ok((await page.locator('#timeline g.fw-period').count()) >= 30, 'a 2-hourly window over 72 h');
    assert.ok((await page.locator('#timeline g.fw-state').count()) >= 8, 'every instance of web has a state bar');
    await page.screenshot({ path: join(ROOT, 'docs/images/dashboard-timeline.png') });
    // From the keyboard: a focused bar's text is spelled out under the picture.
    await page.locator('#timeline g.fw-period').first().focus();
    assert.match((await page.textContent('#timeline-detail')) ?? '', /^FW-web-every-2h: window \d{4}-/);

    // A bad override: the error is beside the value field and nothing is set.
    await page.click('#nav-overrides');
    await page.fill('#ov-key', 'fleets.main.desired');
    await page.fill('#ov-value', 'lots');
    await page.fill('#ov-reason', 'e2e: too many');
    await page.click('#ov-submit');
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): El | null } }).document.getElementById('ov-value-error')?.textContent !== '');
    assert.match((await page.textContent('#ov-value-error')) ?? '', /lots/);
    assert.equal(await page.getAttribute('#ov-value', 'aria-invalid'), 'true');
    const none = (await (await fetch(`${base}/v1/overrides`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { overrides: unknown[] };
    assert.equal(none.overrides.length, 0, 'nothing changed');
    // A good one: it is in force, in the overview and in the history.
    await page.fill('#ov-value', '3');
    await page.fill('#ov-reason', 'e2e: three for the test');
    await page.click('#ov-submit');
    await page.waitForSelector('text=Remove fleets.main.desired');
    await page.click('#nav-overview');
    await page.waitForSelector('section.group[data-group="web"] p.override');
    assert.match((await page.textContent('section.group[data-group="web"] p.override')) ?? '', /fleets\.main\.desired = 3 .*e2e: three for the test/);
    await page.waitForSelector('section.group[data-group="web"] p.targets:has-text("fleets.main.desired = 3 (override")');
    await page.click('#nav-history');
    // A bad time range: the API's error is shown beside the filters, naming the field.
    await page.fill('#hist-from', 'yesterday');
    await page.press('#hist-from', 'Enter');
    await page.waitForSelector('#hist-error:has-text("from:")');
    await page.fill('#hist-from', '');
    // The type filter is the API's: the page holds overrides only.
    await page.fill('#hist-type', 'override');
    await page.press('#hist-type', 'Enter');
    await page.waitForSelector('text=override fleets.main.desired set until');
    assert.deepEqual([...new Set(await page.$$eval('table td:nth-child(4)', (els: readonly El[]) => els.map((e) => e.textContent)))], ['override'], 'every row is an override');

    // A transition arrives without a reload: the counts of web change while the page stays.
    await page.click('#nav-overview');
    const counts = (): Promise<string> => page.textContent('section.group[data-group="web"] .counts').then((t) => t ?? '');
    const first = await counts();
    const deadline = Date.now() + 90_000;
    while ((await counts()) === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    assert.notEqual(await counts(), first, 'the states of web changed on the page');
    assert.equal(navigations, 1, 'no reload: the one navigation is the first load');

    // No token in the page's HTML, URL or storage.
    assert.ok(!(await page.content()).includes(ADMIN));
    assert.ok(!page.url().includes(ADMIN));
    const storage = await page.evaluate(() => {
      const g = globalThis as unknown as { localStorage: { length: number; key(i: number): string | null; getItem(k: string): string | null }; sessionStorage: { length: number }; document: { cookie: string } };
      const items: string[] = [];
      for (let i = 0; i < g.localStorage.length; i++) items.push(`${g.localStorage.key(i) ?? ''}=${g.localStorage.getItem(g.localStorage.key(i) ?? '') ?? ''}`);
      return { local: items.join('\n'), session: g.sessionStorage.length, cookie: g.document.cookie };
    });
    assert.ok(!storage.local.includes(ADMIN));
    assert.equal(storage.session, 0);
    assert.equal(storage.cookie, '', 'the session cookie is HttpOnly: the page cannot read it');

    // At 320 px the page does not scroll sideways (wide tables scroll inside their own box).
    await page.setViewportSize({ width: 320, height: 800 });
    assert.ok((await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)) <= 320);
    await page.setViewportSize({ width: 1280, height: 900 });

    // Sign out: the cookie the browser had no longer opens anything.
    const cookie = (await page.context().cookies()).find((c) => c.name === 'fw_session');
    assert.ok(cookie?.httpOnly === true && cookie.sameSite === 'Strict');
    await page.click('#signout');
    await page.waitForSelector('form.signin');
    const after = await fetch(`${base}/v1/status`, { headers: { cookie: `fw_session=${cookie.value}` } });
    assert.equal(after.status, 401);
    assert.deepEqual(unexpected(), []);
  });

  it('a viewer sees the fleet but no way to change it', async () => {
    const viewer = (JSON.parse(execFileSync(process.execPath, [BIN, 'token', 'issue', '--viewer', '--label', 'e2e viewer', '--json', '--config', join(ROOT, 'examples/demo.yaml'), '--state-dir', stateDir], { encoding: 'utf8' })) as { token: string }).token;
    await page.fill('#token', viewer);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('section.group[data-group="web"]');
    assert.match((await page.textContent('#who')) ?? '', /viewer \(read only\)/);
    await page.click('#nav-overrides');
    await page.waitForSelector('text=Read only: a viewer cannot set or remove overrides.');
    assert.equal(await page.locator('#override-form').count(), 0);
    assert.equal(await page.locator('button:has-text("Remove")').count(), 0, 'no remove buttons either');
    assert.ok(!(await page.content()).includes(viewer));
    await page.click('#signout');
    await page.waitForSelector('form.signin');
    assert.deepEqual(unexpected(), []);
  });
});
