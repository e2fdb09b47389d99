/**
 * `fleetwarden simulate --report FILE.html` (issue 15): the real simulation of a week writes one self-contained page
 * that a real Chromium opens without a console or page error, with every window period of the week drawn (as many
 * period elements as the configuration's schedules have periods in the week, each at its own start), a cutoff for
 * the window that has one, each instance's states, and nothing fetched from anywhere.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { loadConfigFile } from '../../src/config/load.js';
import { launchBrowser, watchedPage } from '../support/browser.js';
import { CHROMIUM, requirements } from '../support/requirements.js';

/** What the page's elements offer, typed here (the tests are compiled without the DOM library). */
interface Attrs {
  getAttribute(name: string): string | null;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const FROM = '2026-06-01T00:00:00Z';
const TO = '2026-06-08T00:00:00Z';

const CONFIG = `
provider: simulator
controller: { tickInterval: 30s, leaseTtl: 2m }
simulator:
  start: "${FROM}"
  groups:
    app:
      instances: 2
      targetGroup: false
groups:
  - name: app
    fleets: { main: { min: 0, desired: 0 } }
    schedules:
      - name: office
        schedule: cron(0 8 ? * MON-FRI *)
        durationHours: 9
        set: { fleets.main.desired: 2 }
    maintenance:
      startAhead: 30m
      windows:
        - name: nightly
          schedule: cron(0 1 * * ? *)
          durationHours: 3
          cutoffHours: 1
        - name: weekly-patch
          schedule: cron(0 12 ? * WED *)
          durationHours: 2
`;

describe('simulate --report', requirements(CHROMIUM), () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-report-'));
  const configFile = join(dir, 'fleet.yaml');
  const reportFile = join(dir, 'week.html');
  let browser: Browser;
  before(async () => {
    writeFileSync(configFile, CONFIG);
    await promisify(execFile)(process.execPath, [BIN, 'simulate', '--config', configFile, '--from', FROM, '--to', TO, '--report', reportFile]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  it('opens in Chromium without errors, fetches nothing, and draws every window period of the week', async () => {
    const errors: string[] = [];
    const page = await watchedPage(browser, errors);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${reportFile}`);
    // Expected: each window's periods in the week, from the configuration's own schedules.
    const config = loadConfigFile(configFile);
    const from = Date.parse(FROM);
    const to = Date.parse(TO);
    const expected = config.groups[0]!.windows.flatMap((w) => w.schedule!.between(from, to, 1000).filter((o) => o.start < to).map((o) => `${w.name}@${o.start}`));
    assert.equal(expected.length, 8, 'seven nightly periods and one weekly');
    const drawn = await page.$$eval('section[data-group="app"] g.fw-period', (els: readonly Attrs[]) => els.map((e) => `${e.getAttribute('data-window') ?? ''}@${e.getAttribute('data-start') ?? ''}`));
    assert.deepEqual(drawn.sort(), expected.sort());
    assert.equal(await page.locator('g.fw-cutoff').count(), 7, 'the nightly window has a one-hour cutoff');
    assert.ok((await page.locator('g.fw-state[data-state="running"]').count()) >= 5, 'the office schedule runs the instances each weekday');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), [], 'nothing fetched');
    assert.doesNotMatch(readFileSync(reportFile, 'utf8'), /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no script, no external address');
  });

  it('refuses an unwritable report file with exit 2, naming --report', async () => {
    const out = await promisify(execFile)(process.execPath, [BIN, 'simulate', '--config', configFile, '--from', FROM, '--to', '2026-06-01T01:00:00Z', '--report', join(dir, 'missing-dir', 'x.html')]).then(
      () => null,
      (err: unknown) => err as { code: number; stderr: string },
    );
    assert.equal(out?.code, 2);
    assert.match(out.stderr, /--report.*cannot write/);
  });
});
