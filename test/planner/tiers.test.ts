/**
 * Ordered start/stop of a workload's tiers (seed 003): docs/lifecycle.md (Tiers).
 * §6 in the test names: docs/background.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Plan } from '../../src/planner/types.js';
import { commanded, HOUR, instance, MIN, record, T0, TG, whyText, World } from './fixtures.js';

interface TierOpts {
  startSeq: number;
  stopSeq: number;
  syncStart?: boolean;
  syncStop?: boolean;
  bypass?: string;
  ignoreStop?: boolean;
  readinessTimeout?: string;
  onTimeout?: 'abort' | 'continue';
}

function tier(name: string, o: TierOpts): Record<string, unknown> {
  return {
    name,
    start: { sequence: o.startSeq, synchronous: o.syncStart ?? false, ...(o.readinessTimeout ? { readinessTimeout: o.readinessTimeout } : {}), ...(o.onTimeout ? { onTimeout: o.onTimeout } : {}) },
    stop: { sequence: o.stopSeq, synchronous: o.syncStop ?? false },
    ...(o.bypass === undefined ? {} : { bypassFile: { path: o.bypass } }),
    ...(o.ignoreStop === undefined ? {} : { ignoreStop: o.ignoreStop }),
  };
}

/** DB (start 0, stop 20), App (start 5, stop 10), Web (start 10, stop 0): gaps on purpose (the seed broke on them). */
function threeTier(state: 'running' | 'stopped', over: Partial<Record<'DB' | 'App' | 'Web', Partial<TierOpts>>> = {}, up = state === 'stopped'): World {
  const tiers = [tier('DB', { startSeq: 0, stopSeq: 20, ...over.DB }), tier('App', { startSeq: 5, stopSeq: 10, ...over.App }), tier('Web', { startSeq: 10, stopSeq: 0, ...over.Web })];
  const list = ['DB', 'App', 'Web'].flatMap((t) => [1, 2].map((n) => instance(`i-${t.toLowerCase()}${n}`, { tier: t, ...(up ? { power: 'running' as const } : {}) })));
  const w = new World({ workload: { state, tierTag: 'Role', tiers } }, list);
  if (up) for (const i of list) w.records.set(i.id, record(i.id, 'running', T0 - HOUR));
  return w;
}

/** The order in which instances were first commanded `kind` (start) or drained, by tick. */
function order(plans: readonly Plan[], what: 'start' | 'draining'): string[] {
  return plans.flatMap((p) => (what === 'start' ? commanded(p, 'start') : p.transitions.filter((t) => t.to === 'draining').map((t) => t.instanceId)));
}

function tickOf(plans: readonly Plan[], id: string, what: 'start' | 'draining'): number {
  return plans.findIndex((p) => (what === 'start' ? commanded(p, 'start').includes(id) : p.transitions.some((t) => t.instanceId === id && t.to === 'draining')));
}

