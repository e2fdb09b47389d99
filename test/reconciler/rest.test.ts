import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import type { Store } from '../../src/ports/index.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { windowStateAt } from '../../src/config/resolve.js';
import { joinObservation, sameObservation, windowStateOver } from '../../src/reconciler/rest.js';
import type { ObservedInstance, TargetHealth } from '../../src/domain/model.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T = (iso: string): number => Date.parse(iso);
const MIN = 60_000;

/** A store that counts the tick writes it is asked for (the port a group at rest should leave alone). */
function counting(store: Store): { store: Store; saves: () => Record<string, number> } {
  const saves: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'saveTick' && typeof value === 'function') {
        return (...args: unknown[]) => {
          const group = (args[0] as { group: string }).group;
          saves[group] = (saves[group] ?? 0) + 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, saves: () => saves };
}

/**
 * Eight simulated hours of the demo fleet (four window periods, a tiered workload), with things changing while the
 * groups are at rest: an override that expires, an instance stopped from outside, a control with a TTL.
 */
async function day(skipAtRest: boolean): Promise<{ actions: string[]; history: string[]; saves: Record<string, number>; ticks: number }> {
  const config = loadConfigFile(DEMO);
  const from = T('2026-06-01T01:40:00Z');
  const { clock, sleep } = virtualTime(from);
  const { store, saves } = counting(new SqliteStore(':memory:'));
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, owner: 'rest', skipAtRest }, store);
  const sim = ctl.simulator!;
  let ticks = 0;
  const at = (iso: string): boolean => clock.now() === T(iso);
  try {
    while (clock.now() < from + 8 * 60 * MIN) {
      if (at('2026-06-01T03:40:00Z')) await ctl.store.setOverride({ group: 'web', key: 'fleets.main.desired', value: { kind: 'absolute', value: 3 }, expiresAt: T('2026-06-01T04:10:00Z'), reason: 'test' }, clock.now());
      if (at('2026-06-01T05:00:00Z')) await sim.stop(['i-web-001']);
      if (at('2026-06-01T06:30:00Z')) await ctl.store.setControl({ instanceId: 'i-web-002', kind: 'unstoppable', until: T('2026-06-01T07:10:00Z'), reason: 'test' }, clock.now());
      await ctl.reconciler.tick();
      ticks++;
      clock.set(clock.now() + config.controller.tickIntervalMs);
    }
    const history = (await ctl.store.history({ limit: 100_000 })).map((h) => `${new Date(h.at).toISOString()} ${h.group} ${h.instanceId ?? '-'} ${h.type} ${h.summary}`);
    return { actions: sim.actions.map((a) => `${new Date(a.at).toISOString()} ${a.action} ${a.instanceId} ${a.detail} ${a.ok}`), history, saves: saves(), ticks };
  } finally {
    await ctl.close();
  }
}

