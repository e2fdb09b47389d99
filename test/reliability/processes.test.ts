/** Reliability with real processes: kill -9 at random points, and two controllers on one store. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { Simulator } from '../../src/providers/simulator/simulator.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { rollingConfigText } from '../maintenance/scenario.js';
import { outOfService, violations } from '../reconciler/invariants.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const MIN = 60_000;
const SPEED = 600; // one real second = 10 simulated minutes; a tick (15 s) every 25 ms

function fastDemo(dir: string, faults = ''): string {
  const text = readFileSync(join(ROOT, 'examples/demo.yaml'), 'utf8')
    .replace('speed: 60', `speed: ${SPEED}${faults === '' ? '' : `\n  faults: ${faults}`}`)
    .replace('leaseTtl: 2m', 'leaseTtl: 1m');
  const file = join(dir, 'fleetwarden.yaml');
  writeFileSync(file, text);
  return file;
}

interface Proc {
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function start(config: string, stateDir: string): Proc {
  const child = spawn(process.execPath, [BIN, 'run', '--config', config, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    out.push(...lines.filter((l) => l !== ''));
  });
  child.stderr.on('data', (d: Buffer) => out.push(`stderr: ${d.toString()}`));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, context: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting; ${context()}`);
    await sleep(50);
  }
}

/** The last lines a controller printed: the explanation when an assertion about it fails. */
function tail(p: Proc, n = 15): string {
  return `controller output (last ${n} lines):\n${p.out.slice(-n).join('\n')}`;
}