describe('§6 tiers: start sequence', () => {
  it('given sequences 0, 5, 10, then DB starts first, App only once DB is ready, Web last', () => {
    const w = threeTier('running');
    const plans = w.run(30 * MIN);
    assert.deepEqual(order(plans, 'start'), ['i-db1', 'i-db2', 'i-app1', 'i-app2', 'i-web1', 'i-web2']);
    const dbReady = plans.findIndex((p) => p.transitions.some((t) => t.instanceId === 'i-db2' && t.to === 'running'));
    assert.ok(tickOf(plans, 'i-app1', 'start') >= dbReady && dbReady > 0, 'App starts on the tick DB passes its readiness gate, not before');
    assert.ok(tickOf(plans, 'i-web1', 'start') > tickOf(plans, 'i-app1', 'start'));
    assert.equal(w.count('running'), 6);
  });

  it('given the next tier, then it waits while the previous tier is unhealthy in its target group (a readiness gate, not a sleep)', () => {
    const w = threeTier('running');
    w.tick();
    w.tick(MIN); // DB booted: initializing
    w.set('i-db1', { targets: { [TG]: 'unhealthy' } });
    const plans = w.run(6 * MIN);
    assert.equal(w.state('i-db1'), 'running');
    assert.deepEqual(commanded(plans, 'start'), []);
    w.set('i-db1', { targets: { [TG]: 'healthy' } });
    assert.deepEqual(commanded(w.tick(MIN), 'start').sort(), ['i-app1', 'i-app2']);
  });

  it('given a synchronous start tier, then its instances start one at a time, each after the previous is running (the seed never implemented it)', () => {
    const w = threeTier('running', { DB: { syncStart: true } });
    const plans = w.run(15 * MIN);
    const db1 = tickOf(plans, 'i-db1', 'start');
    const db2 = tickOf(plans, 'i-db2', 'start');
    const db1Running = plans.findIndex((p) => p.transitions.some((t) => t.instanceId === 'i-db1' && t.to === 'running'));
    assert.ok(db2 >= db1Running && db1Running > db1, `db1 start ${db1}, running ${db1Running}, db2 start ${db2}`);
    assert.ok(db2 > db1);
    assert.match(whyText(plans), /tier DB: synchronous start waits for i-db1/);
  });

  it('given a tier not ready within its readiness timeout and onTimeout abort, then the sequence stops there', () => {
    const w = threeTier('running', { DB: { readinessTimeout: '10m' } });
    w.bootHealth = (id) => (id === 'i-db1' ? 'initializing' : 'ok');
    const plans = w.run(30 * MIN);
    assert.deepEqual(commanded(plans, 'start').filter((id) => !id.startsWith('i-db')), []);
    assert.match(whyText(plans), /tier DB not ready within 10m: start sequence aborted/);
  });

  it('given onTimeout continue, then the next tier starts after the timeout even though the tier is not ready', () => {
    const w = threeTier('running', { DB: { readinessTimeout: '10m', onTimeout: 'continue' } });
    w.bootHealth = (id) => (id === 'i-db1' ? 'initializing' : 'ok');
    const plans = w.run(12 * MIN);
    const appStart = plans[tickOf(plans, 'i-app1', 'start')]?.now ?? 0;
    assert.equal(appStart - (plans[0]?.now ?? 0), 10 * MIN, 'exactly when the 10-minute readiness timeout runs out');
    assert.match(whyText(plans), /tier DB not ready within 10m: continuing with the next tier/);
  });
});

