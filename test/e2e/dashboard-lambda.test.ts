/**
 * The dashboard on the AWS deployment's function URL, in a real browser (issue 15: "it must work … on the Lambda
 * function URL"): the bundled API function in its own process, with the dashboard files staged beside it as the
 * CDK app stages them, behind an emulated function URL over HTTPS (function URLs are HTTPS only; a self-signed
 * certificate here), on a DynamoDB table (dynalite). Sign in; see the groups the workers saved; set a bad override
 * (the error beside the field, nothing changed) then a good one (in force, in the table); sign out (the cookie no
 * longer works). No token in the page or its storage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { type ApiFunction, startApiFunction } from '../lambda/api-function-fixture.js';
import { chromiumPath } from '../support/browser.js';
import { CHROMIUM, OPENSSL, requirements } from '../support/requirements.js';

interface El {
  readonly textContent: string | null;
}

describe('dashboard on the function URL, in a real browser', requirements(CHROMIUM, OPENSSL), () => {
  let fn: ApiFunction;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    fn = await startApiFunction({ tls: true });
    // The emulated URL's certificate is self-signed: this browser trusts it, as one trusts AWS's.
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--ignore-certificate-errors'] });
    page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } })).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  });
  after(async () => {
    await browser.close();
    fn.stop();
  });

  it('signs in, shows the groups, refuses a bad override and sets a good one, and signs out', async () => {
    assert.match(fn.base, /^https:/);
    await page.goto(`${fn.base}/`);
    await page.fill('#token', fn.admin);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('section.group[data-group="web"] .counts li');
    assert.deepEqual((await page.$$eval('section.group', (els: readonly { getAttribute(n: string): string | null }[]) => els.map((e) => e.getAttribute('data-group')))).sort(), ['erp', 'web']);
    assert.match((await page.textContent('section.group[data-group="web"] .counts')) ?? '', /1 running/);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'fw_session');
    assert.ok(cookie?.httpOnly === true && cookie.secure && cookie.sameSite === 'Strict', 'HttpOnly, Secure, SameSite=Strict');

    await page.click('#nav-overrides');
    await page.fill('#ov-key', 'fleets.main.desired');
    await page.fill('#ov-value', 'lots');
    await page.fill('#ov-reason', 'e2e on lambda: too many');
    await page.click('#ov-submit');
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): El | null } }).document.getElementById('ov-value-error')?.textContent !== '');
    assert.match((await page.textContent('#ov-value-error')) ?? '', /lots/);
    assert.deepEqual(await fn.store.overrides(Date.now()), [], 'nothing changed');
    await page.fill('#ov-value', '2');
    await page.fill('#ov-reason', 'e2e on lambda: two');
    await page.click('#ov-submit');
    await page.waitForSelector('text=Remove fleets.main.desired');
    assert.deepEqual((await fn.store.overrides(Date.now())).map((o) => `${o.group} ${o.key} ${o.reason}`), ['web fleets.main.desired e2e on lambda: two']);

    assert.ok(!(await page.content()).includes(fn.admin));
    const storage = await page.evaluate(() => {
      const g = globalThis as unknown as { localStorage: { length: number; key(i: number): string | null; getItem(k: string): string | null }; sessionStorage: { length: number }; document: { cookie: string } };
      const items: string[] = [];
      for (let i = 0; i < g.localStorage.length; i++) items.push(`${g.localStorage.key(i) ?? ''}=${g.localStorage.getItem(g.localStorage.key(i) ?? '') ?? ''}`);
      return { local: items.join('\n'), session: g.sessionStorage.length, cookie: g.document.cookie };
    });
    assert.ok(!storage.local.includes(fn.admin));
    assert.equal(storage.session, 0);
    assert.equal(storage.cookie, '', 'the session cookie is HttpOnly: the page cannot read it');

    await page.click('#signout');
    await page.waitForSelector('form.signin');
    const status = await page.evaluate(async (url: string) => (await fetch(url)).status, `${fn.base}/v1/status`);
    assert.equal(status, 401, 'signed out: the browser’s cookie no longer opens anything');
    assert.deepEqual(errors.filter((e) => !/status of (400|401)/.test(e)), []);
  });
});