describe('reliability (real processes)', () => {
  it('survives 22 kill -9 at random points: no stop in a window, none without a full drain, no duplicate start or stop, and it converges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-kill-'));
    const configFile = fastDemo(dir);
    const config = parseConfigText(readFileSync(configFile, 'utf8'));
    const stateDir = join(dir, 'state');
    const world = join(stateDir, 'world.json');
    let seed = 20_261_121;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let kills = 0;
    for (let i = 0; i < 22; i++) {
      const p = start(configFile, stateDir);
      await until(() => existsSync(world) && p.out.some((l) => l.includes('"lease"')), 15_000).catch(() => undefined);
      await sleep(100 + Math.floor(random() * 600));
      p.child.kill('SIGKILL');
      assert.equal(await p.exited, null, `restart ${i}: killed, not exited by itself; ${tail(p)}`);
      kills++;
    }
    // One last controller runs until the web fleet is settled: far enough from any window boundary.
    const web = config.groups.find((g) => g.name === 'web');
    const schedule = web?.windows[0]?.schedule;
    assert.ok(schedule);
    const settled = (t: number): 'window' | 'rest' | null => {
      const w = schedule.windowAt(t, 15 * MIN);
      if (w) return t - (w.start - 15 * MIN) >= 25 * MIN ? 'window' : null;
      const prev = schedule.windowsFrom(t - 3 * 3_600_000, 5).filter((x) => x.end <= t).at(-1);
      return prev === undefined || t - prev.end >= 25 * MIN ? 'rest' : null;
    };
    const last = start(configFile, stateDir);
    const began = Date.now();
    await until(() => Date.now() - began > 4000 && settled(Simulator.readWorld(world).now) !== null, 60_000, () => tail(last));
    const expectation = settled(Simulator.readWorld(world).now);
    last.child.kill('SIGINT');
    assert.equal(await last.exited, 0, `a clean stop on SIGINT; ${tail(last)}`);

    const { actions, tags } = Simulator.readWorld(world);
    assert.ok(kills >= 20);
    assert.ok(actions.filter((a) => a.action === 'stop').length > 4, 'the run covered drains and stops');
    assert.deepEqual(violations(actions, tags, config, { drainMinimumMs: MIN, deregistrationDelayMs: 45_000, startAheadMs: 15 * MIN, tickIntervalMs: config.controller.tickIntervalMs }), []);
    const store = new SqliteStore(join(stateDir, 'state.db'));
    const running = (await store.allRecords()).filter((r) => r.group === 'web' && r.state === 'running' && !r.instanceId.includes('batch')).map((r) => r.instanceId).sort();
    await store.close();
    if (expectation === 'window') assert.equal(running.length, 6, `in a window the whole main fleet runs: ${running.join(', ')}; ${tail(last)}`);
    else assert.deepEqual(running, ['i-web-001', 'i-web-002'], `at rest: the two LightHouse instances; ${tail(last)}`);
  });

  it('with 10% of actions failing and 10% of calls throttled: converges, no safety violation, back-off in history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-faults-'));
    const configFile = fastDemo(dir, '{ errorRate: 0.1, throttleRate: 0.1 }');
    const config = parseConfigText(readFileSync(configFile, 'utf8'));
    const stateDir = join(dir, 'state');
    const p = start(configFile, stateDir);
    await sleep(9000); // 90 simulated minutes: start-ahead, a window, its end and the drains after it
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 0, tail(p));
    const { actions, tags } = Simulator.readWorld(join(stateDir, 'world.json'));
    assert.ok(actions.some((a) => !a.ok), 'some actions failed');
    assert.deepEqual(violations(actions, tags, config, { drainMinimumMs: MIN, deregistrationDelayMs: 45_000, startAheadMs: 15 * MIN, tickIntervalMs: config.controller.tickIntervalMs }), []);
    const store = new SqliteStore(join(stateDir, 'state.db'));
    const history = (await store.history({ limit: 100_000 }));
    const records = (await store.allRecords());
    await store.close();
    assert.ok(history.filter((h) => h.type === 'retry').length > 0, 'throttled calls were retried with back-off');
    assert.ok(records.filter((r) => r.group === 'web').every((r) => r.state === 'running' || r.state === 'stopped' || r.state === 'initializing' || r.state === 'draining' || r.state === 'stopping' || r.state === 'starting'), 'every record is in a known state');
    const running = records.filter((r) => r.group === 'web' && !r.instanceId.includes('batch') && (r.state === 'running' || r.state === 'initializing' || r.state === 'starting')).length;
    assert.ok(running >= 2, `the minimum of 2 is kept despite failures (${running}); ${tail(p)}`);
  });

  it('two controllers on one store: exactly one acts; when it dies the other takes over after the lease', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-two-'));
    const configFile = fastDemo(dir);
    const stateDir = join(dir, 'state');
    const a = start(configFile, stateDir);
    await until(() => a.out.some((l) => l.includes('lease acquired')) && existsSync(join(stateDir, 'world.json')), 15_000);
    const b = start(configFile, stateDir);
    await sleep(2000);
    const acts = (p: Proc): string[] => p.out.filter((l) => l.includes('"type":"command"') || l.includes('"type":"transition"'));
    assert.ok(acts(a).length > 0, 'a acts');
    assert.deepEqual(acts(b), [], 'b waits while a holds the leases');
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await until(() => b.out.some((l) => l.includes('lease acquired')), 15_000);
    // A 1-minute simulated lease is 100 ms of real time at ×600: b must not have taken over before it lapsed.
    assert.ok(Date.now() - killedAt >= 50, 'the takeover waited for the lease');
    await until(() => acts(b).length > 0, 15_000);
    const acquired = b.out.filter((l) => l.includes('lease acquired')).map((l) => JSON.parse(l) as { group: string });
    assert.deepEqual(acquired.map((e) => e.group).sort(), ['erp', 'web']);
    b.child.kill('SIGINT');
    assert.equal(await b.exited, 0);
  });

  it('maintenance survives kill -9: the execution resumes, every instance patched exactly once, never more out than allowed, all back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-kill-mw-'));
    const configFile = join(dir, 'fleetwarden.yaml');
    writeFileSync(configFile, rollingConfigText({ start: '2026-06-07T01:58:00Z', speed: 60 }));
    const stateDir = join(dir, 'state');
    const world = join(stateDir, 'world.json');
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const executionDone = async (): Promise<string | null> => {
      if (!existsSync(join(stateDir, 'state.db'))) return null;
      const store = new SqliteStore(join(stateDir, 'state.db'));
      try {
        return (await store.executions({ limit: 1 }))[0]?.status ?? null;
      } finally {
        await store.close();
      }
    };
    let kills = 0;
    for (let i = 0; i < 30 && (await executionDone()) !== 'SUCCESS'; i++) {
      const p = start(configFile, stateDir);
      await until(() => existsSync(world) && p.out.some((l) => l.includes('"lease"')), 15_000).catch(() => undefined);
      await sleep(200 + Math.floor(random() * 800));
      p.child.kill('SIGKILL');
      await p.exited;
      kills++;
    }
    const last = start(configFile, stateDir);
    if ((await executionDone()) !== 'SUCCESS') await until(() => last.out.some((l) => /window execution .* (SUCCESS|FAILED|TIMED_OUT)/.test(l)), 90_000, () => tail(last));
    await sleep(1500);
    last.child.kill('SIGINT');
    await last.exited;
    assert.ok(kills >= 5, `killed during the execution ${kills} times`);
    assert.equal(await executionDone(), 'SUCCESS', tail(last));
    const { actions } = Simulator.readWorld(world);
    const runs = new Map<string, number>();
    for (const a of actions) if (a.action === 'run-script' && a.detail !== 'reboot (exit 194)') runs.set(a.instanceId, (runs.get(a.instanceId) ?? 0) + 1);
    assert.deepEqual([...runs].sort(), ['i-web-001', 'i-web-002', 'i-web-003', 'i-web-004', 'i-web-005', 'i-web-006'].map((id) => [id, 1]), 'each instance patched exactly once');
    const out = outOfService(actions);
    assert.ok(out.max <= 2, `at most 2 out of service at once, saw ${out.max}`);
    assert.equal(out.still.size, 0, 'every instance back in its target group');
    assert.equal(actions.filter((a) => a.action === 'stop').length, 0);
  });
});
