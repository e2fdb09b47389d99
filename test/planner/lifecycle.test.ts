/** Lifecycle: docs/lifecycle.md#lifecycle-states-and-transitions (§2 in the test names: docs/background.md). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertTransition, canTransition, LIFECYCLE_STATES, parseLifecycleState, transitionTable } from '../../src/domain/lifecycle.js';
import { InvariantError, ValidationError } from '../../src/domain/errors.js';
import { commanded, events, HOUR, instance, MIN, record, T0, TG, whyText, World } from './fixtures.js';

const running = { power: 'running' as const };

function drainingWorld(group: Record<string, unknown> = {}): World {
  // Two running instances, desired 1: one is drained.
  const w = new World({ fleets: { main: { desired: 1 } }, ...group }, [instance('i-1', { ...running, zone: 'a' }), instance('i-2', { ...running, zone: 'b' })]);
  w.records.set('i-1', record('i-1', 'running', T0 - 2 * HOUR));
  w.records.set('i-2', record('i-2', 'running', T0 - HOUR));
  return w;
}

describe('§2 lifecycle: the transition table', () => {
  it('covers every state, and a transition not in it throws an InvariantError', () => {
    assert.deepEqual(Object.keys(transitionTable()).sort(), [...LIFECYCLE_STATES].sort());
    assert.ok(canTransition('running', 'draining'));
    assert.ok(!canTransition('stopped', 'running'));
    assert.throws(() => assertTransition('stopped', 'running', 'i-1'), InvariantError);
  });

  it('rejects unknown states read from storage instead of coercing them', () => {
    assert.throws(() => parseLifecycleState('warming', 'records[0].state'), (e: unknown) => e instanceof ValidationError && /unknown lifecycle state "warming"/.test(e.message));
    assert.equal(parseLifecycleState('draining', 'x'), 'draining');
  });
});

describe('§2 lifecycle: initializing', () => {
  it('given a started instance, then it is initializing until the 3-minute warm-up has elapsed, then running', () => {
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1')]);
    w.tick();
    assert.equal(w.state('i-1'), 'starting');
    w.tick(MIN);
    assert.equal(w.state('i-1'), 'initializing');
    w.tick(2 * MIN);
    assert.equal(w.state('i-1'), 'initializing');
    w.tick(MIN);
    assert.equal(w.state('i-1'), 'running');
  });

  it('given provider health still initializing, then it stays initializing after warm-up', () => {
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1', { ...running, health: 'initializing' })]);
    w.records.set('i-1', record('i-1', 'initializing', T0 - 10 * MIN));
    const p = w.tick();
    assert.equal(w.state('i-1'), 'initializing');
    w.set('i-1', { health: 'ok' });
    w.tick(MIN);
    assert.equal(w.state('i-1'), 'running');
    assert.equal(p.transitions.length, 0);
  });

  it('given a target group reporting the instance initial, then it stays initializing', () => {
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1', { ...running, targets: { [TG]: 'initial' } })]);
    w.records.set('i-1', record('i-1', 'initializing', T0 - 10 * MIN));
    w.tick();
    assert.equal(w.state('i-1'), 'initializing');
  });

  it('given the ready-for-operation probe on and failing, then the instance stays initializing (the seed ignored the failure)', () => {
    const w = new World({ fleets: { main: { desired: 1 } }, events: { 'instance-ready-for-operation': { enabled: true } } }, [instance('i-1', running)]);
    w.records.set('i-1', record('i-1', 'initializing', T0 - 10 * MIN));
    w.onEvent = () => false;
    const plans = w.run(10 * MIN);
    assert.equal(w.state('i-1'), 'initializing');
    assert.ok(events(plans, 'instance-ready-for-operation').length >= 2, 'the probe is retried');
    w.onEvent = () => true;
    w.run(3 * MIN);
    assert.equal(w.state('i-1'), 'running');
  });

  it('given more instances than the target, then an initializing instance is never drained', () => {
    const w = new World({ fleets: { main: { desired: 0 } } }, [instance('i-1', running)]);
    w.records.set('i-1', record('i-1', 'initializing', T0));
    w.tick(MIN);
    assert.equal(w.state('i-1'), 'initializing');
  });

  it('given an instance not ready within 1 h, then it is unuseable, a replacement starts, and it is drained 10 min later', () => {
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1', { ...running, health: 'initializing' }), instance('i-2')]);
    w.records.set('i-1', record('i-1', 'initializing', T0 - HOUR + MIN));
    w.records.set('i-2', record('i-2', 'stopped', T0 - HOUR));
    w.tick();
    assert.equal(w.state('i-1'), 'initializing');
    const p = w.tick(MIN);
    assert.equal(w.state('i-1'), 'unuseable');
    assert.match(whyText(p), /not ready within 1h: waiting for provider health initializing/);
    assert.deepEqual(commanded(p, 'start'), ['i-2']);
    w.run(9 * MIN);
    assert.equal(w.state('i-1'), 'unuseable');
    w.tick(MIN);
    assert.equal(w.state('i-1'), 'draining');
    assert.equal(w.records.get('i-1')?.drainCause, 'unuseable');
  });
});

describe('§2 lifecycle: issues', () => {
  function issueWorld(): World {
    const w = new World({ fleets: { main: { desired: 2 } } }, [instance('i-1', running), instance('i-2', running)]);
    w.records.set('i-1', record('i-1', 'running', T0 - HOUR));
    w.records.set('i-2', record('i-2', 'running', T0 - HOUR));
    return w;
  }

  it('given a target group reporting it unhealthy for 10 minutes, then it is drained; for 9 it is not', () => {
    const w = issueWorld();
    w.set('i-1', { targets: { [TG]: 'unhealthy' } });
    w.tick(); // first seen now
    w.run(9 * MIN);
    assert.equal(w.state('i-1'), 'running');
    const p = w.tick(MIN);
    assert.equal(w.state('i-1'), 'draining');
    assert.match(whyText(p), /unhealthy in target group tg-web for 10m/);
  });

  it('given an issue that clears within the grace, then its clock resets', () => {
    const w = issueWorld();
    w.set('i-1', { health: 'impaired' });
    w.run(8 * MIN);
    w.set('i-1', { health: 'ok' });
    w.tick(MIN);
    w.set('i-1', { health: 'impaired' });
    w.run(8 * MIN);
    assert.equal(w.state('i-1'), 'running');
  });

  it('given the provider reports impaired for 10 minutes, then it is drained and a replacement would be started', () => {
    const w = issueWorld();
    w.set('i-1', { health: 'impaired' });
    w.tick(); // first seen now
    w.run(10 * MIN);
    assert.equal(w.state('i-1'), 'draining');
    assert.equal(w.records.get('i-1')?.drainCause, 'issue');
  });
});

describe('§2 lifecycle: draining and the stop gates', () => {
  it('given a drain, then the instance is deregistered from every target group it is in', () => {
    const w = drainingWorld();
    w.set('i-2', { targets: { [TG]: 'healthy', 'tg-api': 'healthy' } });
    const p = w.tick();
    const dereg = p.commands.flatMap((c) => (c.kind === 'deregister' ? [`${c.targetGroup}:${c.instances.join(',')}`] : []));
    assert.deepEqual(dereg.sort(), ['tg-api:i-2', 'tg-web:i-2']);
    assert.deepEqual(w.records.get('i-2')?.deregisteredFrom, [TG, 'tg-api']);
  });

  it('given a drain, then no stop before 2 minutes, and a stop once deregistered and 2 minutes passed', () => {
    const w = drainingWorld();
    w.tick();
    assert.equal(w.state('i-2'), 'draining');
    w.tick(MIN);
    assert.equal(w.state('i-2'), 'draining');
    const p = w.tick(MIN);
    assert.equal(w.state('i-2'), 'stopping');
    assert.deepEqual(commanded(p, 'stop'), ['i-2']);
    w.tick(MIN);
    assert.equal(w.state('i-2'), 'stopped');
  });

  it('given a target group whose deregistration delay is longer than drainMinimum, then no stop before the delay, though the group let it go', () => {
    const w = drainingWorld();
    w.deregistrationDelays = new Map([[TG, 5 * MIN], ['tg-other', 10 * MIN]]);
    w.tick();
    assert.equal(w.state('i-2'), 'draining');
    w.tick(3 * MIN); // the world finished the deregistration after one tick; 3 minutes > drainMinimum
    assert.deepEqual(w.get('i-2').targets, {});
    assert.equal(w.state('i-2'), 'draining');
    w.tick(2 * MIN);
    assert.equal(w.state('i-2'), 'stopping', 'stopped once the delay of the group it left has passed (not that of a group it was never in)');
  });

  it('given deregistration still in progress, then no stop', () => {
    const w = drainingWorld();
    w.tick();
    w.run(5 * MIN);
    // The world finished deregistration; put the target back in 'draining' (a long deregistration delay).
    const w2 = drainingWorld();
    w2.tick();
    w2.tick(MIN);
    w2.set('i-2', { targets: { [TG]: 'draining' } });
    w2.tick(5 * MIN);
    assert.equal(w2.state('i-2'), 'draining');
    assert.equal(w.state('i-2'), 'stopped');
  });

  it('given the shutdown probe on and succeeding, then it is stopped normally', () => {
    const w = drainingWorld({ events: { 'instance-ready-for-shutdown': { enabled: true } } });
    const plans = w.run(4 * MIN);
    assert.ok(events(plans, 'instance-ready-for-shutdown').includes('i-2'));
    assert.equal(w.state('i-2'), 'stopped');
    assert.deepEqual(commanded(plans, 'stop', (c) => c.kind === 'stop' && !c.force), ['i-2']);
  });

  it('given the shutdown probe failing, then it waits up to 1 h and then forces the stop, recorded as forced', () => {
    const w = drainingWorld({ events: { 'instance-ready-for-shutdown': { enabled: true, timeLimit: '2h' } } });
    w.onEvent = () => false;
    w.run(59 * MIN);
    assert.equal(w.state('i-2'), 'draining');
    const plans = w.run(3 * MIN);
    assert.deepEqual(commanded(plans, 'stop', (c) => c.kind === 'stop' && c.force), ['i-2']);
    assert.match(whyText(plans), /forced stop: ready-for-shutdown probe did not succeed within 1h/);
    assert.match(whyText(plans), /stopped \(forced: shutdown probe never succeeded\)/);
  });

  it('given an instance marked unstoppable, then it is neither drained nor stopped until the control expires', () => {
    const w = drainingWorld();
    w.controls = [
      { instanceId: 'i-1', kind: 'unstoppable', until: T0 + 30 * MIN, reason: 'debugging' },
      { instanceId: 'i-2', kind: 'unstoppable', until: T0 + 30 * MIN, reason: 'debugging' },
    ];
    const p = w.tick();
    assert.equal(p.transitions.filter((t) => t.to === 'draining').length, 0);
    w.run(31 * MIN);
    assert.equal([w.state('i-1'), w.state('i-2')].filter((s) => s !== 'running').length, 1, 'after expiry one is drained');
  });

  it('given an instance marked unstartable, then it is never started', () => {
    const w = new World({ fleets: { main: { desired: 2 } } }, [instance('i-1'), instance('i-2')]);
    w.controls = [{ instanceId: 'i-1', kind: 'unstartable', until: T0 + HOUR, reason: 'broken disk' }];
    assert.deepEqual(commanded(w.tick(), 'start'), ['i-2']);
  });

  it('given the excluded tag or control, then the instance is never counted, started, drained or stopped', () => {
    const w = new World({ fleets: { main: { desired: '100%' } } }, [instance('i-1', { tags: { 'fleetwarden:excluded': 'true' } }), instance('i-2'), instance('i-3', running)]);
    w.controls = [{ instanceId: 'i-3', kind: 'excluded', until: T0 + HOUR, reason: 'hands off' }];
    const p = w.tick();
    assert.deepEqual(commanded(p, 'start'), ['i-2']);
    assert.equal(w.state('i-1'), 'excluded');
    assert.equal(w.state('i-3'), 'excluded');
    assert.match(whyText(p), /target 1 \(desired 100% of 1 = 1/);
  });

  it('given an instance still running 5 minutes after its stop, then the stop is sent again (and not on every tick)', () => {
    const w = new World({ fleets: { main: { desired: 0 } } }, [instance('i-1', running)]);
    w.records.set('i-1', record('i-1', 'stopping', T0));
    w.stuck.add('i-1');
    const plans = w.run(11 * MIN);
    const resent = plans.filter((p) => commanded(p, 'stop').includes('i-1')).map((p) => (p.now - T0) / MIN);
    assert.deepEqual(resent, [5, 10]);
    assert.match(whyText(plans), /i-1: still running 5m after its stop; stop sent again/);
  });

  it('given a crash between a start and its registration, then the instance is registered again once seen in service, and only then forgotten', () => {
    // The record still says stopped (the tick that started it was never saved) and lists the group it left.
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1', { ...running, targets: {} })]);
    w.records.set('i-1', record('i-1', 'stopped', T0 - HOUR, { deregisteredFrom: [TG] }));
    const first = w.tick();
    assert.equal(w.state('i-1'), 'initializing');
    assert.deepEqual(first.commands.flatMap((c) => (c.kind === 'register' ? [`${c.targetGroup}:${c.instances.join(',')}`] : [])), [`${TG}:i-1`]);
    const second = w.tick(MIN);
    assert.equal(w.records.get('i-1')?.deregisteredFrom, undefined, 'forgotten once observed registered');
    assert.deepEqual(commanded(second, 'register'), [], 'and not registered twice');
  });

  it('given a drain while an earlier registration is still pending, then that target group is not forgotten', () => {
    const w = new World({ fleets: { main: { desired: 0 } } }, [instance('i-1', { ...running, targets: { 'tg-api': 'healthy' } })]);
    w.records.set('i-1', record('i-1', 'running', T0 - HOUR, { deregisteredFrom: [TG] }));
    const p = w.tick();
    assert.equal(w.state('i-1'), 'draining');
    assert.deepEqual(commanded(p, 'register'), [], 'a draining instance is not put back in a target group');
    assert.deepEqual([...(w.records.get('i-1')?.deregisteredFrom ?? [])].sort(), ['tg-api', TG].sort());
  });

  it('records every transition with its reason', () => {
    const w = drainingWorld();
    const plans = w.run(4 * MIN);
    const trail = plans.flatMap((p) => p.transitions.filter((t) => t.instanceId === 'i-2').map((t) => `${t.from}→${t.to}`));
    assert.deepEqual(trail, ['running→draining', 'draining→stopping', 'stopping→stopped']);
    assert.ok(plans.flatMap((p) => p.transitions).every((t) => t.reason.length > 5));
  });

  it('given an instance stopped or started outside Fleetwarden, then its record follows what is observed', () => {
    const w = drainingWorld();
    w.set('i-1', { power: 'stopped', targets: { [TG]: 'unused' } });
    w.records.set('i-3', record('i-3', 'stopped', T0));
    w.instances.set('i-3', instance('i-3', running));
    w.tick();
    assert.equal(w.state('i-1'), 'stopped');
    assert.equal(w.state('i-3'), 'initializing');
  });
});
