/**
 * The lease is a fence (docs/development.md, rule 9): a controller whose tick outlasts its lease — throttled, or
 * starved of CPU — must not act once a standby has taken over. Reproduced with two real reconcilers on one simulated
 * world and one store, on a shared virtual clock: controller A is throttled in the middle of its tick, and while it
 * backs off, the clock runs past its lease and controller B takes over and acts.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { VirtualClock } from '../../src/domain/time.js';
import { Simulator, ThrottledError } from '../../src/providers/simulator/simulator.js';
import { type ControllerEvent, Reconciler } from '../../src/reconciler/reconciler.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { violations } from './invariants.js';
import { execute } from '../../src/reconciler/executor.js';
import { Schedule } from '../../src/schedule/schedule.js';
import { windowStateAt } from '../../src/config/resolve.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T = (iso: string): number => Date.parse(iso);
const MUTATING = new Set(['start', 'stop', 'register', 'deregister', 'runEvent', 'checkBypass', 'runScript', 'cancel']);

/** The simulator as one controller sees it: every mutating call it makes is logged with the instant it was made. */
function spy(sim: Simulator, clock: VirtualClock, calls: { at: number; call: string }[], fault: (call: string) => Error | null): Simulator {
  return new Proxy(sim, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string' || !MUTATING.has(prop)) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (...args: unknown[]) => {
        const err = fault(prop);
        if (err !== null) return Promise.reject(err);
        calls.push({ at: clock.now(), call: `${prop} ${JSON.stringify(args[0])}` });
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('lease fencing', () => {
  it('a controller throttled past its lease acts no more once a standby took over: no duplicate stop, no stale write', async () => {
    const config = loadConfigFile(DEMO);
    const clock = new VirtualClock(T('2026-06-01T01:40:00Z'));
    const sim = new Simulator(config.simulator!, config.naming, clock, null);
    const store = new SqliteStore(':memory:');
    const callsA: { at: number; call: string }[] = [];
    const eventsA: ControllerEvent[] = [];
    const eventsB: ControllerEvent[] = [];
    let armed = false;
    let throttledOnce = false;
    const b = new Reconciler({ config, provider: sim, lb: sim, runner: sim, windowSource: sim, store, clock, owner: 'B', sleep: (ms) => Promise.resolve(clock.set(clock.now() + ms)), onEvent: (e) => eventsB.push(e) });
    // A's first stop after the window is throttled; while A backs off, the clock runs 3 minutes (past A's 2-minute
    // lease) and B ticks every 15 s meanwhile, as a standby does.
    const simA = spy(sim, clock, callsA, (call) => (armed && call === 'stop' && !throttledOnce ? ((throttledOnce = true), new ThrottledError('Rate exceeded (test)')) : null));
    const sleepA = async (ms: number): Promise<void> => {
      if (throttledOnce && clock.now() < T('2026-06-01T04:00:00Z') && eventsB.length === 0) {
        for (let i = 0; i < 12; i++) {
          clock.set(clock.now() + 15_000);
          await b.tick();
        }
      }
      clock.set(clock.now() + ms);
    };
    const a = new Reconciler({ config, provider: simA, lb: simA, runner: simA, windowSource: sim, store, clock, owner: 'A', sleep: sleepA, random: () => 1, onEvent: (e) => eventsA.push(e) });

    const summaries = [];
    while (clock.now() < T('2026-06-01T03:40:00Z')) {
      armed = clock.now() >= T('2026-06-01T03:00:00Z');
      summaries.push(await a.tick());
      await b.tick();
      clock.set(clock.now() + 15_000);
    }
    assert.ok(throttledOnce, 'the scenario happened: A was throttled on a stop');
    const takeover = eventsB.find((e) => e.type === 'lease' && e.group === 'web' && /acquired by B/.test(e.message));
    assert.ok(takeover, 'B took over the web group');
    assert.deepEqual(callsA.filter((c) => c.at >= takeover.at && /"i-web/.test(c.call)), [], 'A sent nothing for web after B took over');
    const lost = summaries.flatMap((s) => s.failed).find((f) => f.group === 'web');
    assert.match(lost?.error ?? '', /lease lost by A \(generation 1\)/, 'A abandoned its tick, saying why');
    assert.ok(eventsA.some((e) => e.type === 'lease' && /lease lost by A/.test(e.message)));
    const tags = Object.fromEntries(sim.actions.map((x) => [x.instanceId, sim.tagsOf(x.instanceId) ?? {}]));
    assert.deepEqual(violations(sim.actions, tags, config, { drainMinimumMs: 60_000, deregistrationDelayMs: 45_000, startAheadMs: 15 * 60_000, tickIntervalMs: 15_000 }), []);
    const states = Object.fromEntries((await store.allRecords()).filter((r) => r.group === 'web').map((r) => [r.instanceId, r.state]));
    assert.deepEqual(Object.entries(states).filter(([, s]) => s === 'running').map(([id]) => id).sort(), ['i-web-001', 'i-web-002'], 'B converged the fleet');
    assert.equal((await store.leaseHolder('web', clock.now()))?.owner, 'B');
    await store.close();
  });

  it('a stop decided before a window is not sent once the window has begun (throttled across its start-ahead)', async () => {
    const clock = new VirtualClock(T('2026-06-01T01:44:50Z'));
    const schedule = Schedule.parse('cron(0 2 * * ? *)', { durationHours: 1 });
    const windows = [{ name: 'FW-web', source: 'file' as const, scope: { kind: 'group' as const }, schedule, overrides: {}, disableDefaultConfiguration: false }];
    const stopped: string[][] = [];
    let throttled = 0;
    const provider = {
      listInstances: () => Promise.resolve([]),
      start: () => Promise.resolve([]),
      stop: (ids: readonly string[]) => {
        if (throttled++ < 2) return Promise.reject(new ThrottledError('Rate exceeded'));
        stopped.push([...ids]);
        return Promise.resolve(ids.map((instanceId) => ({ instanceId, ok: true })));
      },
    };
    const noop = () => Promise.reject(new Error('not used'));
    const deps = { provider, lb: { targetHealth: noop, register: noop, deregister: noop, deregistrationDelays: noop }, runner: { runEvent: noop, checkBypass: noop, runScript: noop, cancel: noop, results: noop }, sleep: (ms: number) => Promise.resolve(clock.set(clock.now() + ms)), random: () => 1, now: () => clock.now(), retry: { attempts: 6, baseMs: 5_000, maxMs: 8_000 } };
    const withheld = (): string | null => windowStateAt(windows, clock.now(), 15 * 60_000).stopBlocker({ kind: 'main' });
    assert.equal(withheld(), null, 'at the decision, no window is active');
    const out = await execute(deps, 'web', [{ kind: 'stop', instances: ['i-1'], force: false, reason: 'drained' }], 30_000, withheld);
    assert.deepEqual(stopped, [], 'the throttled stop was not carried out after the start-ahead began (01:45)');
    assert.ok(clock.now() > T('2026-06-01T01:45:00Z'));
    assert.ok(out.history.some((h) => h.instanceId === 'i-1' && /stop i-1 not sent: stop blocked: window FW-web active/.test(h.summary)), 'and the history says why');
  });
});

describe('a stop is checked against the windows at the instant it is sent, through the whole tick', () => {
  it('a tick whose stop call is slowed past a window\'s start-ahead does not send it, and its history says why', async () => {
    const start = T('2026-06-01T00:00:00Z');
    const build = (windowAt?: number): ReturnType<typeof parseConfig> =>
      parseConfig({
        controller: { tickInterval: '1m', leaseTtl: '5m' },
        simulator: { start: '2026-06-01T00:00:00Z', seed: 7, deregistrationDelay: '30s', groups: { web: { instances: 4, lighthouse: 0, running: true } } },
        groups: [
          {
            name: 'web',
            fleets: { main: { min: 1, desired: 2 } },
            maintenance: { startAhead: '15m', windows: windowAt === undefined ? [] : [{ name: 'FW-web-soon', schedule: `at(${new Date(windowAt).toISOString().slice(0, 19)})`, timezone: 'UTC', durationHours: 1 }] },
          },
        ],
      });
    const open = (config: ReturnType<typeof parseConfig>) => {
      const { clock, sleep } = virtualTime(start);
      return { clock, ctl: openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'a', retry: { attempts: 3, baseMs: 1_000, maxMs: 2_000 } }) };
    };
    const stopPlanned = async (ctl: ReturnType<typeof open>['ctl']): Promise<boolean> => (await ctl.reconciler.preview()).groups.some((g) => g.plan?.commands.some((c) => c.kind === 'stop') === true);
    // Where the first stop is decided, without any window.
    const a = open(build());
    let ticks = 0;
    try {
      while (!(await stopPlanned(a.ctl))) {
        assert.ok(ticks < 60, 'the scale-in reaches a stop');
        await a.ctl.reconciler.tick();
        ticks++;
        a.clock.set(a.clock.now() + 60_000);
      }
    } finally {
      await a.ctl.close();
    }
    const decided = a.clock.now();
    // The same world with a window whose start-ahead begins 30 s after that tick starts.
    const b = open(build(decided + 30_000 + 15 * 60_000));
    try {
      for (let i = 0; i < ticks; i++) {
        await b.ctl.reconciler.tick();
        b.clock.set(b.clock.now() + 60_000);
      }
      assert.equal(b.clock.now(), decided);
      assert.ok(await stopPlanned(b.ctl), 'the stop is decided as before: the window is not active yet');
      // The stop call takes 40 s and is throttled; the retry comes after the window's start-ahead began.
      const sim = b.ctl.simulator as Simulator;
      const real = sim.stop.bind(sim);
      let calls = 0;
      sim.stop = (ids: readonly string[]) => {
        if (calls++ === 0) {
          b.clock.set(b.clock.now() + 40_000);
          return Promise.reject(new ThrottledError('Rate exceeded'));
        }
        return real(ids);
      };
      await b.ctl.reconciler.tick();
      assert.equal(calls, 1, 'the retry was not sent');
      assert.deepEqual(sim.actions.filter((x) => x.action === 'stop'), [], 'nothing stopped');
      const history = await b.ctl.store.history({ limit: 100 });
      assert.ok(history.some((h) => /not sent: stop blocked: window FW-web-soon active/.test(h.summary)), history.map((h) => h.summary).join('\n'));
    } finally {
      await b.ctl.close();
    }
  });
});

describe('load-balancer changes are written ahead', () => {
  it('a controller dying before it saves the tick that began a drain has deregistered nothing; a fresh one converges, every instance back in its target group', async () => {
    const config = loadConfigFile(DEMO);
    const clock = new VirtualClock(T('2026-06-01T01:40:00Z'));
    const sim = new Simulator(config.simulator!, config.naming, clock, null);
    const store = new SqliteStore(':memory:');
    const save = store.saveTick.bind(store);
    const crash: { at: number | null } = { at: null };
    // The first tick that moves an instance into draining dies before its write lands.
    store.saveTick = (w) => {
      if (crash.at === null && w.transitions.some((t) => t.to === 'draining')) {
        crash.at = clock.now();
        return Promise.reject(new Error('killed before the save'));
      }
      return save(w);
    };
    const sleep = (ms: number): Promise<void> => Promise.resolve(clock.set(clock.now() + ms));
    const first = new Reconciler({ config, provider: sim, lb: sim, runner: sim, windowSource: sim, store, clock, owner: 'first', sleep });
    while (crash.at === null && clock.now() < T('2026-06-01T03:40:00Z')) {
      await first.tick();
      clock.set(clock.now() + 15_000);
    }
    const died = crash.at;
    assert.ok(died !== null, 'the scenario happened');
    assert.deepEqual(sim.actions.filter((a) => a.action === 'deregister' && a.at >= died), [], 'nothing was deregistered by the tick that died');
    clock.set(clock.now() + 3 * 60_000); // its lease lapses; a fresh controller takes over
    const second = new Reconciler({ config, provider: sim, lb: sim, runner: sim, windowSource: sim, store, clock, owner: 'second', sleep });
    while (clock.now() < T('2026-06-01T05:10:00Z')) {
      await second.tick();
      clock.set(clock.now() + 15_000);
    }
    const tags = Object.fromEntries(sim.actions.map((x) => [x.instanceId, sim.tagsOf(x.instanceId) ?? {}]));
    assert.deepEqual(violations(sim.actions, tags, config, { drainMinimumMs: 60_000, deregistrationDelayMs: 45_000, startAheadMs: 15 * 60_000, tickIntervalMs: 15_000 }), []);
    const health = await sim.targetHealth();
    const running = (await store.allRecords()).filter((r) => r.group === 'web' && r.state === 'running' && !r.instanceId.includes('batch'));
    assert.ok(running.length >= 2);
    for (const r of running) assert.notEqual(health.get(r.instanceId)?.['tg-web'] ?? 'unused', 'unused', `${r.instanceId} runs and is in its target group`);
    await store.close();
  });
});