describe('§6 tiers: stop sequence', () => {
  it('given stop sequences independent of start (Web 0, App 10, DB 20), then Web drains first and DB last', () => {
    const w = threeTier('stopped');
    const plans = w.run(30 * MIN);
    assert.deepEqual(order(plans, 'draining'), ['i-web1', 'i-web2', 'i-app1', 'i-app2', 'i-db1', 'i-db2']);
    const webStopped = plans.findIndex((p) => p.transitions.some((t) => t.instanceId === 'i-web2' && t.to === 'stopped'));
    assert.ok(webStopped > 0 && tickOf(plans, 'i-app1', 'draining') >= webStopped, 'App drains on the tick Web is stopped, not before');
    assert.equal(w.count('stopped'), 6);
  });

  it('given a synchronous stop tier, then each instance stops before the next one drains', () => {
    const w = threeTier('stopped', { Web: { syncStop: true } });
    const plans = w.run(15 * MIN);
    const web1Stopped = plans.findIndex((p) => p.transitions.some((t) => t.instanceId === 'i-web1' && t.to === 'stopped'));
    assert.ok(web1Stopped > 0 && tickOf(plans, 'i-web2', 'draining') >= web1Stopped);
  });

  it('given a bypass file present on one DB instance, then the other DB instance stops and that one keeps running', () => {
    const w = threeTier('stopped', { DB: { bypass: '/tmp/StopOverride' } });
    w.onBypass = (id) => (id === 'i-db2' ? 'present' : 'absent');
    const plans = w.run(40 * MIN);
    assert.deepEqual(commanded(plans, 'check-bypass').sort(), ['i-db1', 'i-db2']);
    assert.equal(w.state('i-db1'), 'stopped');
    assert.equal(w.state('i-db2'), 'running');
    const check = plans.flatMap((p) => p.commands).find((c) => c.kind === 'check-bypass');
    assert.ok(check?.kind === 'check-bypass' && check.path === '/tmp/StopOverride' && check.os === 'linux');
  });

  it('given the bypass check failing, then the instance is not stopped (fail safe) and the check is retried', () => {
    const w = threeTier('stopped', { DB: { bypass: '/tmp/StopOverride' } });
    w.onBypass = (id) => (id === 'i-db1' ? 'unknown' : 'absent');
    const plans = w.run(40 * MIN);
    assert.equal(w.state('i-db1'), 'running');
    assert.ok(commanded(plans, 'check-bypass').filter((id) => id === 'i-db1').length > 1);
    assert.match(whyText(plans), /i-db1: bypass check failed; not stopped until the file is confirmed absent/);
  });

  it('given a tier with ignoreStop, then it is left running and the next tier still stops', () => {
    const w = threeTier('stopped', { App: { ignoreStop: true } });
    w.run(30 * MIN);
    assert.deepEqual([w.state('i-app1'), w.state('i-app2')], ['running', 'running']);
    assert.deepEqual([w.state('i-db1'), w.state('i-web1')], ['stopped', 'stopped']);
  });

  it('given the kill switch, then nothing happens to the workload', () => {
    const w = threeTier('stopped');
    w.overrides = [{ group: 'web', key: 'workload.killSwitch', value: true, expiresAt: T0 + HOUR, reason: 'incident' }];
    const plans = w.run(10 * MIN);
    assert.deepEqual(plans.flatMap((p) => p.commands), []);
    assert.match(whyText(plans), /kill switch on: no action/);
  });

  it('given the kill switch set while a tier stop is under way, then nothing more is stopped, drained or registered (seed 003 DisableAllSchedulingActions)', () => {
    const w = threeTier('stopped');
    w.tick();
    assert.equal(w.state('i-web1'), 'draining', 'the stop sequence has begun');
    w.overrides = [{ group: 'web', key: 'workload.killSwitch', value: true, expiresAt: T0 + 2 * HOUR, reason: 'incident' }];
    const plans = w.run(30 * MIN);
    assert.deepEqual(plans.flatMap((p) => p.commands), [], 'the draining instances are not stopped, no other tier drains');
    assert.deepEqual([w.state('i-web1'), w.state('i-web2'), w.state('i-db1')], ['draining', 'draining', 'running']);
    assert.match(whyText(plans), /i-web1: draining; stop blocked: workload kill switch on/);
    w.overrides = [];
    w.run(30 * MIN);
    assert.equal(w.count('stopped'), 6, 'lifted: the sequence goes on');
  });

  it('given an aborted start, when workload.state is set anew (a new override), then the start sequence is tried again', () => {
    const w = threeTier('stopped', { DB: { readinessTimeout: '10m' } }, false);
    w.bootHealth = (id) => (id === 'i-db1' ? 'initializing' : 'ok');
    w.overrides = [{ group: 'web', key: 'workload.state', value: 'running', expiresAt: T0 + 4 * HOUR, reason: 'month-end' }];
    w.run(20 * MIN);
    assert.match(whyText(w.plans), /start sequence aborted/);
    w.run(20 * MIN);
    assert.deepEqual(commanded(w.plans, 'start').filter((id) => !id.startsWith('i-db')), [], 'the same request stays aborted');
    w.set('i-db1', { health: 'ok' }); // fixed by hand
    w.run(5 * MIN);
    assert.deepEqual(commanded(w.plans, 'start').filter((id) => !id.startsWith('i-db')), [], 'still aborted: nothing asked for a retry');
    w.overrides = [{ group: 'web', key: 'workload.state', value: 'running', expiresAt: T0 + 5 * HOUR, reason: 'month-end, again' }];
    w.run(20 * MIN);
    assert.equal(w.count('running'), 6, 'set anew: retried, and this time DB becomes ready');
  });

  it('given workload state undefined, then it is hands off', () => {
    const w = threeTier('running');
    w.overrides = [{ group: 'web', key: 'workload.state', value: 'undefined', expiresAt: T0 + HOUR, reason: 'manual' }];
    assert.deepEqual(w.tick().commands, []);
  });

  it('given the direction flips from stop to start midway, then drained instances are reclaimed, not stopped', () => {
    const w = threeTier('stopped');
    w.tick();
    assert.equal(w.state('i-web1'), 'draining');
    w.overrides = [{ group: 'web', key: 'workload.state', value: 'running', expiresAt: T0 + HOUR, reason: 'change of plan' }];
    w.tick(MIN);
    assert.equal(w.state('i-web1'), 'running');
    assert.deepEqual(commanded(w.plans.at(-1)!, 'register').sort(), ['i-web1', 'i-web2']);
  });
});
