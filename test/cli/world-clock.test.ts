/** With the simulator, operator commands judge time as the controller does: at the simulated world's instant. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = join(ROOT, 'examples/demo.yaml');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the simulated clock reaches every command', () => {
  it('config explain, override TTLs and windows use the world’s instant, not the wall clock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-clock-'));
    const on = ['--config', DEMO, '--state-dir', dir];
    assert.equal(cli('run', '--once', '--listen', 'none', ...on).code, 0);
    // The demo world starts on 2026-06-01 at 01:40 and runs at ×60: whatever the wall clock says, it is that day.
    const explain = JSON.parse(cli('config', 'explain', 'fleets.main.min', '--group', 'web', '--json', ...on).out) as { at: string; activeWindows: { name: string }[] };
    assert.match(explain.at, /^2026-06-01T0[1-9]:/);
    const set = JSON.parse(cli('override', 'set', 'web', 'fleets.main.desired', '3', '--ttl', '1h', '--reason', 'sim', '--json', ...on).out) as { expiresAt: string };
    const expires = Date.parse(set.expiresAt) - Date.parse(explain.at);
    assert.ok(expires > 50 * 60_000 && expires < 4 * 3_600_000, `the TTL runs from the simulated instant (${set.expiresAt} vs ${explain.at})`);
    const listed = JSON.parse(cli('override', 'list', '--json', ...on).out) as { overrides: { key: string }[] };
    assert.deepEqual(listed.overrides.map((o) => o.key), ['fleets.main.desired'], 'and it is in force at the simulated instant');
    const windows = JSON.parse(cli('windows', '--group', 'web', '--days', '1', '--json', ...on).out) as { from: string };
    assert.match(windows.from, /^2026-06-01T/);
  });
});