describe('groups at rest (src/reconciler/rest.ts)', () => {
  it('skipping groups at rest changes nothing a user can see: the same actions and history, tick for tick, with far fewer writes', async () => {
    const planned = await day(false);
    const skipped = await day(true);
    assert.ok(planned.actions.length > 40, `the day has real work in it (${planned.actions.length} actions)`);
    assert.deepEqual(skipped.actions, planned.actions);
    assert.deepEqual(skipped.history, planned.history);
    // The external stop, the override and its expiry were each acted on at the tick after they happened.
    assert.ok(skipped.history.some((h) => h.startsWith('2026-06-01T05:00:00.000Z web i-web-001 transition')), 'the instance stopped from outside is noticed at once');
    assert.ok(skipped.actions.some((a) => a.startsWith('2026-06-01T03:40:00.000Z start')), 'the override starts an instance at once');
    // Without skipping, both groups save on every tick; with it, web saves only on ticks where something moves. erp
    // keeps its tiered workload's record (readiness timeouts run from it), so it is planned on every tick.
    assert.deepEqual(planned.saves, { web: planned.ticks, erp: planned.ticks });
    assert.equal(skipped.saves['erp'], planned.ticks);
    assert.ok((skipped.saves['web'] ?? 0) < planned.ticks / 4, `web: ${skipped.saves['web']} tick writes with skipping, ${planned.ticks} without`);
  });

  it('a window with its own start-ahead does not move the boundary of the next one: it is entered at its own start-ahead, skipping or not', async () => {
    // Window A (02:00–04:00) starts only 5m ahead; window B (03:30–05:30) takes the group's 15m. While A is active
    // the resolved settings say 5m; B must still be entered at 03:15, not at 03:25.
    const config = parseConfig({
      controller: { tickInterval: '1m', leaseTtl: '5m' },
      simulator: { start: '2026-06-01T00:00:00Z', groups: { web: { instances: 4, lighthouse: 1, running: false } } },
      groups: [
        {
          name: 'web',
          fleets: { main: { min: 1, desired: 1 } },
          maintenance: {
            startAhead: '15m',
            windows: [
              { name: 'win-A', schedule: 'cron(0 2 ? * * *)', timezone: 'UTC', durationHours: 2, overrides: { 'maintenance.startAhead': '5m', 'fleets.main.min': 2, 'fleets.main.desired': 2 } },
              { name: 'win-B', schedule: 'cron(30 3 ? * * *)', timezone: 'UTC', durationHours: 2 },
            ],
          },
        },
      ],
    });
    const entered = async (skipAtRest: boolean): Promise<string[]> => {
      const { clock, sleep } = virtualTime(T('2026-06-01T00:00:00Z'));
      const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'rest', skipAtRest });
      try {
        while (clock.now() < T('2026-06-01T06:00:00Z')) {
          await ctl.reconciler.tick();
          clock.set(clock.now() + MIN);
        }
        return (await ctl.store.history({ limit: 10_000 })).filter((h) => h.type === 'window').map((h) => `${new Date(h.at).toISOString()} ${h.summary}`).reverse();
      } finally {
        await ctl.close();
      }
    };
    const skipped = await entered(true);
    assert.ok(skipped.includes('2026-06-01T03:15:00.000Z window win-B entered'), skipped.join('\n'));
    assert.ok(skipped.includes('2026-06-01T01:55:00.000Z window win-A entered'), skipped.join('\n'));
    assert.deepEqual(skipped, await entered(false));
  });

  it('the window state a tick checks each stop against is the one windowStateAt gives at that instant, however the clock moves', () => {
    const config = parseConfig({
      controller: { tickInterval: '1m', leaseTtl: '5m' },
      groups: [
        {
          name: 'web',
          fleets: { main: { min: 1, desired: 1 }, subfleets: { batch: { state: 'running' } } },
          maintenance: {
            startAhead: '15m',
            windows: [
              { name: 'win-A', schedule: 'cron(0 2 ? * * *)', timezone: 'UTC', durationHours: 2, overrides: { 'maintenance.startAhead': '5m' } },
              { name: 'win-B', schedule: 'cron(30 3 ? * * *)', timezone: 'Europe/London', durationHours: 1 },
              { name: 'win-C', schedule: 'cron(10 5 ? * * *)', timezone: 'UTC', durationHours: 1, fleet: 'subfleet:batch' },
            ],
          },
        },
      ],
    });
    const windows = config.groups[0]?.windows ?? [];
    const ahead = 15 * MIN;
    const seen = (s: ReturnType<typeof windowStateAt>): string => `${s.active.map((a) => `${a.decl.name}@${a.window.start}-${a.window.end}`).join(',')} | ${s.stopBlocker({ kind: 'main' })} | ${s.stopBlocker({ kind: 'subfleet', name: 'batch' })}`;
    // Instants a slow tick could read: forward in odd steps across every start-ahead, start and end, some twice, then back.
    const instants: number[] = [];
    for (let t = T('2026-06-01T00:00:00Z'); t < T('2026-06-01T07:00:00Z'); t += 37_000) instants.push(t, t);
    instants.push(T('2026-06-01T01:55:00Z') - 1, T('2026-06-01T01:55:00Z'), T('2026-06-01T04:00:00Z') - 1, T('2026-06-01T04:00:00Z'), T('2026-06-01T01:00:00Z'));
    const over = windowStateOver(windows, ahead);
    let changes = 0;
    let last = '';
    for (const t of instants) {
      const want = seen(windowStateAt(windows, t, ahead));
      assert.equal(seen(over(t)), want, `at ${new Date(t).toISOString()}`);
      if (want !== last) changes++;
      last = want;
    }
    assert.ok(changes >= 6, `the instants cross the windows' boundaries (${changes} changes)`);
    // A window that cannot be evaluated fails closed at every instant.
    const broken = windowStateOver([...windows, { ...(windows[0] as (typeof windows)[number]), name: 'bad', schedule: null, error: 'unparseable' }], ahead);
    for (const t of instants.slice(0, 50)) assert.match(broken(t).stopBlocker({ kind: 'main' }) ?? '', /window bad cannot be evaluated/);
  });

  it('an instance observed exactly as the last tick saw it keeps its object; any difference in any field makes a new one', () => {
    const listed = (over: Partial<ObservedInstance> = {}): ObservedInstance[] => [{ id: 'i-1', tags: { 'fleetwarden:group-name': 'web', team: 'a' }, zone: 'eu-west-1a', instanceType: 't3.small', power: 'running', health: 'ok', targets: {}, ...over }];
    const health = (h: TargetHealth = 'healthy'): Map<string, Record<string, TargetHealth>> => new Map([['i-1', { 'tg-web': h }]]);
    const seen = new Map<string, ObservedInstance>();
    const [first] = joinObservation(listed(), health(), seen, true);
    assert.ok(first);
    assert.equal(seen.get('i-1'), first, 'what was seen is kept for the next tick');
    // Fresh objects from the provider, equal in every field (tags in another order): the last object is kept.
    const [same] = joinObservation(listed({ tags: { team: 'a', 'fleetwarden:group-name': 'web' } }), health(), seen, true);
    assert.equal(same, first);
    assert.ok(sameObservation([first], [same]));
    const changes: [string, ObservedInstance[], Map<string, Record<string, TargetHealth>>][] = [
      ['power', listed({ power: 'stopping' }), health()],
      ['health', listed({ health: 'initializing' }), health()],
      ['zone', listed({ zone: 'eu-west-1b' }), health()],
      ['instance type', listed({ instanceType: 't3.large' }), health()],
      ['a tag value', listed({ tags: { 'fleetwarden:group-name': 'web', team: 'b' } }), health()],
      ['a tag more', listed({ tags: { 'fleetwarden:group-name': 'web', team: 'a', x: '1' } }), health()],
      ['a tag fewer', listed({ tags: { 'fleetwarden:group-name': 'web' } }), health()],
      ['another tag, as many', listed({ tags: { 'fleetwarden:group-name': 'web', owner: 'a' } }), health()],
      ['target health', listed(), health('draining')],
      ['no target group', listed(), new Map<string, Record<string, TargetHealth>>()],
    ];
    for (const [what, now, h] of changes) {
      const prior: Map<string, ObservedInstance> = new Map([['i-1', first]]);
      const [next] = joinObservation(now, h, prior, true);
      assert.notEqual(next, first, what);
      assert.deepEqual(next, { ...(now[0] as ObservedInstance), targets: h.get('i-1') ?? {} }, what);
      assert.equal(sameObservation([first], [next as ObservedInstance]), false, what);
      assert.equal(prior.get('i-1'), next, `${what}: the new observation replaces the last one`);
    }
    // An instance the whole fleet's listing no longer has is forgotten; a listing of some groups only adds.
    const two = new Map<string, ObservedInstance>([['i-1', first], ['i-gone', { ...first, id: 'i-gone' }]]);
    joinObservation(listed(), health(), two, false);
    assert.deepEqual([...two.keys()], ['i-1', 'i-gone']);
    joinObservation(listed(), health(), two, true);
    assert.deepEqual([...two.keys()], ['i-1']);
  });
});
