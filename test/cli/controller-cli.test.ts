import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const DEMO = join(ROOT, 'examples/demo.yaml');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fleetwarden simulate', () => {
  it('--json prints one JSON object per event in the documented shapes', () => {
    const r = cli('simulate', '--config', DEMO, '--from', '2026-06-01T01:40:00Z', '--to', '2026-06-01T03:30:00Z', '--json');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const transition = lines.find((l) => l['type'] === 'transition');
    assert.deepEqual(Object.keys(transition ?? {}), ['at', 'group', 'instance', 'type', 'from', 'to', 'reason']);
    const command = lines.find((l) => l['type'] === 'command');
    assert.deepEqual(Object.keys(command ?? {}), ['at', 'group', 'type', 'command', 'instances', 'reason']);
    assert.deepEqual(
      lines.filter((l) => l['type'] === 'window').map((l) => [l['at'], l['group'], l['name'], l['state']]),
      [
        ['2026-06-01T01:45:00Z', 'web', 'FW-web-every-2h', 'enter'],
        ['2026-06-01T02:15:00Z', 'erp', 'FW-erp-backup', 'enter'],
        ['2026-06-01T03:00:00Z', 'web', 'FW-web-every-2h', 'exit'],
        ['2026-06-01T03:30:00Z', 'erp', 'FW-erp-backup', 'exit'],
      ],
    );
    assert.ok(lines.every((l) => typeof l['at'] === 'string' && (l['at']).endsWith('Z')));
    assert.ok(lines.some((l) => l['type'] === 'command' && l['command'] === 'stop'));
  });

  it('without --json prints a timeline and a summary', () => {
    const r = cli('simulate', '--config', DEMO, '--from', '2026-06-01T01:40:00Z', '--to', '2026-06-01T04:00:00Z');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /web {2}window FW-web-every-2h entered/);
    assert.match(r.out, /summary 2026-06-01T01:40:00Z → 2026-06-01T04:00:00Z: \d+ ticks, \d+ starts, \d+ stops \(0 forced\)/);
    assert.match(r.out, /state\s+instance-time\s+share/);
  });

  it('rejects bad input with the flag named', () => {
    assert.match(cli('simulate', '--config', DEMO, '--from', '2026-06-02', '--to', '2026-06-01').err, /--to: must be after --from/);
    assert.match(cli('simulate', '--config', DEMO, '--to', '2026-06-01').err, /--from: is required/);
    assert.match(cli('simulate', '--config', join(ROOT, 'examples/fleetwarden.yaml'), '--from', '2026-06-01', '--to', '2026-06-02').err, /simulator: provider is simulator \(the default\) but the configuration has no simulator section/);
  });
});

describe('fleetwarden run --once, status, history, windows', () => {
  it('run --once ticks once and records it; status and history read the store', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-cli-'));
    const run = cli('run', '--config', DEMO, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--once');
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /i-web-001 {2}stopped → starting: scale-out/);
    const status = cli('status', '--config', DEMO, '--state-dir', stateDir, '--json');
    assert.equal(status.code, 0, status.err);
    const doc = JSON.parse(status.out) as { instances: { instance: string; state: string }[]; leases: { group: string; owner: string | null }[] };
    assert.equal(doc.instances.length, 13);
    assert.deepEqual(doc.instances.filter((i) => i.state === 'starting').map((i) => i.instance).sort(), ['i-web-001', 'i-web-002']);
    assert.deepEqual(doc.leases.map((l) => l.owner), [null, null], 'released on a clean exit');
    const history = cli('history', '--config', DEMO, '--state-dir', stateDir, '--instance', 'i-web-001', '--json');
    const entries = (JSON.parse(history.out) as { entries: { type: string; summary: string }[] }).entries;
    assert.ok(entries.some((e) => e.type === 'transition' && e.summary.startsWith('stopped → starting')));
    assert.ok(entries.some((e) => e.type === 'command' && e.summary.startsWith('start i-web-001: scale-out')));
  });

  it('status without a store says what to do', () => {
    const r = cli('status', '--config', DEMO, '--state-dir', join(tmpdir(), 'fw-none-here'));
    assert.equal(r.code, 2);
    assert.match(r.err, /no store at .*state\.db: run 'fleetwarden run' first/);
  });

  it('windows lists upcoming periods with their start-ahead', () => {
    const r = cli('windows', '--config', DEMO, '--from', '2026-06-01T00:00:00Z', '--days', '1', '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { periods: { group: string; window: string; activeFrom: string; start: string; end: string }[] };
    assert.equal(doc.periods.filter((p) => p.group === 'web').length, 12);
    assert.deepEqual(doc.periods[0], { group: 'web', window: 'FW-web-every-2h', description: null, source: 'file', activeFrom: '2026-05-31T23:45:00Z', start: '2026-06-01T00:00:00Z', end: '2026-06-01T01:00:00Z' });
  });
});
