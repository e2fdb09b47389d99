import assert from 'node:assert/strict';
import { FIXTURE_OWNER, fixtureSave } from '../support/fixture-save.js';
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/store.js';

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

  it('run tunes its heap (FLEETWARDEN_HEAP_GROWING_PERCENT, default 20), and refuses a bad value naming it before it opens anything', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-cli-heap-'));
    const run = (env: Record<string, string>): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [BIN, 'run', '--config', DEMO, '--state-dir', stateDir, '--listen', 'none', '--once', '--log-level', 'debug', '--json'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
    const bad = run({ FLEETWARDEN_HEAP_GROWING_PERCENT: 'lots' });
    assert.equal(bad.status, 2);
    assert.match(String(bad.stderr), /FLEETWARDEN_HEAP_GROWING_PERCENT: expected a whole number of percent from 0 .* got "lots"/);
    assert.equal(existsSync(join(stateDir, 'state.db')), false, 'nothing was created');
    const heapLine = (r: ReturnType<typeof spawnSync>): unknown => String(r.stdout).split('\n').concat(String(r.stderr).split('\n')).filter((l) => l.includes('"type":"heap"')).map((l) => (JSON.parse(l) as { flag: string }).flag)[0];
    const tuned = run({ FLEETWARDEN_HEAP_GROWING_PERCENT: '' });
    assert.equal(tuned.status, 0, String(tuned.stderr));
    assert.equal(heapLine(tuned), '--heap-growing-percent=20');
    assert.equal(heapLine(run({ FLEETWARDEN_HEAP_GROWING_PERCENT: '35' })), '--heap-growing-percent=35');
    assert.equal(heapLine(run({ FLEETWARDEN_HEAP_GROWING_PERCENT: '0' })), null, "0 leaves V8's own heuristics");
  });

  it('run restarts node in place with a small young generation where node can (FLEETWARDEN_SEMI_SPACE_MB), once, and refuses a bad value before it opens anything', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-cli-young-'));
    const run = (env: Record<string, string>): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [BIN, 'run', '--config', DEMO, '--state-dir', stateDir, '--listen', 'none', '--once', '--log-level', 'debug', '--json'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '', FLEETWARDEN_SEMI_SPACE_MB: '', ...env } });
    const lines = (r: ReturnType<typeof spawnSync>): Record<string, unknown>[] => `${String(r.stdout)}\n${String(r.stderr)}`.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const young = (r: ReturnType<typeof spawnSync>): { pid: number; nodeOption: string | null; capMiB: number | null; msg: string } => {
      assert.equal(r.status, 0, String(r.stderr));
      const found = lines(r).filter((l) => l['type'] === 'young-generation');
      assert.equal(found.length, 1, 'one process, one line');
      return found[0] as { pid: number; nodeOption: string | null; capMiB: number | null; msg: string };
    };
    const bad = run({ FLEETWARDEN_SEMI_SPACE_MB: 'small' });
    assert.equal(bad.status, 2);
    assert.match(String(bad.stderr), /FLEETWARDEN_SEMI_SPACE_MB: expected a whole number of MiB from 0 .* got "small"/);
    assert.equal(existsSync(join(stateDir, 'state.db')), false, 'nothing was created');

    // This test's node says which: process.execve (Node 22.15 and later, not Windows) or not.
    const canRestart = typeof (process as { execve?: unknown }).execve === 'function' && process.platform !== 'win32';
    const first = run({});
    const y = young(first);
    assert.equal(y.pid, first.pid, 'the same process, restarted in place');
    if (canRestart) {
      assert.equal(y.nodeOption, '--max-semi-space-size=4', 'node itself has the option');
      assert.equal(y.capMiB, null, 'no growth-factor cap where node has the option');
      assert.equal(y.msg, 'fleetwarden: node runs with --max-semi-space-size=4');
    } else {
      assert.equal(y.nodeOption, null);
      assert.equal(y.capMiB, 4, 'kept near the size by the growth factor instead');
      assert.match(y.msg, /young generation kept near 4 MiB semi-spaces by V8's growth factor: cannot restart node with --max-semi-space-size=4 \(node v[\d.]+ has no process\.execve: Node 22\.15 or later has\); NODE_OPTIONS=--max-semi-space-size=4 sets it exactly/);
    }
    // The tick ran once, in the restarted process: each scale-out is reported once.
    assert.equal(lines(first).filter((l) => l['type'] === 'transition' && l['instance'] === 'i-web-001').length, 1);
    const six = young(run({ FLEETWARDEN_SEMI_SPACE_MB: '6' }));
    assert.deepEqual([six.nodeOption, six.capMiB], canRestart ? ['--max-semi-space-size=6', null] : [null, 6]);
    const none = young(run({ FLEETWARDEN_SEMI_SPACE_MB: '0' }));
    assert.deepEqual([none.nodeOption, none.capMiB, none.msg], [null, null, "fleetwarden: FLEETWARDEN_SEMI_SPACE_MB=0: V8's own young generation"]);
    const given = young(run({ NODE_OPTIONS: '--max-semi-space-size=8' }));
    assert.deepEqual([given.nodeOption, given.capMiB, given.msg], ['--max-semi-space-size=8', null, 'fleetwarden: node runs with --max-semi-space-size=8'], 'NODE_OPTIONS wins, and no restart');
    // Quoted as node allows it: still node's own, still no restart.
    const quoted = young(run({ NODE_OPTIONS: '"--max-semi-space-size=16"' }));
    assert.deepEqual([quoted.nodeOption, quoted.msg], ['--max-semi-space-size=16', 'fleetwarden: node runs with --max-semi-space-size=16']);
  });

  it('run restarts before node sets up its standard streams: a pipe they share (2>&1 | tee) is left as it was, blocking', { skip: process.platform !== 'linux' && 'needs Linux (/proc, mkfifo)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-cli-pipe-'));
    const fifo = join(dir, 'out');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, 'w');
    // O_NONBLOCK belongs to the pipe's open file, which this process shares with the child: /proc shows it here.
    const nonBlocking = (): boolean => (Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${writer}`, 'utf8'))?.[1] ?? '0', 8) & constants.O_NONBLOCK) !== 0;
    try {
      assert.equal(nonBlocking(), false);
      const r = spawnSync(process.execPath, [BIN, 'run', '--config', DEMO, '--state-dir', join(dir, 'state'), '--listen', 'none', '--once'], { stdio: ['ignore', writer, writer], timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '', FLEETWARDEN_SEMI_SPACE_MB: '' } });
      assert.equal(r.status, 0);
      assert.equal(nonBlocking(), false, 'a shell or CI step writing to the same pipe next gets no EAGAIN');
      const out = Buffer.alloc(1 << 16);
      assert.match(out.subarray(0, readSync(reader, out)).toString(), /i-web-001 {2}stopped → starting: scale-out/, 'the output came through the pipe');
    } finally {
      closeSync(reader);
      closeSync(writer);
    }
  });

  it('run started with an IPC channel (fork) keeps it: no restart, and says why', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-cli-fork-'));
    const child = fork(BIN, ['run', '--config', DEMO, '--state-dir', stateDir, '--listen', 'none', '--once', '--log-level', 'debug', '--json'], { silent: true, env: { ...process.env, NODE_OPTIONS: '', FLEETWARDEN_SEMI_SPACE_MB: '' } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    assert.equal(code, 0, out);
    const line = out.split('\n').filter((l) => l.includes('"type":"young-generation"')).map((l) => JSON.parse(l) as { nodeOption: string | null; msg: string });
    assert.equal(line.length, 1);
    const [only] = line;
    assert.ok(only);
    assert.equal(only.nodeOption, null);
    const canRestart = typeof (process as { execve?: unknown }).execve === 'function';
    assert.match(only.msg, canRestart ? /cannot restart node with --max-semi-space-size=4 \(node was started with an IPC channel, which a restart would close\)/ : /has no process\.execve/);
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

describe('history --type, --from, --to', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fw-histfilter-'));
  const config = join(stateDir, 'fleetwarden.yaml');
  const H = Date.parse('2030-01-01T00:00:00Z');

  before(async () => {
    writeFileSync(config, 'groups:\n  - name: web\n');
    const store = new SqliteStore(join(stateDir, 'state.db'));
    await store.appendHistory(Array.from({ length: 6 }, (_, n) => ({ at: H + n * 3_600_000, group: 'web', instanceId: null, type: n % 2 === 0 ? ('window' as const) : ('override' as const), summary: `h${n}` })));
    await store.close();
  });

  it('filters in the store query (a full page), and refuses a bad value naming the option with exit 2', () => {
    const summaries = (...args: string[]): string[] => {
      const r = cli('history', '--config', config, '--state-dir', stateDir, '--json', ...args);
      assert.equal(r.code, 0, r.err);
      return (JSON.parse(r.out) as { entries: { summary: string }[] }).entries.map((e) => e.summary);
    };
    assert.deepEqual(summaries('--type', 'window', '--limit', '2'), ['h4', 'h2']);
    assert.deepEqual(summaries('--type', 'window', '--type', 'override', '--limit', '3'), ['h5', 'h4', 'h3']);
    assert.deepEqual(summaries('--from', '2030-01-01T01:00:00Z', '--to', '2030-01-01T03:00:00Z'), ['h2', 'h1']);
    assert.deepEqual(summaries('--type', 'override', '--from', '2030-01-01T02:00:00Z'), ['h5', 'h3']);
    const bad = cli('history', '--config', config, '--state-dir', stateDir, '--type', 'reboot');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--type/);
    assert.match(bad.err, /"reboot" is not a history type/);
    const range = cli('history', '--config', config, '--state-dir', stateDir, '--from', '2030-01-02T00:00:00Z', '--to', '2030-01-01T00:00:00Z');
    assert.equal(range.code, 2);
    assert.match(range.err, /--to/);
    assert.doesNotMatch(bad.err + range.err, /\n\s+at /, 'no stack trace');
  });
});

describe('status and history print cloud and store values safely', () => {
  const FORGED = '\n2026-01-01T00:00:00Z  web  i-forged  running  all fine';
  const reason = `scale-out${FORGED}\u001b[2J\u001b[31mred\u202e`;
  const summary = `stopped → starting${FORGED}\r\u001b]0;title\u0007`;
  const stateDir = mkdtempSync(join(tmpdir(), 'fw-hostile-'));
  const config = join(stateDir, 'fleetwarden.yaml');
  // A second store with instants outside any date, kept apart so each test fails for its own reason.
  const oddDir = mkdtempSync(join(tmpdir(), 'fw-odd-'));
  const at = Date.parse('2026-06-01T10:00:00Z');

  before(async () => {
    writeFileSync(config, 'groups:\n  - name: web\n');
    const store = new SqliteStore(join(stateDir, 'state.db'));
    await fixtureSave(store, { group: 'web', at, records: [{ instanceId: 'i-a', group: 'web', state: 'starting', since: at, reason }], transitions: [], history: [{ at, group: 'web', instanceId: 'i-a', type: 'transition', summary }], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    await store.close();
    const odd = new SqliteStore(join(oddDir, 'state.db'));
    await fixtureSave(odd, { group: 'web', at, records: [{ instanceId: 'i-b', group: 'web', state: 'stopped', since: 1e300, reason: 'since beyond any date' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    await odd.releaseLease('web', FIXTURE_OWNER);
    // What an older version stored for `leaseTtl: 1e308`: a lease that never expires.
    await odd.acquireLease('web', 'old-controller', at, Infinity);
    await odd.close();
  });

  it('text output escapes control characters: no forged line, no terminal escape; --json stays exact', () => {
    const status = cli('status', '--config', config, '--state-dir', stateDir);
    assert.equal(status.code, 0, status.err);
    assert.doesNotMatch(status.out, /^2026-01-01T00:00:00Z/m, 'no forged line');
    for (const c of ['\u001b', '\u202e', '\r']) assert.ok(!status.out.includes(c), `no raw ${JSON.stringify(c)}`);
    assert.ok(status.out.includes('scale-out\\n2026-01-01T00:00:00Z  web  i-forged  running  all fine\\x1b[2J\\x1b[31mred\\u202e'), status.out);
    const history = cli('history', '--config', config, '--state-dir', stateDir);
    assert.equal(history.code, 0, history.err);
    assert.doesNotMatch(history.out, /^2026-01-01T00:00:00Z/m);
    for (const c of ['\u001b', '\u0007', '\r']) assert.ok(!history.out.includes(c), `no raw ${JSON.stringify(c)}`);
    assert.match(history.out, /stopped → starting\\n2026-01-01T00:00:00Z {2}web {2}i-forged {2}running {2}all fine\\r\\x1b\]0;title\\x07/);
    const json = JSON.parse(cli('status', '--config', config, '--state-dir', stateDir, '--json').out) as { instances: { instance: string; reason: string }[] };
    assert.equal(json.instances.find((i) => i.instance === 'i-a')?.reason, reason, 'JSON carries the value exactly');
    assert.equal((JSON.parse(cli('history', '--config', config, '--state-dir', stateDir, '--json').out) as { entries: { summary: string }[] }).entries[0]?.summary, summary);
  });

  it('instants outside any date (a lease that never expires, a corrupt since) are printed, not a crash', () => {
    const status = cli('status', '--config', config, '--state-dir', oddDir);
    assert.equal(status.code, 0, status.err);
    assert.doesNotMatch(status.err, /RangeError|internal error/);
    assert.match(status.out, /^web: controller old-controller \(lease until invalid instant \(Infinity\)\)$/m);
    assert.match(status.out, /i-b\s+stopped\s+invalid instant \(1e\+300\)/);
    const json = cli('status', '--config', config, '--state-dir', oddDir, '--json');
    assert.equal(json.code, 0, json.err);
    assert.equal((JSON.parse(json.out) as { leases: { expiresAt: string }[] }).leases[0]?.expiresAt, 'invalid instant (Infinity)');
  });
});
