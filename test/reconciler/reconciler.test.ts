import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { type Controller, openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { simulate } from '../../src/app/simulate.js';
import type { FleetConfig } from '../../src/config/config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { pendingCommands } from '../../src/api/services.js';
import type { LifecycleState } from '../../src/domain/lifecycle.js';
import type { VirtualClock } from '../../src/domain/time.js';
import { violations } from './invariants.js';
import type { FleetProvider } from '../../src/ports/index.js';
import type { ObservedInstance } from '../../src/domain/model.js';
import { Simulator } from '../../src/providers/simulator/simulator.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T = (iso: string): number => Date.parse(iso);
const MIN = 60_000;
const INVARIANTS = { drainMinimumMs: MIN, deregistrationDelayMs: 45_000, startAheadMs: 15 * MIN };

function demo(over: (c: FleetConfig) => FleetConfig = (c) => c): FleetConfig {
  return over(loadConfigFile(DEMO));
}

function withFaults(errorRate: number, throttleRate: number): (c: FleetConfig) => FleetConfig {
  return (c) => ({ ...c, simulator: { ...(c.simulator ?? { groups: {} }), faults: { errorRate, throttleRate } } });
}

interface Rig {
  ctl: Controller;
  clock: VirtualClock;
  /** Ticks every `stepMs` of virtual time until `until`. */
  runUntil(iso: string, stepMs?: number): Promise<void>;
  states(group: string): Promise<Record<string, LifecycleState>>;
}

function rig(config: FleetConfig, owner = 'test'): Rig {
  const { clock, sleep } = virtualTime(T(config.simulator?.start ?? '2026-06-01T01:40:00Z'));
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner });
  return {
    ctl,
    clock,
    async runUntil(iso, stepMs = config.controller.tickIntervalMs) {
      while (clock.now() < T(iso)) {
        await ctl.reconciler.tick();
        clock.set(Math.min(clock.now() + stepMs, T(iso)));
      }
    },
    async states(group) {
      return Object.fromEntries((await ctl.store.allRecords()).filter((r) => r.group === group).map((r) => [r.instanceId, r.state]));
    },
  };
}

function count(states: Record<string, LifecycleState>, state: LifecycleState, prefix = ''): number {
  return Object.entries(states).filter(([id, s]) => s === state && id.startsWith(prefix)).length;
}

