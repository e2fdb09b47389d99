/**
 * The dashboard's execution details in a real browser (Debian's headless Chromium, playwright-core), against a real
 * API server on a real SQLite store and a directory object store: the picture of who was out of service when (one
 * bar per drained invocation, at its times) and the Full output link, which the signed-in browser opens as plain
 * text — the whole output, not the preview.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Invocation } from '../../src/maintenance/model.js';
import { DirectoryObjectStore } from '../../src/store/objects/objects.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fixtureSave } from '../support/fixture-save.js';
import { launchBrowser, watchedPage } from '../support/browser.js';
import { CHROMIUM, requirements } from '../support/requirements.js';

const ADMIN = `fwa_exec-view-${process.pid}-token-0123456789abcdef`;
const M = 60_000;
const T0 = Date.parse('2026-06-07T02:00:00Z');
const ID = 'web/patch/2026-06-07T02:00:00Z';
const KEY = 'executions/web/patch/2026-06-07T02-00-00Z/yum/i-0002-1.log';
const FULL = `${'Installing package …\n'.repeat(400)}Complete!\n`;

function inv(target: string, from: number, until: number, extra: Partial<Invocation> = {}): Invocation {
  return { target, status: 'SUCCESS', phase: 'done', phaseSince: until, startedAt: from, endedAt: until, runs: 1, exitCode: 0, outOfService: false, deregisteredFrom: ['tg-web'], detail: 'ok', output: FULL.slice(0, 2500), ...extra };
}

describe('execution details in a real browser', requirements(CHROMIUM), () => {
  const store = new SqliteStore(':memory:');
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'fw-exec-view-')));
  const errors: string[] = [];
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base = '';

  before(async () => {
    await fixtureSave(store, {
      group: 'web',
      at: T0,
      records: [],
      transitions: [],
      history: [],
      newHandles: [],
      finishedHandles: [],
      failures: [],
      consumedFailures: false,
      activeWindows: [],
      executions: [
        {
          id: ID,
          group: 'web',
          window: 'patch',
          start: T0,
          end: T0 + 120 * M,
          lastTaskStart: T0 + 90 * M,
          status: 'SUCCESS',
          startedAt: T0,
          endedAt: T0 + 45 * M,
          // Two batches: i-0001 and i-0002 out together, then i-0003.
          tasks: [{ name: 'yum', priority: 1, status: 'SUCCESS', targets: ['i-0001', 'i-0002', 'i-0003'], terminated: [], detail: 'done', invocations: [inv('i-0001', T0, T0 + 20 * M), inv('i-0002', T0 + M, T0 + 21 * M, { outputKey: KEY }), inv('i-0003', T0 + 22 * M, T0 + 44 * M)] }],
        },
      ],
    });
    await objects.put(KEY, FULL);
    // The controller's clock: an hour after the window opened.
    server = createApiServer({ store, config: parseConfigText('groups:\n  - name: web\n'), clock: { now: () => T0 + 60 * M }, live: null, adminTokenHash: hashToken(ADMIN), objects });
    base = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
    browser = await launchBrowser();
    page = await watchedPage(browser, errors);
  });
  after(async () => {
    await browser.close();
    server.closeAllConnections();
    server.close();
    await store.close();
  });

  it('draws who was out of service when, and opens an invocation’s full output as plain text', async () => {
    await page.goto(`${base}/`);
    await page.fill('#token', ADMIN);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('#nav-executions');
    await page.click('#nav-executions');
    await page.click('button:has-text("Details")');
    await page.waitForSelector('#exec-outage svg g.fw-state');
    const out = await page.$$eval('#exec-outage g.fw-state[data-state="out of service"]', (els: readonly { getAttribute(n: string): string | null }[]) => els.map((e) => [e.getAttribute('data-instance'), e.getAttribute('data-start'), e.getAttribute('data-end')]));
    assert.deepEqual(
      out.map(([i, s, e]) => [i, (Number(s) - T0) / M, (Number(e) - T0) / M]),
      [
        ['i-0001', 0, 20],
        ['i-0002', 1, 21],
        ['i-0003', 22, 44],
      ],
      'one bar per invocation, at its times: the two batches can be read off',
    );
    assert.equal(await page.locator('#exec-outage g.fw-period').count(), 1, 'the window period on top');
    await page.locator('#exec-outage g.fw-state[data-instance="i-0003"][data-state="out of service"]').focus();
    assert.match((await page.textContent('#exec-outage-detail')) ?? '', /^i-0003: out of service .*yum: taken out of service \(SUCCESS\)/);

    const links = page.locator('a.full-output');
    assert.equal(await links.count(), 1, 'only the invocation with a stored output has the link');
    const href = (await links.getAttribute('href')) ?? '';
    assert.equal(href, `/v1/executions/${encodeURIComponent(ID)}/tasks/yum/invocations/i-0002/output`);
    const [popup] = await Promise.all([page.waitForEvent('popup'), links.click()]);
    await popup.waitForLoadState();
    const shown = await popup.evaluate(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText);
    assert.ok(shown.trimEnd() === FULL.trimEnd(), `the whole output (${FULL.length} characters, beyond the 2 500 of the preview), through the session cookie; got ${shown.length}`);
    await popup.close();
    // The page's first look at GET /v1/session, before sign-in, answers 401: expected, and nothing else failed.
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  });
});
