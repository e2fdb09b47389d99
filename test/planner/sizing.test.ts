/** Counts and sizing: docs/lifecycle.md, docs/configuration.md#settings (§1 in test names: docs/background.md). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commanded, instance, instances, MIN, record, T0, whyText, World } from './fixtures.js';

const running = { power: 'running' as const };

/** A world whose instances are all running and already past initializing. */
function runningWorld(group: Record<string, unknown>, list: ReturnType<typeof instances>): World {
  const w = new World(group, list);
  for (const i of list) if (i.power === 'running') w.records.set(i.id, record(i.id, 'running', T0 - 60 * MIN));
  return w;
}

describe('§1 sizing: counts', () => {
  it('given desired 50% of 5 stopped instances, when a tick runs, then ceil(2.5) = 3 are started', () => {
    const w = new World({ fleets: { main: { desired: '50%' } } }, instances(5));
    assert.equal(commanded(w.tick(), 'start').length, 3);
  });

  it('given desired written 50p (tag style), then it means 50%', () => {
    const w = new World({ fleets: { main: { desired: '50p' } } }, instances(4));
    assert.equal(commanded(w.tick(), 'start').length, 2);
  });

  it('given desired unset, when instances are stopped, then the fleet is not sized (nothing started)', () => {
    const w = new World({ fleets: { main: { min: 2 } } }, instances(4));
    const p = w.tick();
    assert.deepEqual(commanded(p, 'start'), []);
    assert.match(whyText(p), /main fleet: desired unset: not sized/);
  });

  it('given min 3 and desired 1, then the target is max(desired, min) = 3', () => {
    const w = new World({ fleets: { main: { min: 3, desired: 1 } } }, instances(5));
    assert.equal(commanded(w.tick(), 'start').length, 3);
  });

  it('given desired above the fleet size, then every instance is started and no more', () => {
    const w = new World({ fleets: { main: { desired: 9 } } }, instances(4));
    assert.equal(commanded(w.tick(), 'start').length, 4);
  });
});

describe('§1 sizing: subfleets', () => {
  const fleet = [...instances(2, { subfleet: 'batch' }, 'b'), ...instances(2, { subfleet: 'idle' }, 'u')];

  it('given a subfleet in state running with desired left at its default, then all of it is started (100%)', () => {
    const w = new World({ fleets: { subfleets: { batch: { state: 'running' } } } }, fleet);
    assert.deepEqual(commanded(w.tick(), 'start').sort(), ['i-b1', 'i-b2']);
  });

  it('given a subfleet without a state, then it is hands off (undefined)', () => {
    const w = new World({ fleets: { subfleets: { batch: { state: 'running' } } } }, fleet);
    const p = w.tick();
    assert.ok(!commanded(p, 'start').some((id) => id.startsWith('i-u')));
    assert.match(whyText(p), /subfleet idle: state undefined: hands off/);
  });

  it('given a running subfleet set to stopped, then its running instances are drained', () => {
    const w = runningWorld({ fleets: { subfleets: { batch: { state: 'stopped' } } } }, instances(2, { ...running, subfleet: 'batch' }, 'b'));
    const p = w.tick();
    assert.deepEqual(p.transitions.map((t) => `${t.instanceId}:${t.to}`).sort(), ['i-b1:draining', 'i-b2:draining']);
    assert.equal(w.records.get('i-b1')?.drainCause, 'subfleet-stopped');
  });

  it('given a running subfleet with min 1 and desired 1 of 3, then one runs', () => {
    const w = new World({ fleets: { subfleets: { batch: { state: 'running', min: 1, desired: 1 } } } }, instances(3, { subfleet: 'batch' }));
    assert.equal(commanded(w.tick(), 'start').length, 1);
  });
});

describe('§1 sizing: LightHouse', () => {
  const lh = instances(2, { lighthouse: true }, 'lh');
  const normal = instances(4, {}, 'n');

  for (const [desired, lhWanted] of [
    [2, 2],
    [3, 1],
    [4, 0],
    [5, 1], // only 4 others exist: a LightHouse instance fills the fifth place
  ] as const) {
    it(`given min 2, desired ${desired} and 4 non-LightHouse instances, then ${lhWanted} LightHouse instance(s) run and ${desired - lhWanted} others`, () => {
      const w = new World({ fleets: { main: { min: 2, desired } } }, [...lh, ...normal]);
      const started = commanded(w.tick(), 'start');
      assert.equal(started.filter((id) => id.startsWith('i-lh')).length, lhWanted);
      assert.equal(started.filter((id) => id.startsWith('i-n')).length, desired - lhWanted);
    });
  }

  it('given LightHouse selected by instance-type pattern, then those count as LightHouse', () => {
    const w = new World({ fleets: { main: { min: 2, desired: 2 }, lighthouse: { tagged: false, instanceTypes: ['t3.n*'] } } }, [...instances(2, { type: 't3.nano' }, 'lh'), ...normal]);
    assert.deepEqual(commanded(w.tick(), 'start').sort(), ['i-lh1', 'i-lh2']);
  });

  it('given desired 100%, then every instance starts, LightHouse ones too', () => {
    const w = new World({ fleets: { main: { min: 2, desired: '100%' } } }, [...lh, ...normal]);
    assert.equal(commanded(w.tick(), 'start').length, 6);
  });

  it('given not enough LightHouse instances, then normal ones fill the target', () => {
    const w = new World({ fleets: { main: { min: 2, desired: 2 } } }, [instance('i-lh1', { lighthouse: true }), ...normal]);
    assert.equal(commanded(w.tick(), 'start').length, 2);
  });
});