describe('reconciler on the simulator (virtual clock)', () => {
  it('converges to the planner’s targets through a window and back, with every safety invariant holding', async () => {
    const r = rig(demo());
    await r.runUntil('2026-06-01T02:10:00Z');
    const inWindow = await r.states('web');
    assert.equal(count(inWindow, 'running', 'i-web-0'), 6, 'the whole main fleet runs during the window');
    assert.equal(count(inWindow, 'running', 'i-web-batch'), 2, 'the subfleet is forced running');
    await r.runUntil('2026-06-01T03:20:00Z');
    const after = await r.states('web');
    assert.deepEqual(Object.entries(after).filter(([, s]) => s === 'running').map(([id]) => id).sort(), ['i-web-001', 'i-web-002'], 'back to the 2 LightHouse instances');
    assert.equal(count(after, 'stopped'), 6);
    const erpAt0320 = await r.states('erp');
    assert.equal(count(erpAt0320, 'running'), 5, 'the erp tier stop waits for its backup window (until 03:30)');
    await r.runUntil('2026-06-01T03:50:00Z');
    assert.equal(count(await r.states('erp'), 'stopped'), 5, 'then the tiers stop');
    const sim = r.ctl.simulator!;
    const tags = Object.fromEntries(sim.actions.map((a) => [a.instanceId, sim.tagsOf(a.instanceId) ?? {}]));
    assert.deepEqual(violations(sim.actions, tags, demo(), INVARIANTS), []);
    const history = (await r.ctl.store.history({ limit: 10_000 }));
    assert.ok(history.some((h) => h.type === 'window' && h.summary === 'window FW-web-every-2h entered'));
    assert.ok(history.some((h) => h.type === 'window' && h.summary === 'window FW-web-every-2h exited'));
    await r.ctl.close();
  });

  it('with 10% of actions failing and 10% of calls throttled, still converges; back-off is visible in history', async () => {
    const config = demo(withFaults(0.1, 0.1));
    const r = rig(config);
    await r.runUntil('2026-06-01T03:40:00Z');
    const after = await r.states('web');
    assert.equal(count(after, 'running', 'i-web-0'), 2, JSON.stringify(after));
    const history = (await r.ctl.store.history({ limit: 100_000 }));
    assert.ok(history.filter((h) => h.type === 'retry').length > 5, 'throttled calls were retried with back-off');
    const sim = r.ctl.simulator!;
    // Every start or stop the cloud refused is visible to the operator: a failure in the history for that instance.
    const refused = sim.actions.filter((a) => !a.ok && (a.action === 'start' || a.action === 'stop'));
    for (const a of refused) assert.ok(history.some((h) => h.instanceId === a.instanceId && h.at >= a.at && /did not take|failed|refused|error/i.test(h.summary)), `the refused ${a.action} of ${a.instanceId} at ${new Date(a.at).toISOString()} is in the history`);
    const tags = Object.fromEntries(sim.actions.map((a) => [a.instanceId, sim.tagsOf(a.instanceId) ?? {}]));
    assert.deepEqual(violations(sim.actions, tags, config, INVARIANTS), []);
    await r.ctl.close();
  });

  it('event delivery agent: events are queued for agents, and their answers drive the lifecycle', async () => {
    const r = rig(demo((c) => ({ ...c, controller: { ...c.controller, eventDelivery: 'agent' } })));
    const answered = new Set<string>();
    // Stand-in agents: answer every queued command with success, a tick after it is queued.
    while (r.clock.now() < T('2026-06-01T02:10:00Z')) {
      await r.ctl.reconciler.tick();
      for (const rec of await r.ctl.store.allRecords()) {
        for (const c of await r.ctl.store.agentCommands({ instanceId: rec.instanceId })) {
          if (c.result !== undefined) continue;
          answered.add(`${c.instanceId} ${c.event ?? c.kind}`);
          await r.ctl.store.completeAgentCommand(c.id, c.instanceId, { at: r.clock.now(), outcome: c.kind === 'event' ? 'success' : 'absent', exitCode: 0, output: '' });
        }
      }
      r.clock.set(r.clock.now() + 15_000);
    }
    assert.ok(answered.has('i-web-003 instance-ready-for-operation'), [...answered].join(', '));
    assert.ok(answered.has('i-web-003 enter-maintenance-window-period'));
    assert.equal(r.ctl.simulator?.actions.filter((a) => a.action === 'run-event' || a.action === 'check-bypass').length, 0, 'nothing went through the provider’s command channel');
    assert.equal(count(await r.states('web'), 'running', 'i-web-0'), 6, 'ready-for-operation answered: the window fleet is in service');
    await r.ctl.close();
  });

  it('event delivery agent: a retry replaces the unanswered command, the agent never sees one delivery twice', async () => {
    const r = rig(demo((c) => ({ ...c, controller: { ...c.controller, eventDelivery: 'agent' } })));
    let retried = 0;
    // No agent answers for ten minutes: the planner sends its events again and again.
    while (r.clock.now() < T('2026-06-01T01:50:00Z')) {
      await r.ctl.reconciler.tick();
      for (const rec of await r.ctl.store.allRecords()) {
        const all = await r.ctl.store.agentCommands({ instanceId: rec.instanceId });
        retried += all.filter((c) => c.replaces !== undefined).length;
        const pending = await pendingCommands(r.ctl.store, rec.instanceId, r.clock.now());
        const deliveries = pending.map((c) => JSON.stringify([c.kind, c.event ?? c.path, c.args]));
        assert.equal(new Set(deliveries).size, deliveries.length, `${rec.instanceId} at ${new Date(r.clock.now()).toISOString()}: ${deliveries.join(' ')}`);
      }
      r.clock.set(r.clock.now() + 15_000);
    }
    assert.ok(retried > 0, 'the planner did send events again');
    await r.ctl.close();
  });

  it('two controllers on one store: exactly one acts; the other takes over once the lease lapses', async () => {
    const config = demo();
    const { clock, sleep } = virtualTime(T('2026-06-01T01:40:00Z'));
    const a = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'a' });
    // b shares a's store and simulated cloud: the same fleet, the same database.
    const { Reconciler } = await import('../../src/reconciler/reconciler.js');
    const b = new Reconciler({ config, provider: a.simulator!, lb: a.simulator!, runner: a.simulator!, windowSource: a.simulator!, store: a.store, clock, owner: 'b', sleep });
    const first = await a.reconciler.tick();
    const second = await b.tick();
    assert.deepEqual(first.groups.map((g) => g.group), ['web', 'erp']);
    assert.deepEqual(second.groups, [], 'b acts on nothing while a holds the leases');
    assert.deepEqual(second.skipped, ['web', 'erp']);
    // a dies (stops ticking). Within the lease b still waits; after it b takes over.
    clock.set(clock.now() + config.controller.leaseTtlMs - 1000);
    assert.deepEqual((await b.tick()).groups, []);
    clock.set(clock.now() + 2000);
    const takeover = await b.tick();
    assert.deepEqual(takeover.groups.map((g) => g.group), ['web', 'erp']);
    assert.deepEqual((await a.reconciler.tick()).groups, [], 'a, back from the dead, does not act while b holds the lease');
    await a.close();
  });
});

