/** `fleetwarden snapshot` on the simulator provider, and `simulate --world`: the diff of two configurations. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const T0 = Date.parse('2026-06-01T00:00:00Z');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const fleet = (desired: number): string => `provider: simulator
controller: { tickInterval: 15s }
ssm: { discovery: true }
simulator:
  start: "2026-06-01T00:00:00Z"
  groups:
    web: { instances: 6, running: true }
  ssmWindows:
    - { name: FW-web-Mainfleet, schedule: "cron(0 2 * * ? *)", durationHours: 1, tags: { "fleetwarden:group-name": web, team: ops } }
groups:
  - name: web
    fleets: { main: { desired: ${desired} } }
`;

interface Report {
  starts: number;
  stops: number;
  timeInState: Record<string, number>;
  windowsEntered: number;
  stopsInWindow: number;
  maxOutOfService: number;
}
interface Compare {
  current: { config: string; report: Report };
  new: { config: string; report: Report };
  change: Record<string, number>;
}

describe('snapshot and simulate --world (simulator provider)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-world-'));
  const state = join(dir, 'state');
  const current = join(dir, 'current.yaml');
  const lower = join(dir, 'lower.yaml');
  const worldFile = join(dir, 'world.json');
  before(async () => {
    writeFileSync(current, fleet(6));
    writeFileSync(lower, fleet(3));
    // The simulated fleet as `run` keeps it (its world file and store), with some history to measure.
    const run = cli('run', '--once', '--listen', 'none', '--config', current, '--state-dir', state);
    assert.equal(run.code, 0, run.err);
    const store = new SqliteStore(join(state, 'state.db'));
    const tr = (s: number, instanceId: string, from: string, to: string) => ({ at: T0 - 86_400_000 + s * 1000, group: 'web', instanceId, type: 'transition' as const, summary: `${from} → ${to}`, data: { from, to, reason: 'test' } });
    await store.appendHistory([tr(0, 'i-web-001', 'stopped', 'starting'), tr(50, 'i-web-001', 'starting', 'initializing'), tr(0, 'i-web-002', 'stopped', 'starting'), tr(70, 'i-web-002', 'starting', 'initializing'), tr(100, 'i-web-003', 'running', 'stopping'), tr(130, 'i-web-003', 'stopping', 'stopped')]);
    await store.recordAgentAck({ instanceId: 'i-web-004', group: 'web', version: 'v1', ports: 'open', health: 'pass', state: 'running', at: T0 });
    await store.close();
  });

  it('snapshot writes the fleet as the provider reports it, embeds the configuration, measures timings, and leaves the world alone', () => {
    const simWorld = join(state, 'world.json');
    const beforeBytes = readFileSync(simWorld, 'utf8');
    const beforeMtime = statSync(simWorld).mtimeMs;
    const db = join(state, 'state.db');
    const dbBefore = readFileSync(db);
    const r = cli('snapshot', '--config', current, '--state-dir', state, '--out', worldFile);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /6 instances, 1 target groups, 1 windows, 1 with agents; measured web boot 1m \(2\), web stop 30s \(1\); others default/);
    assert.equal(readFileSync(simWorld, 'utf8'), beforeBytes, 'the simulated world is read, not moved');
    assert.equal(statSync(simWorld).mtimeMs, beforeMtime);
    assert.ok(readFileSync(db).equals(dbBefore), 'the store is read, not written (opened read-only)');
    const w = JSON.parse(readFileSync(worldFile, 'utf8')) as { version: number; config: { text: string }; instances: { id: string; group: string; power: string; tags: Record<string, string>; agentSeenAt: string | null }[]; targetGroups: { id: string; members: string[]; deregistrationDelayMs: number }[]; windows: { name: string; tags: Record<string, string> }[]; timings: Record<string, { boot: { ms: number } }> };
    assert.equal(w.version, 1);
    assert.equal(w.config.text, fleet(6));
    assert.deepEqual(w.instances.map((i) => [i.id, i.group, i.power, i.tags['fleetwarden:group-name']]), [1, 2, 3, 4, 5, 6].map((n) => [`i-web-00${n}`, 'web', 'running', 'web']));
    assert.deepEqual(w.instances.filter((i) => i.agentSeenAt !== null).map((i) => i.id), ['i-web-004']);
    assert.deepEqual(w.targetGroups, [{ id: 'tg-web', deregistrationDelayMs: 60_000, members: w.instances.map((i) => i.id) }]);
    assert.deepEqual(w.windows.map((x) => [x.name, x.tags]), [['FW-web-Mainfleet', { 'fleetwarden:group-name': 'web', team: 'ops' }]]);
    assert.equal(w.timings['web']?.boot.ms, 60_000);
    const json = cli('snapshot', '--config', current, '--state-dir', state, '--out', join(dir, 'again.json'), '--json');
    assert.equal(json.code, 0, json.err);
    const s = JSON.parse(json.out) as Record<string, unknown>;
    assert.deepEqual([s['instances'], s['targetGroups'], s['windows'], s['agents']], [6, 1, 1, 1]);
  });

  it('a new configuration that lowers desired capacity shows fewer running instance-hours and more stops than the current one', () => {
    const r = cli('simulate', '--world', worldFile, '--config', lower, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z', '--json');
    assert.equal(r.code, 0, r.err);
    const c = JSON.parse(r.out) as Compare;
    assert.equal(c.current.report.stops, 0, 'the current configuration keeps all six');
    assert.ok(c.new.report.stops >= 3, `new stops: ${c.new.report.stops}`);
    assert.ok((c.new.report.timeInState['running'] ?? 0) < (c.current.report.timeInState['running'] ?? 0));
    assert.ok((c.change['instance-hours running'] ?? 0) < 0);
    assert.ok((c.change['stops'] ?? 0) >= 3);
    assert.equal(c.current.report.windowsEntered, 1, 'the snapshot window FW-web-Mainfleet is entered once that day');
    const text = cli('simulate', '--world', worldFile, '--config', lower, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /figure\s+current\s+new\s+change/);
    assert.match(text.out, /stops\s+0\s+\d+\s+\+\d+/);
  });

  it('the same configuration on both sides (--against) shows no change at all', () => {
    const r = cli('simulate', '--world', worldFile, '--config', current, '--against', current, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z', '--json');
    assert.equal(r.code, 0, r.err);
    const c = JSON.parse(r.out) as Compare;
    assert.ok(Object.keys(c.change).length > 8);
    assert.deepEqual(Object.entries(c.change).filter(([, v]) => v !== 0), []);
  });

  it('bad world files and flags: exit 2, naming the file and the field', () => {
    const sim = (world: string): { code: number | null; err: string } => cli('simulate', '--world', world, '--config', lower, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z');
    const missing = sim(join(dir, 'nope.json'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /nope\.json: cannot read the world file: ENOENT/);
    const garbled = join(dir, 'garbled.json');
    writeFileSync(garbled, '{"version": 1, "inst');
    assert.match(sim(garbled).err, /garbled\.json: not a world file: not JSON/);
    const w = JSON.parse(readFileSync(worldFile, 'utf8')) as { version: number; instances: { power: string }[] };
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...w, instances: [{ ...w.instances[0], power: 'flying' }] }));
    const badRun = sim(bad);
    assert.equal(badRun.code, 2);
    assert.match(badRun.err, /bad\.json: instances\[0\]\.power: /);
    const newer = join(dir, 'newer.json');
    writeFileSync(newer, JSON.stringify({ ...w, version: 2 }));
    const newerRun = sim(newer);
    assert.equal(newerRun.code, 2);
    assert.match(newerRun.err, /newer\.json: version: unknown world file version 2; this fleetwarden reads version 1/);
    assert.doesNotMatch(newerRun.err + badRun.err, /at .*\.js:\d+/, 'no stack trace');
    const against = cli('simulate', '--against', current, '--config', lower, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z');
    assert.equal(against.code, 2);
    assert.match(against.err, /--against: .*give --world FILE too/);
    const noOut = cli('snapshot', '--config', current, '--state-dir', state);
    assert.equal(noOut.code, 2);
    assert.match(noOut.err, /--out: is required/);
  });
});