describe('§1 sizing: caps, batching, zones, back-off', () => {
  it('given 15 instances to start, then at most 10 start per tick and the rest next tick', () => {
    const w = new World({ fleets: { main: { desired: 15 } } }, instances(15));
    const first = w.tick();
    assert.equal(commanded(first, 'start').length, 10);
    assert.match(whyText(first), /starts-per-tick cap 10 reached/);
    assert.equal(commanded(w.tick(MIN), 'start').length, 5);
  });

  it('given 8 instances above target, then at most 5 are drained per tick', () => {
    const w = runningWorld({ fleets: { main: { desired: 2 } } }, instances(10, running));
    assert.equal(w.tick().transitions.filter((t) => t.to === 'draining').length, 5);
    assert.equal(w.tick(MIN).transitions.filter((t) => t.to === 'draining').length, 3);
  });

  it('given 60 starts allowed per tick, then they go out in provider calls of at most 25', () => {
    const w = new World({ fleets: { main: { desired: 60 } }, caps: { startsPerTick: 60 } }, instances(60));
    const calls = w.tick().commands.filter((c) => c.kind === 'start').map((c) => c.instances.length);
    assert.deepEqual(calls, [25, 25, 10]);
  });

  it('given instances in three zones, then starts are spread across zones first', () => {
    const list = [...instances(3, { zone: 'z-a' }, 'a'), ...instances(3, { zone: 'z-b' }, 'b'), ...instances(3, { zone: 'z-c' }, 'c')];
    const w = new World({ fleets: { main: { desired: 3 } } }, list);
    const zones = commanded(w.tick(), 'start').map((id) => w.get(id).zone).sort();
    assert.deepEqual(zones, ['z-a', 'z-b', 'z-c']);
  });

  it('given a start that fails, then the instance is not retried for 5 minutes, and is after (the seed declared this TTL and never applied it)', () => {
    const w = new World({ fleets: { main: { desired: 1 } } }, [instance('i-1')]);
    w.failStart.add('i-1');
    assert.deepEqual(commanded(w.tick(), 'start'), ['i-1']);
    const during = w.run(4 * MIN);
    assert.deepEqual(commanded(during, 'start'), []);
    assert.match(whyText(during), /wants 1 more instance\(s\) than can start now \(0 unstartable, 1 in error back-off\)/);
    w.failStart.clear();
    assert.deepEqual(commanded(w.run(2 * MIN), 'start'), ['i-1']);
  });

  it('given scale-in while replacements are still initializing, then nothing is drained until they are ready (make before break)', () => {
    // min 2: target 2 wants 2 LightHouse and no normal instance; the 2 normal ones keep serving meanwhile.
    const list = [...instances(2, running, 'n'), ...instances(2, { lighthouse: true }, 'lh')];
    const w = runningWorld({ fleets: { main: { min: 2, desired: 2 } } }, list);
    const first = w.tick();
    assert.deepEqual(commanded(first, 'start').sort(), ['i-lh1', 'i-lh2']);
    assert.equal(first.transitions.filter((t) => t.to === 'draining').length, 0);
    assert.match(whyText(first), /waiting for replacements to be ready before draining/);
    const later = w.run(6 * MIN);
    assert.equal(w.state('i-lh1'), 'running');
    assert.deepEqual(later.flatMap((p) => p.transitions.filter((t) => t.to === 'draining').map((t) => t.instanceId)).sort(), ['i-n1', 'i-n2']);
  });
});

describe('provider calls: commands merged, then split by caps.perCall', () => {
  it('given 7 instances to start and perCall 3, then one start per 3 instances (3, 3, 1), each instance once', () => {
    const w = new World({ fleets: { main: { desired: 7 } }, caps: { startsPerTick: 10, perCall: 3 } }, instances(7));
    const starts = w.tick().commands.filter((c) => c.kind === 'start');
    assert.deepEqual(starts.map((c) => c.instances.length), [3, 3, 1]);
    assert.deepEqual(starts.flatMap((c) => c.instances).sort(), instances(7).map((i) => i.id).sort());
  });
});