describe('simulate', () => {
  it('jumps from event to event: a week costs far fewer ticks than minute steps, and the timeline is complete', async () => {
    const config = demo();
    const events: string[] = [];
    const report = await simulate(config, T('2026-06-01T01:40:00Z'), T('2026-06-08T01:40:00Z'), (e) => {
      if (e.type === 'window' && e.group === 'web') events.push(e.state);
    });
    const minuteSteps = (7 * 24 * 60 * MIN) / config.controller.tickIntervalMs;
    assert.ok(report.ticks < minuteSteps / 3, `${report.ticks} ticks for a week (interval steps would be ${minuteSteps})`);
    assert.equal(events.filter((e) => e === 'enter').length, 84, 'a window every 2 hours for 7 days');
    assert.equal(events.filter((e) => e === 'exit').length, 84);
    assert.ok(report.starts > 84 && report.stops > 84);
    assert.equal(report.forcedStops, 0);
  });
});

describe('what the last tick saw (the API instance view)', () => {
  it('an instance no longer listed is forgotten, unless its account was not read: then it stays as last seen', async () => {
    const config = demo();
    const { clock, sleep } = virtualTime(T('2026-06-01T01:40:00Z'));
    const sim = new Simulator(config.simulator!, config.naming, clock, null);
    // A multi-account provider whose erp account can be made unreadable, or whose erp instances can vanish.
    let erp: 'listed' | 'unobserved' | 'gone' = 'listed';
    const isErp = (i: ObservedInstance): boolean => i.tags['fleetwarden:group-name'] === 'erp';
    const provider: FleetProvider = {
      listInstances: async (keys, select) => (await sim.listInstances(keys, select)).filter((i) => erp === 'listed' || !isErp(i)),
      start: (ids) => sim.start(ids),
      stop: (ids, o) => sim.stop(ids, o),
      unobserved: () => new Map(erp === 'unobserved' ? [['erp', new Error('AccessDenied (simulated)')]] : []),
    };
    const r = new Reconciler({ config, provider, lb: sim, runner: sim, windowSource: sim, store: new SqliteStore(':memory:'), clock, owner: 'me', sleep });
    await r.tick();
    const id = (await sim.listInstances(['fleetwarden:group-name'])).find(isErp)?.id ?? '';
    const seen = r.observedInstance(id);
    assert.equal(seen?.tags['fleetwarden:group-name'], 'erp');
    erp = 'unobserved';
    clock.set(clock.now() + 15_000);
    await r.tick();
    assert.equal(r.observedInstance(id), seen, 'its account unread: as last seen');
    erp = 'gone';
    clock.set(clock.now() + 15_000);
    await r.tick();
    assert.equal(r.observedInstance(id), undefined, 'every account read, and it is not there: forgotten');
  });
});
